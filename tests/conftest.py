"""Fixtures shared by the whole suite: real data from ../shared/data (Online Retail, CDNOW)
and engines."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

SHARED_DATA = Path(
    os.environ.get("SEGWISE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real datasets folder (``../shared/data`` beside the repository)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real datasets not found at {SHARED_DATA}; set SEGWISE_SHARED_DATA")
    return SHARED_DATA


@pytest.fixture(scope="session")
def retail_csv(shared_data: Path) -> Path:
    """The full UCI Online Retail log as CSV.gz (541,909 lines)."""
    return shared_data / "uci-online-retail" / "online_retail.csv.gz"


@pytest.fixture(scope="session")
def retail_sample(retail_csv: Path) -> pd.DataFrame:
    """The first 5,000 lines of Online Retail, every column as text, as in the file."""
    return pd.read_csv(retail_csv, nrows=5000, dtype=str, keep_default_na=False)


#: Column roles of the CDNOW CSV written by the ``cdnow_csv`` fixture.
CDNOW_COLUMNS = {"customer_id": "customer_id", "timestamp": "date", "amount": "dollars"}


@pytest.fixture(scope="session")
def cdnow_raw(shared_data: Path) -> pd.DataFrame:
    """The authors' 1/10 sample, one row per purchase line, as in the file."""
    return pd.read_csv(
        shared_data / "cdnow" / "CDNOW_sample.txt.gz",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "cds", "dollars"],
        dtype={"master_id": str, "customer_id": str, "date": str},
    )


@pytest.fixture(scope="session")
def cdnow_csv(cdnow_raw: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The raw CDNOW lines as a CSV with a header, unaggregated, for load_transactions."""
    path = tmp_path_factory.mktemp("cdnow") / "cdnow_sample.csv"
    cdnow_raw.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def cdnow_columns() -> dict[str, str]:
    """Column roles of the CDNOW CSV."""
    return dict(CDNOW_COLUMNS)


@pytest.fixture(scope="session")
def cdnow_tx(cdnow_csv: Path) -> Any:
    """CDNOW loaded by segwise (DuckDB), every line a purchase."""
    from segwise.io import load_transactions

    return load_transactions(cdnow_csv, columns=CDNOW_COLUMNS)


@pytest.fixture(scope="session")
def spark_available() -> None:
    """Skip nothing: Spark is part of the test install, so its absence is a failure."""
    import pyspark  # noqa: F401


@pytest.fixture(scope="session")
def retail_result(shared_data: Path) -> Any:
    """The default RFM job on the full Online Retail log (Parquet copy), run once per session."""
    from segwise.jobs import run_rfm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return run_rfm(shared_data / "uci-online-retail" / "online_retail.parquet")


@pytest.fixture(scope="session")
def retail_customers(retail_result: Any) -> pd.DataFrame:
    """Online Retail customers (4,333): RFM features, rule-based scores and segment names."""
    customers = retail_result.customers.copy()
    customers.attrs = {}
    return customers


# --------------------------------------------------------------------- stores and the web

#: Where Debian's PostgreSQL server programs live (the `postgresql` package).
PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"

#: Injected into the data: a customer id and a product description that are HTML.
SCRIPT_ID = "<script>window.__pwned=1</script>"
SCRIPT_DESCRIPTION = "<script>window.__pwned=2</script> CANDLE"
#: A customer id a spreadsheet would run as a formula.
FORMULA_ID = '=HYPERLINK("http://example.invalid","x")'


def _pg_bin() -> Path | None:
    import glob

    found = sorted(glob.glob(PG_BIN_GLOB + "/initdb"))
    return Path(found[-1]).parent if found else None


@pytest.fixture(scope="session")
def postgres_server() -> Any:
    """A real PostgreSQL server on 127.0.0.1, started for the session and removed after.

    Debian's server programs (`apt-get install postgresql`, which `.ci/run` does); as root
    the server runs as the `postgres` user, as PostgreSQL refuses to run as root.
    """
    import shutil
    import socket
    import subprocess
    import tempfile

    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.fail("PostgreSQL server programs not found under "
                    f"{PG_BIN_GLOB}: apt-get install postgresql (.ci/run does)")
    home = Path(tempfile.mkdtemp(prefix="segwise-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(home, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = home / "data"
    initdb = [*run_as, str(bin_dir / "initdb"), "-D", str(data), "-U", "segwise",
              "--auth=trust", "-E", "UTF8", "--no-sync"]
    subprocess.run(initdb, check=True, capture_output=True)  # noqa: S603 - fixed programs
    options = (f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off "
               "-c full_page_writes=off -c synchronous_commit=off")
    subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options,  # noqa: S603
                    "-l", str(home / "log"), "-w", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://segwise@127.0.0.1:{port}"
    finally:
        subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(data),  # noqa: S603
                        "-m", "immediate",
                        "stop"], check=False, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def _database(server: str) -> Iterator[str]:
    """A new, empty database on ``server``, dropped on leaving."""
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server + "/postgres", autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(server + "/postgres", autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A new, empty database on the session's server; dropped after the test."""
    with _database(postgres_server) as url:
        yield url


@pytest.fixture(params=["duckdb", "postgresql"])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store: a DuckDB file, then a database on the real PostgreSQL server."""
    if request.param == "duckdb":
        return str(tmp_path / "segwise.duckdb")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="module", params=["duckdb", "postgresql"])
def module_store_target(request: pytest.FixtureRequest,
                        tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """As ``store_target``, shared by the tests of a module."""
    if request.param == "duckdb":
        yield str(tmp_path_factory.mktemp("store") / "segwise.duckdb")
        return
    with _database(request.getfixturevalue("postgres_server")) as url:
        yield url


@pytest.fixture(scope="session")
def hostile_orders(retail_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 20,000 Online Retail lines as CSV, plus customers and descriptions that are
    HTML or spreadsheet formulas, and a line that does not parse (quarantined)."""
    df = pd.read_csv(retail_csv, nrows=20_000, dtype=str, keep_default_na=False)
    template = df.iloc[0].to_dict()
    extra = []
    for i, (customer, invoice) in enumerate([(SCRIPT_ID, "990001"), (SCRIPT_ID, "990002"),
                                             (FORMULA_ID, "990003")]):
        extra.append({**template, "CustomerID": customer, "InvoiceNo": invoice,
                      "InvoiceDate": f"2010-12-0{5 + i} 10:00:00", "Description": "CANDLE"})
    extra.append({**template, "Quantity": "lots", "Description": SCRIPT_DESCRIPTION})
    path = tmp_path_factory.mktemp("hostile") / "orders.csv"
    pd.concat([df, pd.DataFrame(extra)], ignore_index=True).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def hostile_record(hostile_orders: Path) -> Any:
    """The whole job on ``hostile_orders`` as a run record: RFM segments, learned segments
    and lifetime value."""
    from segwise.jobs import run_record, run_rfm
    from segwise.report import learn_extras
    from segwise.segment import segment_customers

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_rfm(hostile_orders)
        learned = segment_customers(result.entities, compare=None, embed=(), random_state=0)
        clv = learn_extras(result, segments=False).clv
    return run_record(result, command="etl", job="rfm", segmentation=learned, clv=clv)


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
#: A page script (``page.add_init_script``) under which the page's first ``Plotly.newPlot``
#: throws, as a figure plotly.js cannot draw does; the others draw as usual.
FIRST_CHART_THROWS = """
(function () {
  var plotly;
  Object.defineProperty(window, "Plotly", {configurable: true, get: function () { return plotly; },
    set: function (real) {
      var calls = 0;
      plotly = Object.create(real);
      Object.defineProperty(plotly, "newPlot", {value: function () {
        calls += 1;
        if (calls === 1) { throw new Error("a figure plotly.js cannot draw"); }
        return real.newPlot.apply(real, arguments);
      }});
    }});
})();
"""


@pytest.fixture(scope="session")
def browser() -> Any:
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def assigner_file(retail_result: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An assigner trained on Online Retail (the grid model, made small to train fast)."""
    from segwise.predict import SegmentAssigner, train_assigner

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trained, _, _ = train_assigner(retail_result, candidates={"grid (chosen)": SegmentAssigner(
            "grid", max_iter=20, learning_rate=0.1, n_estimators=50, cv=2)})
    return trained.save(tmp_path_factory.mktemp("model") / "assigner.skops")
