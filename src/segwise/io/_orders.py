"""Order lines, the first source kind: roles, parse rules and the transaction log.

An order line is one product on one order: who bought (customer), which order, when, how
many, at what price (or for what amount), and optionally what product, described how,
shipped where.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, cast

import ibis

from segwise._expr import MONEY_PLACES, MONEY_TYPE, exact_money, money_rounded, money_sum
from segwise._frames import DataSource
from segwise.exceptions import ConfigError
from segwise.io._kinds import Role, SourceKind, register_kind
from segwise.io._parse import (
    MAX_NUMBER,
    SOURCE_PREFIX,
    as_float,
    as_id,
    as_text,
    begins_with_digit,
    has_id,
    id_checks,
    id_passes,
    is_spark,
    number_checks,
    parse_timestamp,
    timestamp_checks,
    with_reason,
)
from segwise.io._readers import ReadOptions, Source, group_copies, load_source, rows_that_parse

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from segwise.io._readers import _Parser
    from segwise.io._roles import ColumnRoles

__all__ = ["ORDERS", "STANDARD_COLUMNS", "IdTest", "Transactions", "load_transactions",
           "refuse_read_options"]

#: A test of an order line's id or code: ``test(text, digit)`` of the parsed text and
#: whether the source value begins with a digit 0-9, which the parse keeps (None where
#: that is not known: the caller tests the text). See :meth:`Transactions.tested_lines`.
IdTest = Callable[["ir.StringValue", "ir.BooleanValue | None"], "ir.BooleanValue"]

#: Columns of the typed transaction table every later step works on.
STANDARD_COLUMNS: dict[str, str] = {
    "customer_id": "string",
    "order_id": "string",
    "ts": "timestamp",
    "quantity": "float64",
    "unit_price": "float64",
    "revenue": "float64",
    "product_id": "string",
    "description": "string",
    "country": "string",
}


def parse_order_lines(raw: ir.Table, roles: ColumnRoles, read: ReadOptions, path: Path) -> ir.Table:
    """Typed standard columns plus ``_reason``: why the row cannot be used, else NULL.

    ``raw`` holds the source columns with the ``_src_`` prefix; its other columns are
    passed through.
    """
    spark = is_spark(raw._find_backend())
    r = {role: SOURCE_PREFIX + col for role, col in roles.items()}
    name = dict(roles.items())
    ts = parse_timestamp(raw[r["timestamp"]], read, path, spark)
    checks = [
        *id_checks(raw[r["customer_id"]], name["customer_id"]),
        *(id_checks(raw[r["order_id"]], name["order_id"]) if "order_id" in r else []),
        *timestamp_checks(raw[r["timestamp"]], ts, name["timestamp"]),
    ]
    quantity = as_float(raw[r["quantity"]]) if "quantity" in r else ibis.literal(1.0)
    if "quantity" in r:
        checks += number_checks(raw[r["quantity"]], name["quantity"], "quantity")
    if "amount" in r:
        revenue = as_float(raw[r["amount"]])
        unit_price = ibis.ifelse(quantity == 0, revenue, revenue / quantity.abs())
        checks += number_checks(raw[r["amount"]], name["amount"], "amount")
    else:
        unit_price = as_float(raw[r["unit_price"]])
        revenue = quantity * unit_price
        checks += number_checks(raw[r["unit_price"]], name["unit_price"], "price")
        if "quantity" in r:
            # Each factor is within bounds; their product need not be.
            checks.append((revenue.abs() > MAX_NUMBER,
                           f"{name['quantity']} x {name['unit_price']}: line total beyond "
                           "±1e13, the largest number segwise accepts"))
    customer = _TEXT_PARSE["customer_id"](raw[r["customer_id"]])
    order = _TEXT_PARSE["order_id"](raw[r["order_id"]]) if "order_id" in r else None
    if order is None:
        # Purchase-occasion convention: one order per customer and timestamp.
        order = customer.concat("@", ts.cast("string"))
    # Rows whose values all parse pass this first, so most are not put through every check:
    # a number that parses is no check's (as_float is NULL where one holds), nor is a time,
    # nor an id id_passes passes (a third of the loader's scan of every row at 30 M lines).
    passes = [id_passes(raw[r[role]]) for role in ("customer_id", "order_id") if role in r]
    passes += [ts.notnull(), quantity.notnull(), revenue.notnull()]
    if "amount" not in r:
        passes += [unit_price.notnull(), revenue.abs() <= MAX_NUMBER]
    reason = ibis.cases((functools.reduce(operator.and_, passes), ibis.null("string")),
                        *checks, else_=ibis.null("string"))
    optional = {
        name: _TEXT_PARSE[name](raw[r[name]]) if name in r else ibis.null("string")
        for name in ("product_id", "description", "country")
    }
    return with_reason(raw, {
        "customer_id": customer,
        "order_id": order,
        "ts": ts,
        "quantity": quantity,
        "unit_price": unit_price,
        "revenue": revenue,
        **optional,
    }, reason)


def _totals(parsed: ir.Table, roles: ColumnRoles) -> dict[str, ir.Scalar]:
    """Return what the loader's scan counts of the order lines that parse.

    Rows and revenue of the lines without a customer id: the first cleaning rule removes
    them, and the audit counts them as rows (no deduplication), so this is all that is
    needed of them. And ``money_rounded``: lines whose total exact money rounds by more
    than a billionth of itself (see :func:`segwise._expr.money_rounded`).
    """
    source_id = SOURCE_PREFIX + roles["customer_id"]
    # Tested on the source column where the rows still have it (typed sources, parsed in
    # this scan): converting every id to text only to test it costs more than the scan.
    absent = (~has_id(parsed[source_id]) if source_id in parsed.columns
              else parsed.customer_id.isnull())
    missing = parsed._reason.isnull() & absent
    # In a CASE, not a FILTER: only the lines without an id then pay for exact money
    # (a FILTER's sum is computed on every line first; 0.4 s of CPU at 30 M lines).
    money = ibis.cases((missing, exact_money(parsed.revenue)), else_=ibis.null(MONEY_TYPE))
    return {
        "unattributed_rows": parsed.count(where=missing),
        "unattributed_revenue": money_sum(money).fill_null(0.0),
        "money_rounded": parsed.count(
            where=parsed._reason.isnull() & money_rounded(parsed.revenue)),
    }


def _price_or_amount(chosen: Mapping[str, str | None]) -> list[str]:
    """Either ``amount`` or ``quantity`` with ``unit_price`` must be found."""
    if chosen["amount"] is None and (chosen["quantity"] is None or chosen["unit_price"] is None):
        return ["unit_price" if chosen["quantity"] else "quantity and unit_price (or amount)"]
    return []


@dataclasses.dataclass(repr=False)  # Source's one line of counts
class Transactions(Source):
    """A loaded, typed transaction log: a :class:`~segwise.io.Source` of order lines.

    ``table`` has the columns of :data:`STANDARD_COLUMNS`.
    """

    def distinct_lines(self, *, attributed_only: bool = True) -> ir.Table:
        """Distinct lines of :attr:`table`, each with ``_n``: how many input rows it stands for.

        Lines are exact duplicates when they are identical in the source: every column
        that plays a role holds the same value (columns without a role are not read).
        For sources read as typed columns (Parquet) the source rows are grouped before
        they are parsed, and only the distinct rows are parsed: typed source columns make
        smaller grouping keys than parsed text, and the engine can drop rows without a
        customer id while it reads the file. Text sources (CSV, JSON, Excel, SQLite),
        parsed once on loading, are grouped on their parsed columns.

        Parameters
        ----------
        attributed_only : bool, default=True
            Keep only lines with a customer id.

        Returns
        -------
        ibis.Table
            The columns of :data:`STANDARD_COLUMNS` and ``_n`` (int64); ``_n`` sums to the
            number of parsed rows (with a customer id if ``attributed_only``).
        """
        with_id = True if attributed_only else None
        if self.parser is None:
            return group_copies(self._usable(with_id), list(_COPY_KEYS), read_again=True,
                                telling=_TELLING_ROLES)
        # Copies of a row parse alike, so rows are parsed once, after grouping: a group of
        # rows that do not parse (quarantined, or after the as-of date) is dropped whole.
        keys = [SOURCE_PREFIX + col for role, col in self.roles.items() if role in _COPY_KEYS]
        distinct = self._parsed(group_copies(self._source_rows(with_id),
                                             list(dict.fromkeys(keys)), read_again=True,
                                             telling=self._telling()))
        return distinct.select(*STANDARD_COLUMNS, "_n")

    def order_pieces(
        self, flag: Callable[[ir.Table], ir.Table], sums: Callable[[ir.Table], dict[str, ir.Value]],
        product_test: IdTest | None = None,
    ) -> ir.Table | None:
        """Distinct lines with a customer id, summed per source customer, source order and flags.

        For sources read as typed columns with an order id: the copies of each row are
        grouped and the distinct lines parsed as in :meth:`distinct_lines`, but their ids
        are left as the source holds them. ``flag`` adds ``_reason`` and ``is_return`` to
        those lines from what each line holds alone (no ``customer_id`` or ``order_id``);
        they are then grouped per source customer id, source order id, ``_reason`` and
        ``is_return`` with the aggregates ``sums`` returns, and only then are the ids
        parsed: once per piece, not once per line (at 30 M generated lines, 1.5 M
        pieces against 22.4 M distinct lines). Ids that parse alike (``" 536365"``,
        ``536365``) stay in different pieces, which their sums let a caller merge.

        Parameters
        ----------
        flag : callable
            Adds ``_reason`` and ``is_return`` to lines of :data:`STANDARD_COLUMNS` (without
            usable ``customer_id`` and ``order_id``) and ``_n``.
        sums : callable
            The aggregates of a piece, from the flagged lines.
        product_test : IdTest, optional
            A test of the product id (see :meth:`tested_lines`). When given (and the
            source has one), the lines carry its answer as ``is_product`` instead of
            ``product_id``: it is taken of each source row's product id before copies are
            grouped (copies hold the same id), so the grouping keeps a flag of each line
            rather than its id, and the id is neither parsed nor tested again per
            distinct line.

        Returns
        -------
        ibis.Table or None
            ``customer_id``, ``order_id``, ``_reason``, ``is_return`` and the ``sums``;
            None for text sources and sources without an order id.
        """
        if self.parser is None or "order_id" not in self.roles:
            return None
        ids = {role: SOURCE_PREFIX + self.roles[role] for role in _COPY_KEYS}
        keys = list(dict.fromkeys(ids.values()))
        parser = cast("_Parser", self.parser)
        tested: dict[str, Callable[[ir.Table], ir.Value]] = {}
        if product_test is not None and "product_id" in self.roles:
            tested["is_product"] = lambda rows: self._source_test(rows, "product_id",
                                                                  product_test)
        rows = self._source_rows(True)
        distinct = self._parsed(group_copies(rows, keys, tested, read_again=True,
                                             telling=self._telling()))
        left_out = {*ids, *(["product_id"] if tested else [])}
        lines = flag(distinct.select(*(c for c in STANDARD_COLUMNS if c not in left_out),
                                     "_n", *keys, *tested))
        pieces = lines.group_by([*keys, "_reason", "is_return"]).aggregate(**sums(lines))
        # Ids read in the file's notation, as the parse reads them: expressions of the
        # pieces themselves (the pieces with localised columns are another relation).
        return pieces.mutate(**{role: as_id(parser.localised_value(pieces[col]))
                                for role, col in ids.items()}).drop(*keys)

    def tested_lines(self, tests: Mapping[str, tuple[str, IdTest]], *,
                     with_id: bool | None = True) -> ir.Table:
        """Lines of :attr:`table` with the answers of tests of their ids, copies not merged.

        For sources read as typed columns, each test is taken of the source rows, in one
        expression with the parse of the id it tests, and told whether the source value
        begins with a digit: a test that answers such ids alike (no product code or
        cancellation prefix begins with one) spares most lines the parse of their ids,
        which a table of parsed lines computes for every line first (at 30 M lines, half
        the time of the outlier statistics' scan).

        Parameters
        ----------
        tests : mapping of str to (str, IdTest)
            For each column to add: the role of the text tested (``customer_id``,
            ``order_id``, ``product_id``, ``description`` or ``country``) and the test.
        with_id : bool or None, default=True
            Lines with a customer id, lines without one, or all lines (None).

        Returns
        -------
        ibis.Table
            The columns of :data:`STANDARD_COLUMNS` and one per test.
        """
        if unknown := sorted({role for role, _ in tests.values()} - set(_TEXT_PARSE)):
            raise ValueError(f"no text to test for role(s) {unknown}: use one of "
                             f"{sorted(_TEXT_PARSE)}")
        if self.parser is None:
            t = self._usable(with_id)
            return t.mutate(**{name: test(t[role], None) for name, (role, test) in tests.items()})
        rows = self._source_rows(with_id)
        at_source = {name: self._source_test(rows, role, test)
                     for name, (role, test) in tests.items() if role in self.roles}
        parsed = self._parsed(rows.mutate(**at_source)).select(*STANDARD_COLUMNS, *at_source)
        # A role without a column (an order id made of customer and time): the parsed text.
        return parsed.mutate(**{name: test(parsed[role], None)
                                for name, (role, test) in tests.items() if name not in at_source})

    def _source_test(self, rows: ir.Table, role: str, test: IdTest) -> ir.BooleanValue:
        """``test`` of the text of ``role`` taken of typed source rows (:meth:`tested_lines`).

        A source value that begins with a digit keeps it through the parse: trimming
        removes blanks only, and a float id's ``.0`` goes from its end.
        """
        parser = cast("_Parser", self.parser)
        value = parser.localised_value(rows[SOURCE_PREFIX + self.roles[role]])
        digit = begins_with_digit(value) if value.type().is_string() else None
        return test(_TEXT_PARSE[role](value), digit)

    def _telling(self) -> list[str]:
        """Return the source columns of :data:`_TELLING_ROLES` (see :func:`group_copies`)."""
        return [SOURCE_PREFIX + col for role, col in self.roles.items()
                if role in _TELLING_ROLES]

    def attributed_lines(self) -> ir.Table:
        """Lines of :attr:`table` with a customer id, copies not merged.

        Returns
        -------
        ibis.Table
            The columns of :data:`STANDARD_COLUMNS`.
        """
        return self._usable(with_id=True)

    def unattributed_lines(self) -> ir.Table:
        """Lines of :attr:`table` without a customer id, copies not merged.

        Returns
        -------
        ibis.Table
            The columns of :data:`STANDARD_COLUMNS`.
        """
        return self._usable(with_id=False)

    def money_warning(self) -> str | None:
        """Say how many line totals exact money rounds (finer than twelve places), if any.

        Returns
        -------
        str or None
            One line naming the source and its money column(s); None when none is rounded
            or the loader did not read the log.
        """
        n = int(self.totals.get("money_rounded") or 0)
        if not n:
            return None
        r = self.roles
        column = r.amount or (f"{r.quantity} x {r.unit_price}" if r.quantity else r.unit_price)
        return (f"{self.source}: {n:,} line total(s) ({column}) need more than "
                f"{MONEY_PLACES[1]} decimal places to be held to a billionth of their value; "
                f"money keeps {MONEY_PLACES[1]}, so each of those is rounded by up to "
                f"{0.5 * 10.0 ** -MONEY_PLACES[1]:g}")

    def unattributed_totals(self) -> tuple[int, float] | None:
        """Rows and revenue of :meth:`unattributed_lines`, as the loader counted them.

        Returns
        -------
        tuple of (int, float) or None
            None for a log the loader did not read (built from a table by hand).
        """
        if not self.totals:
            return None
        return int(self.totals["unattributed_rows"]), float(self.totals["unattributed_revenue"])

    def _usable(self, with_id: bool | None) -> ir.Table:
        """Return the standard columns of rows that parse: with a customer id, without, or all.

        Typed sources are parsed here, once, from source rows whose id is tested first.
        """
        if self.parser is None:
            t = self.table
            if with_id is not None:
                t = t.filter(t.customer_id.notnull() if with_id else t.customer_id.isnull())
            return t.select(*STANDARD_COLUMNS)
        return self._parsed(self._source_rows(with_id)).select(*STANDARD_COLUMNS)

    def _parsed(self, rows: ir.Table) -> ir.Table:
        """Parse typed source rows and keep those that parse and are not after the as-of date."""
        assert self.parser is not None  # noqa: S101 - callers check it
        return rows_that_parse(self.parser(rows), self.n_quarantined, self.n_after_as_of)

    def _source_rows(self, with_id: bool | None) -> ir.Table:
        """Return source rows (prefixed source columns) with a customer id, without, or all.

        Unparsed: the id is tested on the source column, which engines can do while
        reading the file. Only for typed sources (:attr:`source_rows` set).
        """
        src = self.source_rows
        assert src is not None  # noqa: S101 - callers check the parser, set with it
        if with_id is None:
            return src
        present = has_id(src[SOURCE_PREFIX + self.roles["customer_id"]])
        return src.filter(present if with_id else ~present)


#: Order lines. Without ``order_id`` every (customer, timestamp) pair counts as one order,
#: the purchase-occasion convention of CDNOW.
ORDERS = register_kind(SourceKind(
    name="orders",
    rows="order lines",
    roles=(
        Role("customer_id", (
            "customerid", "customer", "custid", "customerno", "customernumber", "clientid",
            "client", "userid", "memberid", "accountid", "buyerid", "shopperid",
        ), required=True, description="who bought"),
        Role("timestamp", (
            "invoicedate", "orderdate", "timestamp", "datetime", "transactiondate",
            "purchasedate", "date", "eventtime", "ordertime", "time", "ts", "createdat",
        ), required=True, description="when the order was placed"),
        Role("order_id", (
            "invoiceno", "invoice", "invoiceid", "invoicenumber", "orderid", "order", "orderno",
            "ordernumber", "transactionid", "transaction", "basketid", "receiptid", "receiptno",
        ), description="the order (invoice) the line belongs to"),
        Role("quantity", (
            "quantity", "qty", "units", "numberofunits", "numberofitems", "itemcount",
        ), description="units bought; negative for returns"),
        Role("unit_price", ("unitprice", "price", "priceeach", "itemprice", "unitcost"),
             description="price of one unit"),
        Role("amount", (
            "amount", "revenue", "sales", "linetotal", "total", "totalamount", "netamount",
            "value", "spend", "dollarvalue", "ordervalue",
        ), description="line total, instead of a unit price"),
        Role("product_id", (
            "stockcode", "sku", "productid", "productcode", "itemid", "articleid", "product",
        ), description="product code"),
        Role("description", ("description", "productname", "itemname", "productdescription"),
             description="product description"),
        Role("country", ("country", "countrycode", "countryname"),
             description="customer's country"),
    ),
    columns=STANDARD_COLUMNS,
    parse=parse_order_lines,
    check=_price_or_amount,
    source_class=Transactions,
    time_column="ts",
    totals=_totals,
))


#: How the parse reads each role that it reads as text: ids, and codes and names.
_TEXT_PARSE: dict[str, Callable[[ir.Value], ir.StringValue]] = {
    "customer_id": as_id, "order_id": as_id,
    "product_id": as_text, "description": as_text, "country": as_text,
}
#: Roles whose columns group copies exactly; the other columns are compared by hash.
_COPY_KEYS = ("customer_id", "order_id")
#: The roles that tell most lines of an order apart: the first phase of finding copies reads
#: only them (:func:`segwise.io.group_copies`), not descriptions (a product's own) or country.
_TELLING_ROLES = ("timestamp", "quantity", "unit_price", "amount", "product_id")


def load_transactions(
    source: DataSource,
    *,
    columns: Mapping[str, str] | None = None,
    read: ReadOptions | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    memory_limit: str | None = None,
) -> Transactions:
    """Load a transaction log into a typed table, quarantining rows that do not parse.

    :func:`segwise.io.load_source` for order lines; see it for the parameters.

    Returns
    -------
    Transactions
        The typed table, the quarantined rows and the input count.

    Raises
    ------
    InputError
        If the file is missing, empty, unreadable, lacks a required column, or has too
        many rows that do not parse.
    """
    loaded = load_source(
        source, ORDERS, columns=columns, read=read, engine=engine, spark_master=spark_master,
        memory_limit=memory_limit,
    )
    return cast(Transactions, loaded)


def refuse_read_options(loaded: object, columns: Mapping[str, str] | None,
                        read: ReadOptions | None) -> None:
    """Refuse ``columns=`` or ``read=`` given with order lines already loaded.

    They say how raw lines are read, and these have been: a function that takes either
    calls this on the loaded ones.

    Raises
    ------
    ConfigError
        If ``columns`` or ``read`` is given.
    """
    given = "columns=" if columns else "read=" if read is not None else None
    if given:
        raise ConfigError(
            f"{given} says how raw order lines are read, but these are already loaded "
            f"({type(loaded).__name__}). Fix: pass the raw table with {given}, or the "
            "loaded lines without it")
