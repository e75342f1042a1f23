"""Commands that write into the store: etl from a project file, and --store on the others."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from segwise.cli import app
from segwise.store import Store

runner = CliRunner()


@pytest.fixture
def any_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """Serve tests that stop at uvicorn.run: the port they name may be in use where they run."""
    import segwise.cli.serve

    monkeypatch.setattr(segwise.cli.serve, "_check_address", lambda host, port: None)


def test_etl_runs_a_project_file_into_its_store(hostile_orders: Path, tmp_path: Path) -> None:
    shutil.copy(hostile_orders, tmp_path / "orders.csv")
    project = tmp_path / "project.toml"
    project.write_text('[project]\nsource = "orders.csv"\nstore = "results/segwise.duckdb"\n'
                       'extras = false\n\n[cleaning]\ncancellations = "drop"\n')
    result = runner.invoke(app, ["etl", str(project)])
    assert result.exit_code == 0, result.output
    path = tmp_path / "results" / "segwise.duckdb"
    assert f"open the dashboard: segwise serve {path}" in result.output
    store = Store(path)
    run = store.run(store.latest_run_id())
    assert (run["command"], run["job"], run["kind"]) == ("etl", "rfm", "orders")
    assert run["source"] == str(tmp_path / "orders.csv")
    assert run["config"]["cleaning"]["cancellations"] == "drop"
    assert store.segmentations(run["run_id"]) == ["rule", "learned"]
    assert store.models(run["run_id"])[0]["kind"] == "clustering"
    # Learned segments carry their recommended action into the store, as rule ones do.
    for segmentation in ("rule", "learned"):
        actions = [s["action"] for s in store.segments(run["run_id"], segmentation)]
        assert actions and all(actions), (segmentation, actions)


@pytest.mark.parametrize(("project", "said"), [
    ('[project]\nstore = "results/x.duckdb"\n',
     '[project] source is missing: the file the job reads. Fix: add source = "orders.csv"'),
    ('[project]\nsource = "orders.csv"\nstor = "results/x.duckdb"\n',
     "unknown key(s) stor in [project]. Fix: store?"),
    ('[project]\nsource = "orders.csv"\njob = "churn"\nstore = "results/x.duckdb"\n',
     # The jobs that come with segwise; a test may register more (tests/jobs/test_new_kind).
     "[project] job: unknown job 'churn'; registered: mobility, people, "),
    ('[project]\nsource = "orders.csv"\nstore = "orders.csv/x.duckdb"\n',
     "orders.csv is a file. Fix: choose another output folder"),
    ('[project]\nsource = "shop.duckdb"\nstore = "shop.duckdb"\n',
     "shop.duckdb: is also an input of this run"),
    ('[project\nsource = "orders.csv"\n', "not valid TOML"),
    # NumPy's traceback after loading and cleaning.
    ('[project]\nsource = "orders.csv"\nseed = -1\n',
     "[project] seed must be a whole number from 0 to 2**32 - 1, got -1"),
])
def test_etl_refuses_a_wrong_project_file_as_usage(tmp_path: Path, hostile_orders: Path,
                                                  project: str, said: str) -> None:
    # What is wrong in the project file is the command's usage (exit 2, as a bad --store
    # is), said in one line naming the file, before any work: a store that is the source
    # database took every step and then failed on a lock, blamed on "the URL".
    import duckdb

    shutil.copy(hostile_orders, tmp_path / "orders.csv")
    with duckdb.connect(str(tmp_path / "shop.duckdb")) as con:
        con.execute("CREATE TABLE orders AS SELECT 1 AS x")
    path = tmp_path / "project.toml"
    path.write_text(project)
    result = runner.invoke(app, ["etl", str(path)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and said in lines[0], lines
    assert "Starting" not in result.output
    assert not (tmp_path / "results").exists()
    with duckdb.connect(str(tmp_path / "shop.duckdb"), read_only=True) as con:
        assert con.execute("SHOW TABLES").fetchall() == [("orders",)]


def test_etl_reads_the_assigner_it_keeps_before_any_work(tmp_path: Path) -> None:
    # A model file that is missing or no assigner failed after loading, segments and
    # lifetime value, minutes on a real log; it is read first (the source here is never
    # reached: it does not exist either).
    (tmp_path / "notes.skops").write_text("not a model")
    for model, said in (("nope.skops", "nope.skops: no such model file"),
                        ("notes.skops", "notes.skops: not a segwise assigner file")):
        project = tmp_path / "project.toml"
        project.write_text(f'[project]\nsource = "never-read.csv"\nstore = "x.duckdb"\n'
                           f'assigner = "{model}"\n')
        result = runner.invoke(app, ["etl", str(project)])
        assert result.exit_code == 1, result.output
        assert said in result.stderr and "never-read" not in result.stderr
        assert not (tmp_path / "x.duckdb").exists()


def test_etl_stores_no_run_of_nobody(tmp_path: Path) -> None:
    # People whose every id is on two different rows: cleaning keeps none (which is
    # right is unknown), and etl said "stored run ...: 0 people" and exited 0.
    rows = [f"p{i % 40},{20 + i},{1000 * i},{'ab'[i % 2]}" for i in range(80)]
    (tmp_path / "people.csv").write_text("person_id,age,income,city\n" + "\n".join(rows))
    project = tmp_path / "project.toml"
    project.write_text('[project]\nsource = "people.csv"\njob = "people"\n'
                       'store = "x.duckdb"\n')
    result = runner.invoke(app, ["etl", str(project)])
    assert result.exit_code == 1, result.output
    assert (f"{tmp_path / 'people.csv'}: no person is left after cleaning (see the audit: "
            "repeated_id 80). Fix: check the [columns] mapping and the quarantine file") \
        in " ".join(result.stderr.split())
    # People's row rules are no [cleaning] rules (those are order lines').
    assert "[cleaning]" not in result.stderr
    assert not (tmp_path / "x.duckdb").exists()


def test_a_failed_etl_leaves_no_store_nor_folder(tmp_path: Path) -> None:
    # Data that cannot be used (no order-line columns) fails the job: exit 1, and the
    # store's folders, which checking the store created, are not left behind empty.
    (tmp_path / "orders.csv").write_text("a,b\n1,2\n")
    project = tmp_path / "project.toml"
    project.write_text('[project]\nsource = "orders.csv"\nstore = "results/runs/x.duckdb"\n')
    result = runner.invoke(app, ["etl", str(project)])
    assert result.exit_code == 1, result.output
    assert "required column" in result.stderr
    assert not (tmp_path / "results").exists()


def test_a_store_that_cannot_be_written_fails_before_any_work(tmp_path: Path) -> None:
    # A PostgreSQL server that is down (nothing listens on port 1) or a file that is not a
    # DuckDB database: said before the input is read (it does not even exist here), in
    # one line with the fix, not after minutes of work in the server's several lines.
    down = "postgresql://nobody@127.0.0.1:1/results"
    missing = str(tmp_path / "never-read.csv")
    not_duckdb = tmp_path / "notes.duckdb"
    not_duckdb.write_text("my notes")
    for store, said in ((down, "Fix: check the URL"), (str(not_duckdb), "is not a DuckDB")):
        for command in (["rfm", missing, "-o", str(tmp_path / "c.parquet")],
                        ["track", missing, "-o", str(tmp_path / "t.parquet")]):
            result = runner.invoke(app, [*command, "--store", store])
            assert result.exit_code == 2, result.output
            error = [line for line in result.stderr.splitlines() if "Error" in line]
            assert len(error) == 1 and "Invalid value for '--store'" in error[0], error
            assert said in error[0] and "never-read" not in result.output
    project = tmp_path / "project.toml"
    project.write_text(f'[project]\nsource = "never-read.csv"\nstore = "{down}"\n')
    result = runner.invoke(app, ["etl", str(project)])
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {down}: connection failed")
    assert "Fix: check the URL" in lines[0]


def test_a_store_that_is_also_an_input_or_output_fails_before_any_work(tmp_path: Path) -> None:
    # `segwise rfe log.db --store log.db`: the source database, held open for reading,
    # could not be opened as the store, which was said only after all the work; an output
    # written into the store's file would have been taken for a store.
    from segwise.datasets import avito_sample_config_path, avito_sample_path

    log = tmp_path / "log.db"
    shutil.copy(avito_sample_path(), log)
    config = avito_sample_config_path()
    orders = tmp_path / "orders.csv"
    orders.write_text("InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n"
                      "1,A,1,2011-01-01,2.5,7\n")
    out = tmp_path / "out.csv"
    for args, store, said in (
        (["rfe", str(log), "-c", str(config), "-o", str(out)], str(log), "input"),
        (["rfe", str(log), "-c", str(config), "-o", str(out)], f"duckdb:///{log}", "input"),
        (["rfm", str(orders), "-o", str(tmp_path / "r.duckdb")], str(tmp_path / "r.duckdb"),
         "output"),
        (["segment", "--customers", str(orders), "-o", str(out), "-c", str(log)], str(log),
         "config"),
    ):
        result = runner.invoke(app, [*args, "--store", store])
        assert result.exit_code == 2, result.output
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, lines
        assert lines[0] == (f"error: --store {store.removeprefix('duckdb:///')}: is also this "
                            f"run's {said}. Fix: give --store a .duckdb file of its own (a "
                            "store keeps only segwise's runs)")
        assert not out.exists() and not (tmp_path / "r.duckdb").exists()


@pytest.mark.slow
def test_every_command_writes_a_run_with_store(hostile_orders: Path, assigner_file: Path,
                                              tmp_path: Path) -> None:
    db = str(tmp_path / "segwise.duckdb")
    out = tmp_path / "out"
    commands: dict[str, list[str]] = {
        "rfm": ["rfm", str(hostile_orders), "-o", str(out / "c.parquet")],
        "segment": ["segment", str(hostile_orders), "--k", "3", "--compare", "",
                    "--embed", ""],
        "clv": ["clv", str(hostile_orders), "-o", str(out / "v.parquet")],
        "assign": ["assign", str(assigner_file), str(hostile_orders), "-o",
                   str(out / "a.parquet")],
    }
    for name, args in commands.items():
        result = runner.invoke(app, [*args, "--store", db])
        assert result.exit_code == 0, (name, result.output)
        assert "stored run" in result.output
        if name == "assign":  # the line whose quantity is "lots" is said, not lost
            said = " ".join(result.output.split())
            assert "1 of 20,004 lines could not be parsed and are left out" in said, said
    store = Store(db)
    runs = {r["command"]: r for r in store.runs()}
    assert set(runs) == set(commands)
    assert store.segmentations(runs["segment"]["run_id"]) == ["rule", "learned"]
    clv_run = runs["clv"]["run_id"]
    assert {m["kind"] for m in store.models(clv_run)} == {"clv"}
    assigned = runs["assign"]["run_id"]
    assert store.segmentations(assigned) == ["assigned"]
    some: Any = store.members(assigned, limit=1)["rows"][0][0]
    measures = store.entity(assigned, some)["measures"]
    assert all(k.startswith("p_") for k in measures)
    # Same input, same fingerprint, in every run.
    assert len({r["fingerprint"] for r in runs.values()}) == 1


def test_a_training_run_stores_its_model_file(assigner_file: Path, retail_result: Any,
                                             tmp_path: Path) -> None:
    from segwise.jobs import model_record
    from segwise.predict import TrainedAssigner
    from segwise.web import scorers_for

    trained = TrainedAssigner.load(assigner_file)
    store = Store(tmp_path / "segwise.duckdb")
    run_id = store.write_run(model_record(trained, retail_result, command="assigner train"))
    run = store.run(run_id)
    assert run["fingerprint"] == retail_result.entities.fingerprint and run["feature_set"] is None
    card = store.models(run_id)[0]
    assert card["kind"] == "assigner"
    assert card["card"]["evaluation"]["chosen"] and card["card"]["window"]["n_orders"] == 3
    # The server's scorer is the stored file, loaded (and checked) again.
    scorers = scorers_for(store)
    assert [s.name for s in scorers] == ["assigner"]
    assert scorers[0].scorer.segments == [str(c) for c in trained.estimator.classes_]


@pytest.mark.usefixtures("any_port")
def test_a_stored_assigner_of_another_format_leaves_the_dashboard_served(
        assigner_file: Path, retail_result: Any, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A store kept across an upgrade holds an assigner of an older format: segwise serve
    # refused to start at all (exit 1), naming a temporary file (/tmp/tmpk2j.../assigner.
    # skops) nobody has. The dashboard is served, and a warning says why scoring is off.
    import io
    import json
    import zipfile

    import sqlalchemy as sa
    import uvicorn

    from segwise.exceptions import SegwiseWarning
    from segwise.jobs import model_record
    from segwise.predict import TrainedAssigner
    from segwise.store._schema import MODELS
    from segwise.web import scorers_for

    db = tmp_path / "segwise.duckdb"
    store = Store(db)
    run_id = store.write_run(model_record(TrainedAssigner.load(assigner_file), retail_result,
                                          command="assigner train"))
    older = io.BytesIO()
    with zipfile.ZipFile(assigner_file) as new, zipfile.ZipFile(older, "w") as old:
        for member in new.infolist():
            data = new.read(member)
            if member.filename == "segwise.json":
                data = json.dumps({**json.loads(data), "format": "segwise-assigner/0"}).encode()
            old.writestr(member, data)
    with store.engine.begin() as conn:
        conn.execute(sa.update(MODELS).values(artifact=older.getvalue()))
    with pytest.warns(SegwiseWarning) as caught:
        assert scorers_for(store) == []
    (said,) = [str(w.message) for w in caught]
    assert said.startswith(f"{db}: POST /score is off: the assigner that run {run_id} stored "
                           "cannot be used (a segwise assigner file of format version 0")
    assert said.endswith(f"Fix: train one into the store (segwise assigner train ORDERS -o "
                         f"assigner.skops --store {db}), or serve with --model assigner.skops")
    assert "tmp" not in said.replace(str(tmp_path), "")
    started: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append(app))
    result = runner.invoke(app, ["serve", str(db)])
    assert result.exit_code == 0 and started, result.output
    assert f"warning: {db}: POST /score is off" in " ".join(result.output.split())


@pytest.mark.usefixtures("any_port")
def test_serve_scores_in_a_worker_process_unless_told(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    import uvicorn

    import segwise.web

    seen: list[bool] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    monkeypatch.setattr(segwise.web, "scorers_for",
                        lambda store, model, *, process: seen.append(process) or ["scorer"])
    monkeypatch.setattr(segwise.web, "create_app", lambda store, **kw: None)
    db = tmp_path / "segwise.duckdb"
    Store(db).close()
    for option in ([], ["--scoring-process"], ["--scoring-thread"]):
        result = runner.invoke(app, ["serve", str(db), *option])
        assert result.exit_code == 0, result.output
    assert seen == [True, True, False]


@pytest.mark.usefixtures("any_port")
@pytest.mark.parametrize("option", ["--scoring-thread", "--scoring-process"])
def test_serve_refuses_a_scoring_option_without_a_model(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, option: str) -> None:
    # With nothing to score, --scoring-thread was taken and did nothing.
    import uvicorn

    started: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append(app))
    db = tmp_path / "segwise.duckdb"
    Store(db).close()
    result = runner.invoke(app, ["serve", str(db), option], terminal_width=400)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert lines[0].startswith(f"error: {option} does not apply without a model to score with")
    assert "Fix: give --model" in lines[0] and not started
    # Without the option the dashboard is served, and says that scoring is off.
    result = runner.invoke(app, ["serve", str(db)], terminal_width=400)
    assert result.exit_code == 0 and "POST /score is off" in result.output and started


@pytest.mark.usefixtures("any_port")
def test_serve_binds_to_this_machine_and_reads_the_token(monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    import uvicorn
    from fastapi.testclient import TestClient

    started: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.update(app=app, **kw))
    monkeypatch.setenv("SEGWISE_TOKEN", "from-the-environment")
    db = tmp_path / "segwise.duckdb"
    Store(db).close()
    result = runner.invoke(app, ["serve", str(db)])
    assert result.exit_code == 0, result.output
    assert (started["host"], started["port"]) == ("127.0.0.1", 8000)
    assert "can be read by anyone" not in result.output
    with TestClient(started["app"]) as client:
        # No model in the store: nothing to score, but deleting needs the token.
        assert client.delete("/api/runs/x").status_code == 401
        auth = {"Authorization": "Bearer from-the-environment"}
        assert client.delete("/api/runs/x", headers=auth).status_code == 404
    project = tmp_path / "project.toml"
    project.write_text('[serve]\nport = 8123\ntoken = "from-the-file"\n')
    monkeypatch.delenv("SEGWISE_TOKEN")
    result = runner.invoke(app, ["serve", str(db), "--config", str(project)])
    assert result.exit_code == 0, result.output
    assert (started["host"], started["port"]) == ("127.0.0.1", 8123)
    with TestClient(started["app"]) as client:
        auth = {"Authorization": "Bearer from-the-file"}
        assert client.delete("/api/runs/x", headers=auth).status_code == 404
    # Reads need no token: said when the server listens beyond this machine.
    for host, open_to_others in (("0.0.0.0", True), ("::1", False),  # noqa: S104
                                 ("localhost", False),
                                 ("192.168.1.20", True)):
        result = runner.invoke(app, ["serve", str(db), "--host", host], terminal_width=400)
        assert result.exit_code == 0, result.output
        said = f"note: listening on {host}: every page and its JSON twin (ids, segments, " \
               "values) can be read by anyone who reaches this address"
        assert (said in result.output) == open_to_others, (host, result.output)


@pytest.mark.usefixtures("any_port")
def test_serve_reads_its_model_relative_to_the_project_file(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # [project]'s paths are relative to the project file; [serve] model was read from
    # wherever the server was started: `serve -c project/project.toml` found no model.
    import uvicorn

    import segwise.web

    models: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    monkeypatch.setattr(segwise.web, "scorers_for",
                        lambda store, model, *, process: models.append(model) or [])
    project = tmp_path / "project"
    project.mkdir()
    Store(project / "segwise.duckdb").close()
    (project / "project.toml").write_text('[serve]\nmodel = "models/assigner.skops"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = runner.invoke(app, ["serve", str(project / "segwise.duckdb"), "-c",
                                 "../project/project.toml"])
    assert result.exit_code == 0, result.output
    assert models == [(project / "models" / "assigner.skops").resolve()]


def test_serve_refuses_an_address_it_cannot_listen_on(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    # A port in use (a second segwise serve, say): the model loaded, "dashboard on
    # http://127.0.0.1:PORT/" was printed (a page another program answers), then uvicorn's
    # "ERROR: [Errno 98] ..." and exit status 3. Now one line and exit 2, before any work.
    import socket

    import uvicorn

    import segwise.web

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: pytest.fail("served"))
    monkeypatch.setattr(segwise.web, "scorers_for",
                        lambda *a, **kw: pytest.fail("the model was loaded"))
    db = tmp_path / "segwise.duckdb"
    Store(db).close()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["serve", str(db), "--port", str(port)])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.strip() == (
        f"error: cannot listen on 127.0.0.1:{port}: another program listens there (another "
        "segwise serve?). Fix: choose another port (--port, or [serve] port), or stop that "
        "program")
    result = runner.invoke(app, ["serve", str(db), "--host", "no-such-host.invalid"])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: cannot listen on no-such-host.invalid:8000: ")
    assert "Fix: give a name or address of this machine (--host, or [serve] host)" in " ".join(
        result.stderr.split())


def test_track_stores_every_snapshot_as_a_run(hostile_orders: Path, tmp_path: Path) -> None:
    from segwise.jobs import run_track

    db = tmp_path / "segwise.duckdb"
    dates = "2010-12-03,2010-12-06,2010-12-09"
    result = runner.invoke(app, ["track", str(hostile_orders), "-o",
                                 str(tmp_path / "snapshots.parquet"), "--dates", dates,
                                 "--learned", "3", "--store", str(db)])
    assert result.exit_code == 0, result.output
    assert result.output.count("stored run") == 3
    store = Store(db)
    runs = sorted((r for r in store.runs()), key=lambda r: r["as_of"])
    assert [str(r["as_of"])[:10] for r in runs] == dates.split(",")
    assert {(r["command"], r["job"], r["kind"]) for r in runs} == {("track", "rfm", "orders")}
    assert all(store.segmentations(r["run_id"]) == ["rule", "learned"] for r in runs)
    # The store's migration between the first and the last snapshot is the track's own.
    track = run_track(hostile_orders, dates=dates.split(","), learned=3)
    first, last = track.dates[0], track.dates[-1]
    matrix = track.migration(first, last)
    stored = {(m["from"], m["to"]): m["n"]
              for m in store.migration(runs[0]["run_id"], runs[-1]["run_id"])}
    both = {(a, b): int(matrix.loc[a, b]) for a in matrix.index for b in matrix.columns
            if a in track.segment_order and b in track.segment_order and matrix.loc[a, b] > 0}
    assert both and {k: v for k, v in stored.items() if k in both} == both
    assert sum(v for (a, b), v in stored.items()
               if a in track.segment_order and b in track.segment_order) == sum(both.values())
    sizes = track.sizes()
    last_sizes = sizes[sizes["snapshot"] == sizes["snapshot"].max()]
    stored_sizes = {s["segment"]: s["size"] for s in store.segments(runs[-1]["run_id"], "rule")}
    assert {s: n for s, n in stored_sizes.items() if n} == dict(
        zip(last_sizes["segment"], last_sizes["customers"], strict=True))


def test_serve_refuses_a_port_out_of_range_in_its_config(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # --port is checked as it is read; [serve] port = 70000 reached uvicorn's traceback.
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: pytest.fail("served"))
    db = tmp_path / "segwise.duckdb"
    Store(db).close()
    project = tmp_path / "project.toml"
    project.write_text("[serve]\nport = 70000\n")
    result = runner.invoke(app, ["serve", str(db), "--config", str(project)])
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == (
        f"error: {project}: [serve] port must be from 1 to 65535, got 70000")


def test_serve_opens_only_a_store_and_creates_nothing(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    # Opening created what it opened: a typo in the path served an empty dashboard from a
    # new file in a new folder, and a DuckDB database of the user's own was given the
    # store's dozen tables. Both are now refused in one line (exit 2), nothing written.
    import duckdb
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: pytest.fail("served"))
    shop = tmp_path / "shop.duckdb"
    with duckdb.connect(str(shop)) as con:
        con.execute("CREATE TABLE orders AS SELECT 1 AS x")
    typo = tmp_path / "reslts" / "segwise.duckdb"
    notes = tmp_path / "notes.duckdb"
    notes.write_text("my notes")
    for target, said in ((typo, "no store there. Fix: check the path"),
                         (shop, "holds no segwise store"),
                         (notes, "exists and is not a DuckDB database")):
        result = runner.invoke(app, ["serve", str(target)])
        assert result.exit_code == 2, result.output
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and f"error: {target}: {said}" in lines[0], lines
    assert not typo.parent.exists() and notes.read_text() == "my notes"
    with duckdb.connect(str(shop), read_only=True) as con:
        assert con.execute("SHOW TABLES").fetchall() == [("orders",)]
