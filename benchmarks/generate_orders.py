"""Generate realistic synthetic order lines, at any scale, as a Parquet file written in chunks.

The columns and types follow UCI Online Retail (InvoiceNo, StockCode, Description, Quantity,
InvoiceDate, UnitPrice, CustomerID, Country), and so do its quirks, at similar rates:

* customers with heavy-tailed activity (lognormal order rates), who join and churn over the
  period, so recency and tenure vary;
* invoices of several lines; a catalogue with Zipf popularity and lognormal prices;
* seasonality: a November peak, busy weekdays and quiet weekends (no Saturdays, as in the
  UCI log), office-hour peaks;
* about 25 % of lines without a customer id (whole invoices, as in the UCI log);
* about 2 % cancellation lines: ``C``-prefixed invoices with negative quantities that
  reverse lines of an earlier purchase of the same customer;
* about 1 % exact duplicate lines, non-product codes (POST, DOT, M, ...), zero prices and,
  rarely, extreme quantities.

Everything is vectorised NumPy/Arrow and written chunk by chunk, so memory stays bounded
(the per-invoice plan needs ~40 bytes per invoice, i.e. ~200 MB for 100 million lines).

Usage::

    python benchmarks/generate_orders.py --lines 10_000_000 --out benchmarks/data/orders_10m.parquet
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

START = np.datetime64("2010-12-01T00:00", "m")
N_DAYS = 374  # 2010-12-01 .. 2011-12-09, the UCI span
MEAN_LINES_PER_INVOICE = 21.0  # UCI: 541,909 lines / 25,900 invoices
LINES_PER_CUSTOMER = 95.0  # UCI: 406,829 identified lines / 4,372 customers
MISSING_ID_SHARE = 0.25
CANCEL_SHARE = 0.02
DUPLICATE_SHARE = 0.01
NON_PRODUCT_SHARE = 0.005
ZERO_PRICE_SHARE = 0.004
EXTREME_SHARE = 1e-5  # UCI: ~10 lines above 3,000 units

SCHEMA = pa.schema(
    [
        ("InvoiceNo", pa.string()),
        ("StockCode", pa.string()),
        ("Description", pa.string()),
        ("Quantity", pa.int64()),
        ("InvoiceDate", pa.timestamp("us")),
        ("UnitPrice", pa.float64()),
        ("CustomerID", pa.float64()),
        ("Country", pa.string()),
    ]
)

COUNTRIES = np.array(
    ["United Kingdom", "Germany", "France", "EIRE", "Spain", "Netherlands", "Belgium",
     "Switzerland", "Portugal", "Australia", "Norway", "Italy", "Sweden", "Denmark"]
)
COUNTRY_P = np.array([0.905, 0.02, 0.018, 0.016, 0.006, 0.006, 0.005, 0.005, 0.004, 0.003,
                      0.003, 0.003, 0.002, 0.002])
NON_PRODUCT = np.array(["POST", "DOT", "M", "C2", "D", "S", "BANK CHARGES", "AMAZONFEE", "CRUK"])
NON_PRODUCT_DESC = np.array(["POSTAGE", "DOTCOM POSTAGE", "Manual", "CARRIAGE", "Discount",
                             "SAMPLES", "Bank Charges", "AMAZON FEE", "CRUK Commission"])
NON_PRODUCT_P = np.array([0.45, 0.25, 0.2, 0.04, 0.025, 0.02, 0.01, 0.003, 0.002])
# Month 1..12 weights (UCI lines per month, rounded) and weekday Mon..Sun weights.
MONTH_W = np.array([35, 28, 37, 30, 37, 37, 40, 35, 50, 61, 85, 68], dtype=float)
WEEKDAY_W = np.array([95, 102, 95, 104, 82, 0, 64], dtype=float)
HOUR_W = np.array([0, 0, 0, 0, 0, 0, 0.05, 0.4, 9, 34, 49, 58, 79, 72, 67, 78, 55, 29, 8, 4,
                   1, 0, 0, 0], dtype=float)
QTY_VALUES = np.array([1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 25, 36, 48, 72, 96, 144])
QTY_P = np.array([148, 82, 37, 38, 12, 41, 13, 22, 61, 4, 5, 24, 5, 3, 6, 2, 1.5, 1], dtype=float)
WORDS = np.array(["RED", "WHITE", "BLUE", "PINK", "VINTAGE", "HEART", "LANTERN", "BAG", "JAR",
                  "CAKE", "TIN", "GLASS", "CANDLE", "HOLDER", "SET", "CHRISTMAS", "RETRO",
                  "SPOT", "PAPER", "BOX", "MUG", "CARD", "WOODEN", "STAR", "BIRD", "LUNCH",
                  "DOORMAT", "CLOCK", "REGENCY", "TEACUP", "HANGING", "METAL", "SIGN"])


@dataclass
class Plan:
    """Invoices in time order: everything the chunks need, drawn once."""

    minute: np.ndarray  # minutes since START, int64
    customer: np.ndarray  # customer index, -1 for no id
    n_lines: np.ndarray  # purchase lines per invoice, int64
    country: np.ndarray  # country index per invoice


def _day_weights() -> np.ndarray:
    days = START.astype("datetime64[D]") + np.arange(N_DAYS)
    month = days.astype("datetime64[M]").astype(int) % 12  # 0 = January
    weekday = (days.astype(int) + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    w = MONTH_W[month] * WEEKDAY_W[weekday]
    # UCI-style gap over Christmas and New Year.
    md = (month + 1) * 100 + (days - days.astype("datetime64[M]")).astype(int) + 1
    w[(md >= 1223) | (md <= 103)] = 0
    return w / w.sum()


def make_plan(n_lines: int, rng: np.random.Generator) -> Plan:
    """Draw invoices (time, customer, size) until they hold ``n_lines`` purchase lines."""
    n_inv = max(1, int(n_lines / MEAN_LINES_PER_INVOICE * 1.05) + 16)
    # Lines per invoice: geometric (>= 1), mean ~21, a long right tail as in UCI.
    sizes = rng.geometric(1 / MEAN_LINES_PER_INVOICE, size=n_inv).astype(np.int64)
    total = np.cumsum(sizes)
    n_inv = int(np.searchsorted(total, n_lines) + 1)
    while n_inv > len(sizes):  # rare: top up
        extra = rng.geometric(1 / MEAN_LINES_PER_INVOICE, size=1024)
        sizes = np.concatenate([sizes, extra])
        total = np.cumsum(sizes)
        n_inv = int(np.searchsorted(total, n_lines) + 1)
    sizes = sizes[:n_inv].copy()
    sizes[-1] -= int(total[n_inv - 1] - n_lines)  # exactly n_lines

    day = rng.choice(N_DAYS, size=n_inv, p=_day_weights())
    hour = rng.choice(24, size=n_inv, p=HOUR_W / HOUR_W.sum())
    minute = (day * 1440 + hour * 60 + rng.integers(0, 60, size=n_inv)).astype(np.int64)

    n_cust = max(10, round(n_lines * (1 - MISSING_ID_SHARE) / LINES_PER_CUSTOMER))
    # Heavy tail: lognormal order rates (a few wholesalers order weekly, most once or twice).
    rate = rng.lognormal(0.0, 1.4, size=n_cust)
    p = rate / rate.sum()
    # Customers join over the period (a third are there from the start) and some churn.
    join = np.where(rng.random(n_cust) < 0.35, 0, rng.integers(0, N_DAYS * 1440, size=n_cust))
    life = rng.exponential(N_DAYS * 1440 * 0.9, size=n_cust)
    leave = np.minimum(join + life, N_DAYS * 1440).astype(np.int64)
    customer = rng.choice(n_cust, size=n_inv, p=p)
    always = (join == 0) & (rng.random(n_cust) < 0.5)
    always[0] = True
    leave[always] = N_DAYS * 1440
    for _ in range(6):  # re-draw customers who were not active at the invoice time
        bad = (join[customer] > minute) | (leave[customer] < minute)
        if not bad.any():
            break
        customer[bad] = rng.choice(n_cust, size=int(bad.sum()), p=p)
    # The few left get a customer who is active all along.
    bad = (join[customer] > minute) | (leave[customer] < minute)
    loyal = np.flatnonzero(always)
    customer[bad] = loyal[rng.choice(len(loyal), size=int(bad.sum()), p=p[loyal] / p[loyal].sum())]
    customer_country = rng.choice(len(COUNTRIES), size=n_cust, p=COUNTRY_P / COUNTRY_P.sum())
    country = customer_country[customer]
    anonymous = rng.random(n_inv) < MISSING_ID_SHARE
    customer[anonymous] = -1
    country[anonymous] = rng.choice(len(COUNTRIES), size=int(anonymous.sum()),
                                    p=COUNTRY_P / COUNTRY_P.sum())
    order = np.argsort(minute, kind="stable")  # invoice numbers increase with time
    return Plan(minute[order], customer[order], sizes[order], country[order])


@dataclass
class Catalogue:
    """Products: code, description, price and Zipf popularity."""

    code: pa.Array
    description: pa.Array
    price: np.ndarray
    cdf: np.ndarray


def make_catalogue(n_lines: int, rng: np.random.Generator) -> Catalogue:
    n = int(min(20_000, 4_000 + n_lines // 50_000))
    base = 10_000 + rng.choice(90_000, size=n, replace=False)
    suffix = rng.choice(np.array(["", "", "", "", "A", "B", "C", "D", "E", "F", "G"]), size=n)
    code = pa.array(np.char.add(base.astype(str), suffix))
    w = rng.integers(0, len(WORDS), size=(n, 3))
    desc = np.char.add(np.char.add(np.char.add(WORDS[w[:, 0]], " "), WORDS[w[:, 1]]),
                       np.char.add(" ", WORDS[w[:, 2]]))
    desc = np.char.add(desc, np.char.add(" ", np.arange(n).astype(str)))
    price = np.round(np.exp(rng.normal(0.75, 0.8, size=n)), 2).clip(0.06, 650.0)
    zipf = 1.0 / np.arange(1, n + 1) ** 0.5
    rng.shuffle(zipf)
    return Catalogue(code, pa.array(desc), price, np.cumsum(zipf / zipf.sum()))


def _invoice_strings(numbers: np.ndarray, cancel: np.ndarray) -> pa.Array:
    text = pa.array(numbers).cast(pa.string())
    prefix = pa.array(np.where(cancel, "C", ""))
    return pc.binary_join_element_wise(prefix, text, "")


def make_chunk(
    plan: Plan, lo: int, hi: int, cat: Catalogue, rng: np.random.Generator, first_number: int,
    n_out: int,
) -> pa.Table:
    """Lines of invoices ``lo:hi`` (purchases, cancellations, duplicates), ``n_out`` rows."""
    sizes = plan.n_lines[lo:hi]
    inv = np.repeat(np.arange(lo, hi), sizes)
    n_extra = n_out - len(inv)  # cancellation + duplicate lines
    n_cancel = round(n_extra * CANCEL_SHARE / (CANCEL_SHARE + DUPLICATE_SHARE))
    n_dup = n_extra - n_cancel
    n = len(inv)
    prod = np.searchsorted(cat.cdf, rng.random(n)).clip(0, len(cat.price) - 1)
    qty = QTY_VALUES[rng.choice(len(QTY_VALUES), size=n, p=QTY_P / QTY_P.sum())]
    price = cat.price[prod]
    code = pc.take(cat.code, pa.array(prod))
    desc = pc.take(cat.description, pa.array(prod))
    # Non-product lines (postage, manual, ...) and free lines.
    special = rng.random(n) < NON_PRODUCT_SHARE
    k = int(special.sum())
    which = rng.choice(len(NON_PRODUCT), size=k, p=NON_PRODUCT_P / NON_PRODUCT_P.sum())
    mask = pa.array(special)
    code = pc.replace_with_mask(code, mask, pa.array(NON_PRODUCT[which]))
    desc = pc.replace_with_mask(desc, mask, pa.array(NON_PRODUCT_DESC[which]))
    qty[special] = 1
    price[special] = np.round(rng.lognormal(3.0, 1.0, size=k), 2)
    price[rng.random(n) < ZERO_PRICE_SHARE] = 0.0
    extreme = rng.random(n) < EXTREME_SHARE
    qty[extreme] = rng.integers(5_000, 80_000, size=int(extreme.sum()))

    minute = plan.minute[inv]
    customer = plan.customer[inv]
    country = plan.country[inv]
    number = first_number + inv

    # Cancellations reverse some lines of identified customers' invoices a little later.
    pool = np.flatnonzero(customer >= 0)
    c = pool[rng.choice(len(pool), size=min(n_cancel, len(pool)), replace=False)]
    c.sort()
    c_qty = -np.maximum(1, (qty[c] * rng.uniform(0.2, 1.0, size=len(c))).astype(np.int64))
    # Whole days later, at the same time of day, skipping the closed Saturdays.
    c_minute = minute[c] + 1440 * rng.geometric(1 / 4, size=len(c)).astype(np.int64)
    saturday = (c_minute // 1440 + START.astype("datetime64[D]").astype(int) + 3) % 7 == 5
    c_minute[saturday] += 1440
    c_minute = np.where(c_minute >= N_DAYS * 1440, minute[c], c_minute)
    # One cancellation invoice per cancelled purchase invoice, numbered after all purchases.
    _, c_inv = np.unique(inv[c], return_inverse=True)
    c_number = first_number + len(plan.minute) + lo + c_inv

    # Exact duplicates: a copy of a line right next to it (as scanned twice at the till).
    d = np.sort(rng.choice(n, size=min(n_dup, n), replace=False))

    idx = np.concatenate([np.arange(n), c, d])
    order = np.argsort(np.concatenate([np.arange(n) * 2.0, c * 2.0 + 1.5, d * 2.0 + 0.5]),
                       kind="stable")
    idx = idx[order]
    is_c = np.concatenate([np.zeros(n, bool), np.ones(len(c), bool), np.zeros(len(d), bool)])[order]
    q_all = np.concatenate([qty, c_qty, qty[d]])[order]
    m_all = np.concatenate([minute, c_minute, minute[d]])[order]
    num_all = np.concatenate([number, c_number, number[d]])[order]
    ids = np.where(customer[idx] >= 0, 12_346 + customer[idx], np.nan).astype(np.float64)
    ts = (START + m_all.astype("timedelta64[m]")).astype("datetime64[us]")
    return pa.table(
        [
            _invoice_strings(num_all, is_c),
            pc.take(code, pa.array(idx)),
            pc.take(desc, pa.array(idx)),
            pa.array(q_all.astype(np.int64)),
            pa.array(ts),
            pa.array(price[idx]),
            pa.array(ids, from_pandas=True),
            pc.take(pa.array(COUNTRIES), pa.array(country[idx])),
        ],
        schema=SCHEMA,
    )


def generate(path: str | Path, n_lines: int, *, seed: int = 0, chunk_lines: int = 2_000_000,
             verbose: bool = False) -> Path:
    """Write ``n_lines`` synthetic order lines to a Parquet file; return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    extra = CANCEL_SHARE + DUPLICATE_SHARE
    n_purchase = n_lines - round(n_lines * extra)
    plan = make_plan(max(n_purchase, 1), rng)
    cat = make_catalogue(n_lines, rng)
    first_number = 536_365
    bounds = np.concatenate([[0], np.cumsum(plan.n_lines)])
    start = time.perf_counter()
    written = 0
    tmp = path.with_suffix(path.suffix + ".tmp")
    with pq.ParquetWriter(tmp, SCHEMA, compression="snappy") as writer:
        lo = 0
        while lo < len(plan.n_lines):
            # Invoices whose purchase lines fill about chunk_lines * (1 - extra) rows.
            hi = int(np.searchsorted(bounds, bounds[lo] + chunk_lines * (1 - extra), "right"))
            hi = min(max(hi, lo + 1), len(plan.n_lines))
            n_here = int(bounds[hi] - bounds[lo])
            n_out = n_lines - written if hi == len(plan.n_lines) else round(n_here / (1 - extra))
            n_out = max(n_out, n_here)
            writer.write_table(make_chunk(plan, lo, hi, cat, rng, first_number, n_out),
                               row_group_size=1_000_000)
            written += n_out
            lo = hi
            if verbose:
                rate = written / (time.perf_counter() - start)
                print(f"{written:,} lines ({rate:,.0f}/s)", flush=True)
    tmp.replace(path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=lambda s: int(s.replace("_", "")), required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chunk-lines", type=int, default=2_000_000)
    args = ap.parse_args()
    t0 = time.perf_counter()
    generate(args.out, args.lines, seed=args.seed, chunk_lines=args.chunk_lines, verbose=True)
    size = args.out.stat().st_size / 2**20
    print(f"wrote {args.out} ({size:,.0f} MiB) in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
