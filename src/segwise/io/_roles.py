"""Column roles: which source column plays which part in a transaction log."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from segwise.exceptions import ConfigError, InputError

__all__ = ["ROLE_ALIASES", "ColumnRoles", "resolve_roles"]

# Names are compared after lower-casing and dropping everything but letters and digits,
# so "Customer ID", "customer_id" and "CustomerID" are one name.
ROLE_ALIASES: dict[str, tuple[str, ...]] = {
    "customer_id": (
        "customerid", "customer", "custid", "customerno", "customernumber", "clientid",
        "client", "userid", "memberid", "accountid", "buyerid", "shopperid",
    ),
    "order_id": (
        "invoiceno", "invoice", "invoiceid", "invoicenumber", "orderid", "order", "orderno",
        "ordernumber", "transactionid", "transaction", "basketid", "receiptid", "receiptno",
    ),
    "timestamp": (
        "invoicedate", "orderdate", "timestamp", "datetime", "transactiondate",
        "purchasedate", "date", "eventtime", "ordertime", "time",
    ),
    "quantity": ("quantity", "qty", "units", "numberofunits", "numberofitems", "itemcount"),
    "unit_price": ("unitprice", "price", "priceeach", "itemprice", "unitcost"),
    "amount": (
        "amount", "revenue", "sales", "linetotal", "total", "totalamount", "netamount",
        "value", "spend", "dollarvalue", "ordervalue",
    ),
    "product_id": (
        "stockcode", "sku", "productid", "productcode", "itemid", "articleid", "product",
    ),
    "description": ("description", "productname", "itemname", "productdescription"),
    "country": ("country", "countrycode", "countryname"),
}


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


@dataclass(frozen=True)
class ColumnRoles:
    """Source column name for each role; ``None`` where the source has no such column.

    Either ``quantity`` with ``unit_price``, or ``amount`` (a line total, optionally with
    ``quantity``), must be present. Without ``order_id`` every (customer, timestamp)
    pair counts as one order, which is the purchase-occasion convention of CDNOW.
    """

    customer_id: str
    timestamp: str
    order_id: str | None = None
    quantity: str | None = None
    unit_price: str | None = None
    amount: str | None = None
    product_id: str | None = None
    description: str | None = None
    country: str | None = None

    def items(self) -> list[tuple[str, str]]:
        """Return ``(role, source column)`` pairs for the roles present."""
        return [(f.name, getattr(self, f.name)) for f in fields(self) if getattr(self, f.name)]


ROLES: tuple[str, ...] = tuple(f.name for f in fields(ColumnRoles))


def resolve_roles(
    columns: Iterable[str],
    overrides: Mapping[str, str] | None = None,
    *,
    source: str | Path = "input",
) -> ColumnRoles:
    """Map source columns to roles, from explicit overrides or from common names.

    Parameters
    ----------
    columns : iterable of str
        Column names found in the source.
    overrides : mapping of role to column name, optional
        Explicit choices, e.g. from the ``[columns]`` table of a config file.
    source : str or Path, default="input"
        Name of the source, used in error messages.

    Returns
    -------
    ColumnRoles
        The resolved roles.

    Raises
    ------
    ConfigError
        If an override names an unknown role or a column the source lacks.
    InputError
        If a required role cannot be found.
    """
    cols = list(columns)
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(ROLES))
    if unknown:
        raise ConfigError(
            f"unknown column role(s) {', '.join(unknown)} in [columns]; "
            f"valid roles are {', '.join(ROLES)}"
        )
    for role, col in overrides.items():
        if col not in cols:
            raise ConfigError(
                f"{source}: [columns] maps {role} to {col!r}, but the file has no such column "
                f"(columns found: {', '.join(cols)})"
            )
    by_norm: dict[str, str] = {}
    for col in cols:
        by_norm.setdefault(_norm(col), col)
    taken = set(overrides.values())
    chosen: dict[str, str | None] = {}
    for role in ROLES:
        if role in overrides:
            chosen[role] = overrides[role]
            continue
        chosen[role] = None
        for alias in ROLE_ALIASES[role]:
            found = by_norm.get(alias)
            if found is not None and found not in taken:
                chosen[role] = found
                taken.add(found)
                break
    missing = [r for r in ("customer_id", "timestamp") if chosen[r] is None]
    if chosen["amount"] is None and (chosen["quantity"] is None or chosen["unit_price"] is None):
        missing.append(
            "unit_price" if chosen["quantity"] else "quantity and unit_price (or amount)"
        )
    if missing:
        hint = " ".join(f'{r.split(" ")[0]} = "..."' for r in missing)
        raise InputError(
            f"{source}: required column for {', '.join(missing)} not found "
            f"(columns found: {', '.join(cols) or 'none'}). "
            f"Fix: rename the column, or map it in a config file: [columns] {hint}"
        )
    return ColumnRoles(**{k: v for k, v in chosen.items() if v is not None})
