"""The dashboard and API in-process, on DuckDB and on PostgreSQL: pages, twins, security."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from segwise.store import RunRecord
from segwise.web import _pages as pages

from ..conftest import FORMULA_ID, SCRIPT_DESCRIPTION, SCRIPT_ID
from .conftest import TOKEN

#: One new customer's first orders (three orders of real Online Retail products).
NEW_CUSTOMER = {
    "customer_id": "new-1",
    "orders": [
        {"order_id": f"N{o}", "timestamp": f"2011-0{o}-10T10:00:00", "product_id": "85123A",
         "description": "WHITE HANGING HEART T-LIGHT HOLDER", "quantity": 6 * o,
         "unit_price": 2.55, "country": "United Kingdom"}
        for o in (1, 2, 3)
    ],
}


def _pages_of(served: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    store = served["store"]
    newest = served["runs"][1]
    return [
        ("/", pages.overview_page(store)),
        ("/segments/rule/Champions", pages.segment_page(store, "rule", "Champions")),
        (f"/entities/{quote(SCRIPT_ID, safe='')}", pages.customer_page(store, SCRIPT_ID)),
        ("/quality", pages.quality_page(store)),
        ("/models", pages.models_page(store)),
        ("/runs", pages.runs_page(store)),
        (f"/?run={newest}&segmentation=learned",
         pages.overview_page(store, newest, "learned")),
    ]


def test_every_page_and_its_json_twin(client: Any, served: dict[str, Any]) -> None:
    for path, data in _pages_of(served):
        page = client.get(path)
        assert page.status_code == 200, path
        head = client.head(path)  # curl -I, uptime checks: it was a 405
        assert head.status_code == 200 and head.headers["content-type"].startswith("text/html")
        assert page.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in page.headers["content-security-policy"]
        twin_path = "/api" + ("/overview" + path[1:] if path.startswith("/?") or path == "/"
                              else path)
        twin = client.get(twin_path)
        assert twin.status_code == 200, twin_path
        assert twin.json() == data, twin_path
        # Every chart of the page is in the page, and its figure is in the twin.
        for chart in data["charts"]:
            assert f'id="chart-{chart["key"]}"' in page.text


def test_the_api_reference_is_a_page_of_this_server(client: Any) -> None:
    # /docs, linked as "API" from every page and printed by segwise serve, was FastAPI's
    # Swagger UI: scripts and styles from a CDN, which the server's own content security
    # policy blocked (and offline there is none): a blank page. /redoc was the same.
    import re

    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert client.head("/docs").status_code == 200
    # Nothing to load from anywhere else, and no script of its own to block.
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.text)
    assert "<script>" not in page.text
    schema = client.get("/openapi.json").json()
    for path, methods in schema["paths"].items():
        for method in methods:
            assert f"{method.upper()} <code>{path}</code>" in page.text, (method, path)
    # The score body's fields, the nested order line's too, with their constraints.
    for model in ("ScoreRequest", "OrderLine"):
        for field in schema["components"]["schemas"][model]["properties"]:
            assert f"<code>{field}</code>" in page.text, (model, field)
    assert "list of OrderLine, 1 to 1,000 items" in page.text
    assert "number, -1,000,000 to 1,000,000" in page.text
    assert 'href="/openapi.json"' in page.text
    gone = client.get("/redoc")
    assert gone.status_code == 404 and "there is no page /redoc" in gone.text


def test_user_text_is_escaped_everywhere(client: Any) -> None:
    entity = client.get(f"/entities/{quote(SCRIPT_ID, safe='')}")
    members = client.get("/api/search", params={"q": "pwned"}).json()
    assert [r[0] for r in members["rows"]] == [SCRIPT_ID]
    quality = client.get("/quality")
    for response in (entity, quality):
        assert "<script>window.__pwned" not in response.text
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in entity.text
    assert "&lt;script&gt;window.__pwned=2&lt;/script&gt;" in quality.text
    assert SCRIPT_DESCRIPTION.startswith("<script>")


def test_csv_downloads_neutralise_formulas(client: Any, served: dict[str, Any]) -> None:
    store = served["store"]
    segment = store.entity(store.latest_run_id(), FORMULA_ID)["segments"]["rule"]
    response = client.get(f"/csv/rule/{quote(segment, safe='')}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    ids = [r[0] for r in rows[1:]]
    assert "'" + FORMULA_ID in ids and FORMULA_ID not in ids
    assert len(ids) == store.segment(store.latest_run_id(), "rule", segment)["size"]
    assert not any(cell.startswith(("=", "+", "@")) for r in rows for cell in r)


def test_scoring_needs_the_token(client: Any, served: dict[str, Any]) -> None:
    assert client.post("/score", json=NEW_CUSTOMER).status_code == 401
    wrong = client.post("/score", json=NEW_CUSTOMER, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == "Bearer"
    almost = client.post("/score", json=NEW_CUSTOMER,
                         headers={"Authorization": f"Bearer {TOKEN[:-1]}"})
    assert almost.status_code == 401
    store = served["store"]
    run = store.write_run(RunRecord(command="scratch"))  # a run of this test's own
    assert client.delete(f"/api/runs/{run}").status_code == 401
    assert client.delete(f"/api/runs/{run}",
                         headers={"Authorization": "Bearer nope"}).status_code == 401
    assert run in {r["run_id"] for r in store.runs()}
    ok = client.delete(f"/api/runs/{run}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 204
    assert [r["run_id"] for r in store.runs()] == served["runs"][::-1]


def test_score_a_new_customer(client: Any) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    response = client.post("/score", json=NEW_CUSTOMER, headers=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["customer_id"] == "new-1" and body["model"] == "assigner"
    assert body["orders_used"] == 3 and body["window_complete"] is True
    assert sum(body["probabilities"].values()) == pytest.approx(1.0)
    assert body["probability"] == max(body["probabilities"].values())
    assert body["segment"] == max(body["probabilities"], key=body["probabilities"].get)
    same = client.post("/score/assigner", json=NEW_CUSTOMER, headers=auth).json()
    assert same == body


@pytest.mark.slow
def test_a_scoring_worker_process_answers_the_same_and_ends_with_the_server(
        served: dict[str, Any], trained_assigner: Any, client: Any) -> None:
    import multiprocessing

    from fastapi.testclient import TestClient

    from segwise.predict import OrderScorer
    from segwise.web import AssignerScorer, create_app

    auth = {"Authorization": f"Bearer {TOKEN}"}
    in_thread = client.post("/score", json=NEW_CUSTOMER, headers=auth).json()
    scorer = AssignerScorer(OrderScorer(trained_assigner), process=True)
    app = create_app(served["store"], token=TOKEN, scorers=[scorer])
    before = set(multiprocessing.active_children())
    with TestClient(app) as worker_client:
        workers = set(multiprocessing.active_children()) - before
        assert len(workers) == 1
        answers = [worker_client.post("/score", json={**NEW_CUSTOMER, "customer_id": f"c{i}"},
                                      headers=auth) for i in range(3)]
        returns_only = {**NEW_CUSTOMER, "orders": [{**NEW_CUSTOMER["orders"][0],
                                                    "quantity": -6}]}
        refused = worker_client.post("/score", json=returns_only, headers=auth)
    assert [a.status_code for a in answers] == [200] * 3
    assert [{**a.json(), "customer_id": "new-1"} for a in answers] == [in_thread] * 3
    assert refused.status_code == 422 and "cleaning" in refused.json()["detail"]
    (worker,) = workers
    worker.join(timeout=10)
    assert not worker.is_alive()


@pytest.mark.slow
def test_a_killed_scoring_worker_is_a_503_then_started_again(
        served: dict[str, Any], trained_assigner: Any) -> None:
    # A worker killed (the kernel's out-of-memory killer, say) left a broken pool: every
    # later request was a 500 until the server was restarted.
    import multiprocessing
    import os
    import signal

    from fastapi.testclient import TestClient

    from segwise.predict import OrderScorer
    from segwise.web import AssignerScorer, create_app

    auth = {"Authorization": f"Bearer {TOKEN}"}
    scorer = AssignerScorer(OrderScorer(trained_assigner), process=True)
    app = create_app(served["store"], token=TOKEN, scorers=[scorer])
    before = set(multiprocessing.active_children())
    with TestClient(app) as worker_client:
        first = worker_client.post("/score", json=NEW_CUSTOMER, headers=auth)
        assert first.status_code == 200
        (worker,) = set(multiprocessing.active_children()) - before
        os.kill(worker.pid, signal.SIGKILL)
        worker.join(timeout=10)
        lost = worker_client.post("/score", json=NEW_CUSTOMER, headers=auth)
        assert lost.status_code == 503, lost.text
        assert "scoring worker stopped" in lost.json()["detail"]
        again = worker_client.post("/score", json=NEW_CUSTOMER, headers=auth)
        assert again.status_code == 200 and again.json() == first.json()
        (new,) = set(multiprocessing.active_children()) - before - {worker}
    new.join(timeout=10)
    assert not new.is_alive()


@pytest.mark.parametrize(("change", "status"), [
    ({"orders": []}, 422),
    ({"customer_id": ""}, 422),
    ({"orders": [{**NEW_CUSTOMER["orders"][0], "quantity": "NaN"}]}, 422),
    ({"orders": [{**NEW_CUSTOMER["orders"][0], "timestamp": "yesterday"}]}, 422),
    # Found by the schema fuzzer: year 1 east of UTC has no UTC time (it overflowed, a 500).
    ({"orders": [{**NEW_CUSTOMER["orders"][0], "timestamp": "0001-01-01T00:00:00+00:01"}]},
     422),
    ({"orders": [{**NEW_CUSTOMER["orders"][0], "timestamp": "9999-12-31T23:59:00-01:00"}]},
     422),
    ({"orders": [{**NEW_CUSTOMER["orders"][0], "unexpected": 1}]}, 422),
    # Values a lax parse would turn into a number or a time nobody meant: true is 1 unit,
    # "12" a string, 20110110 (a day written as a number) seconds after 1970.
    ({"orders": [{**NEW_CUSTOMER["orders"][0], "quantity": True}]}, 422),
    ({"orders": [{**NEW_CUSTOMER["orders"][0], "quantity": "12"}]}, 422),
    ({"orders": [{**NEW_CUSTOMER["orders"][0], "unit_price": "2,55"}]}, 422),
    ({"orders": [{**NEW_CUSTOMER["orders"][0], "timestamp": 20110110}]}, 422),
    ({"as_of": 1300000000}, 422),
    # Orders after the end of observation, or an end still to come, made a window look
    # complete: scored (orders_used 3, window_complete true) as of 2000, or of 2099.
    ({"as_of": "2000-01-01T00:00:00"}, 422),
    ({"as_of": "2099-01-01T00:00:00"}, 422),
    ({"orders": [{**NEW_CUSTOMER["orders"][0], "timestamp": "2099-01-10T10:00:00"}]}, 422),
    # Only a return: nothing left to score after cleaning.
    ({"orders": [{**NEW_CUSTOMER["orders"][0], "quantity": -6}]}, 422),
])
def test_bad_score_requests_get_a_clear_4xx(client: Any, change: dict[str, Any],
                                            status: int) -> None:
    response = client.post("/score", json={**NEW_CUSTOMER, **change},
                           headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == status, response.text
    assert response.json()["detail"]


def test_nothing_left_after_cleaning_says_which_ids_are_read_as_what(client: Any) -> None:
    # Order ids as Online Retail's invoices write cancellations and adjustments: the 422
    # said "returns, zero quantities or prices, non-product codes only", none of which
    # the lines were (positive quantities and prices of a real product).
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for order_id, said in (("a563185", "bad-debt adjustments (an order id of 'A' followed "
                                       "by digits)"),
                           ("C536379", "returns (a negative quantity, or an order id of 'C' "
                                       "followed by digits)")):
        lines = [{**line, "order_id": order_id} for line in NEW_CUSTOMER["orders"]]
        got = client.post("/score", json={**NEW_CUSTOMER, "orders": lines}, headers=auth)
        assert got.status_code == 422
        assert said in got.json()["detail"]
        assert "Fix: send the customer's purchases" in got.json()["detail"]
    # A UUID starting with a or c is an order like any other.
    lines = [{**line, "order_id": f"c9b1e2f3-0000-4000-8000-00000000000{i}"}
             for i, line in enumerate(NEW_CUSTOMER["orders"])]
    assert client.post("/score", json={**NEW_CUSTOMER, "orders": lines},
                       headers=auth).json()["orders_used"] == 3


def test_orders_after_the_end_of_observation_are_named(client: Any) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    as_of = "2011-02-01T00:00:00"  # after the first order, before the other two
    got = client.post("/score", json={**NEW_CUSTOMER, "as_of": as_of}, headers=auth)
    assert got.status_code == 422
    (error,) = got.json()["detail"]
    assert error["loc"] == ["body"]
    assert error["msg"] == (
        f"Value error, orders[1].timestamp 2011-02-10T10:00:00 is after as_of {as_of}, the end "
        "of observation. Fix: give orders placed by then, or a later as_of")
    # Up to the end of observation, the window is as the orders make it.
    first = {**NEW_CUSTOMER, "orders": NEW_CUSTOMER["orders"][:1], "as_of": as_of}
    scored = client.post("/score", json=first, headers=auth)
    assert scored.status_code == 200, scored.text
    assert scored.json()["orders_used"] == 1


def test_the_score_body_is_documented_and_checked_as_fastapi_would(client: Any) -> None:
    # POST /score validates its JSON body itself: the schema and the 422s stay FastAPI's.
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/score"]["post"]["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ScoreRequest"}
    components = schema["components"]["schemas"]
    assert set(components["ScoreRequest"]["properties"]) == {"customer_id", "orders", "as_of"}
    assert components["ScoreRequest"]["properties"]["orders"]["items"] == {
        "$ref": "#/components/schemas/OrderLine"}
    assert "timestamp" in components["OrderLine"]["required"]
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    broken = client.post("/score", content=b"{not json", headers=auth)
    assert broken.status_code == 422 and broken.json()["detail"][0]["loc"][0] == "body"
    missing = client.post("/score", json={"orders": []}, headers=auth)
    assert missing.status_code == 422
    assert {tuple(e["loc"]) for e in missing.json()["detail"]} == {
        ("body", "customer_id"), ("body", "orders")}
    # The token is checked before the body is read.
    assert client.post("/score", content=b"{not json").status_code == 401


@pytest.mark.parametrize(("body", "field"), [
    # JSON's NaN and Infinity literals, and a byte that is not UTF-8: the 422 echoed the
    # input, which cannot be written as JSON (a 500).
    (b'{"customer_id": "x", "orders": [{"order_id": "A", "timestamp": "2011-01-10T10:00:00",'
     b' "quantity": NaN, "unit_price": 1}]}', ["body", "orders", 0, "quantity"]),
    (b'{"customer_id": "x", "orders": [{"order_id": "A", "timestamp": "2011-01-10T10:00:00",'
     b' "quantity": 1, "unit_price": -Infinity}]}', ["body", "orders", 0, "unit_price"]),
    (b'{"customer_id": "\xff", "orders": []}', ["body"]),
    (b"[]", ["body"]),
])
def test_unreadable_score_bodies_get_a_422_naming_the_field(
        client: Any, body: bytes, field: list[Any]) -> None:
    response = client.post("/score", content=body, headers={
        "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == field and error["msg"]
    assert "input" not in error  # the sender's body is not sent back
    if body == b"[]":  # customers sent as a list, most likely
        assert error["msg"] == ("Input should be an object: one request is one JSON object "
                                "(customer_id, orders, as_of). Fix: send a request per "
                                "customer")


def test_a_body_not_sent_as_json_gets_415_with_the_fix(client: Any) -> None:
    import json

    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = json.dumps(NEW_CUSTOMER).encode()
    for media in ("text/plain", "application/x-www-form-urlencoded", "text/csv"):
        got = client.post("/score", content=body, headers={**auth, "Content-Type": media})
        assert got.status_code == 415, (media, got.text)
        assert media in got.json()["detail"]
        assert "Fix: send it with Content-Type: application/json" in got.json()["detail"]
    for media in ("application/json; charset=utf-8", "application/vnd.api+json", None):
        headers = {**auth, **({"Content-Type": media} if media else {})}
        assert client.post("/score", content=body, headers=headers).status_code == 200, media


def test_request_size_is_limited(client: Any) -> None:
    line = NEW_CUSTOMER["orders"][0]
    big = {**NEW_CUSTOMER, "orders": [{**line, "description": "x" * 450}] * 900}
    response = client.post("/score", json=big, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 413
    assert response.json()["detail"] == (
        "request body over 262,144 bytes. Fix: send one customer's first orders per request "
        "(a batch is several requests)")
    chunked = client.post("/score", content=iter([b"{" + b" " * 300_000 + b"}"]),
                          headers={"Authorization": f"Bearer {TOKEN}",
                                   "Content-Type": "application/json"})
    assert chunked.status_code == 413


def test_missing_things_are_404_and_bad_parameters_400(client: Any) -> None:
    assert client.get("/api/entities/nobody").status_code == 404
    assert client.get("/entities/nobody").status_code == 404
    # A segment typed in another case is told the ones there are, as a segmentation is.
    nope = client.get("/api/segments/rule/champions")
    assert nope.status_code == 404
    assert nope.json()["detail"].endswith(
        "has no rule segment 'champions'; it has " + ", ".join(
            repr(s["segment"]) for s in client.get("/api/segments").json()))
    assert "'Champions'" in nope.json()["detail"]
    assert client.get("/api/overview", params={"run": "nope"}).status_code == 404
    # A model the server does not have: FastAPI's bare "Not Found" named nothing.
    model = client.post("/score/propensity", json=NEW_CUSTOMER,
                        headers={"Authorization": f"Bearer {TOKEN}"})
    assert model.status_code == 404
    assert model.json()["detail"] == (
        "no model 'propensity' to score with here; this server has assigner (POST "
        "/score/assigner). Fix: post to one of them, or to /score for assigner")
    bad = client.get("/api/segments/rule/Champions", params={"sort": "x; DROP TABLE runs"})
    assert bad.status_code == 400 and "cannot sort" in bad.json()["detail"]
    assert client.get("/api/segments/rule/Champions", params={"page": 0}).status_code == 422


@pytest.mark.parametrize(("path", "status", "said"), [
    ("/segments/rule/Champions?page=-1", 422, "page: Input should be greater than or equal"),
    ("/segments/rule/Champions?page=abc", 422, "(not &#39;abc&#39;)"),
    ("/segments/rule/Champions?size=%3Cscript%3E", 422, "(not &#39;&lt;script&gt;&#39;)"),
    ("/quality?page=1e3", 422, "page: Input should be a valid integer"),
    ("/segments/rule/Champions?page=999999", 400, "page 999999 is past the last page"),
    ("/quality?page=2", 400, "Fix: ask for a page from 1 to 1"),
    ("/segments/rule/%3Cscript%3Ealert(1)%3C%2Fscript%3E", 404,
     "no rule segment &#39;&lt;script&gt;alert(1)&lt;/script&gt;&#39;"),
    ("/segments/rule/a/b%20c", 404, "no rule segment &#39;a/b c&#39;"),
    ("/segments/%C3%BC%E5%AE%A2/x", 404, "no segmentation &#39;ü客&#39;"),
    ("/?run=%3Cb%3E", 404, "no run &#39;&lt;b&gt;&#39;"),
    ("/no/such/page%3Cb%3E", 404, "there is no page /no/such/page&lt;b&gt;"),
])
def test_dashboard_pages_asked_oddly_get_an_escaped_error_page(
        client: Any, path: str, status: int, said: str) -> None:
    # A browser gets a page, not FastAPI's JSON (bad parameters, no route) or a page of
    # nobody (past the last page); the page's JSON twin gets the same status in JSON.
    page = client.get(path)
    assert page.status_code == status, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert said in page.text
    assert "<script>" not in page.text and "<b>" not in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    twin = client.get("/api" + ("/overview" + path[1:] if path.startswith("/?") else path))
    assert twin.status_code == status
    assert twin.json()["detail"]


def test_every_route_answers_404_for_a_run_or_segmentation_it_does_not_have(
    client: Any, served: dict[str, Any]
) -> None:
    # Every GET route of the API, asked about a run or a segmentation that does not exist,
    # says so (the segments' list and the model cards answered 200 and nothing).
    run = served["runs"][-1]
    segment = served["store"].segments(run, "rule")[0]["segment"]
    found = client.get("/api/search", params={"q": "1"}).json()
    entity = found["rows"][0][found["columns"].index("entity_id")]
    real = {"segmentation": "rule", "segment": segment, "entity_id": entity}
    asked = 0
    for path, methods in client.app.openapi()["paths"].items():
        if "get" not in methods:
            continue
        params = {p["name"]: p["in"] for p in methods["get"].get("parameters", [])}
        url = path.format(**{k: quote(v, safe="") for k, v in real.items()})
        required = {"q": "1"} if "q" in params else {}
        for name in ("run", "a", "b", "segmentation"):
            if params.get(name) == "query":
                asked += 1
                got = client.get(url, params={**required, name: "nope"})
                assert got.status_code == 404, (path, name, got.status_code, got.text[:200])
                assert "'nope'" in got.json()["detail"]
    assert asked >= 10


def test_a_database_server_that_went_away_is_a_503(served: dict[str, Any]) -> None:
    # It was a 422, "the request is invalid", for a request nothing was wrong with.
    import sqlalchemy as sa
    from fastapi.testclient import TestClient

    from segwise.store import Store
    from segwise.web import create_app

    if not served["target"].startswith("postgresql://"):
        pytest.skip("a DuckDB file has no server")
    store = Store(served["target"])
    store.engine = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/x")
    with TestClient(create_app(store, scorers=[])) as c:
        twin = c.get("/api/overview")
        assert twin.status_code == 503 and "Fix: check the URL" in twin.json()["detail"]
        page = c.get("/")
        assert page.status_code == 503 and "Error 503" in page.text


def test_a_page_waiting_for_the_store_holds_up_no_other_request(
        tmp_path: Path, hostile_record: Any, trained_assigner: Any) -> None:
    # `segwise etl` writing while `segwise serve` runs (docs/store.md): a page waits for the
    # DuckDB file, up to the busy timeout. It waited on the event loop, so every other
    # request, POST /score and static files included, waited as long (9.5 s of 10 s).
    import subprocess
    import sys
    import threading
    import time

    from fastapi.testclient import TestClient

    from segwise.predict import OrderScorer
    from segwise.store import Store
    from segwise.web import AssignerScorer, create_app

    path = tmp_path / "held.duckdb"
    Store(path).write_run(hostile_record)
    store = Store(path, busy_timeout=6.0)
    holder = subprocess.Popen(  # noqa: S603 - our interpreter and code
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('held', flush=True); time.sleep(60)", str(path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        app = create_app(store, token=TOKEN,
                         scorers=[AssignerScorer(OrderScorer(trained_assigner))])
        with TestClient(app) as c:
            waiting: list[int] = []
            page = threading.Thread(target=lambda: waiting.append(
                c.get("/api/overview").status_code))
            page.start()
            time.sleep(0.5)  # the page is waiting for the file
            started = time.monotonic()
            scored = c.post("/score", json=NEW_CUSTOMER,
                            headers={"Authorization": f"Bearer {TOKEN}"})
            styled = c.get("/static/dashboard.css")
            took = time.monotonic() - started
            assert page.is_alive(), "the page should still be waiting for the store"
            assert scored.status_code == 200 and styled.status_code == 200
            assert took < 3.0, took
            holder.kill()
            page.join(timeout=30)
        assert waiting == [200]  # served once the other process let go
    finally:
        holder.kill()
        holder.wait()


def test_the_server_scores_with_the_assigner_the_store_holds(served: dict[str, Any]) -> None:
    from segwise.web import scorers_for

    scorers = scorers_for(served["store"])
    assert [s.name for s in scorers] == ["assigner"]
    assert scorers[0].scorer.segments == served["store"].models(served["runs"][1])[0]["card"][
        "segments"]


def test_a_server_without_a_model_says_how_to_give_it_one(served: dict[str, Any]) -> None:
    from fastapi.testclient import TestClient

    from segwise.web import create_app

    with TestClient(create_app(served["store"], token=TOKEN, scorers=[])) as bare:
        got = bare.post("/score", json={"customer_id": "x", "orders": []},
                        headers={"Authorization": f"Bearer {TOKEN}"})
        assert got.status_code == 404
        assert "no model to score with" in got.json()["detail"]
        assert "--model" in got.json()["detail"]
        assert "/score" not in bare.get("/openapi.json").json()["paths"]


def test_a_run_without_segments_has_an_overview_not_an_error(
        tmp_path: Path, hostile_record: Any) -> None:
    # A job that kept entities and no segments (`segwise mobility --no-segments --store`)
    # is, as the newest run, what the dashboard opens on: its overview says so and links
    # on (it was an error page), and the runs with segments stay reachable.
    from fastapi.testclient import TestClient

    from segwise.store import Store
    from segwise.web import create_app

    store = Store(tmp_path / "runs.duckdb")
    with_segments = store.write_run(hostile_record)
    bare = store.write_run(RunRecord(command="mobility", entities=hostile_record.entities))
    with TestClient(create_app(store, scorers=[])) as c:
        page = c.get("/")
        assert page.status_code == 200, page.text
        assert f"Run {bare} (mobility) stored no segments" in page.text
        assert 'href="/runs"' in page.text and "/quality?run=" in page.text
        twin = c.get("/api/overview").json()
        assert twin["segmentation"] is None and twin["segments"] == []
        assert "Champions" in c.get(f"/?run={with_segments}").text
    # A store holding only a model's training run (assigner train --store, to score with)
    # opened on an error page: "holds no run with entities yet".
    trained = Store(tmp_path / "models.duckdb")
    only = trained.write_run(RunRecord(command="assigner train"))
    with TestClient(create_app(trained, scorers=[])) as c:
        page = c.get("/")
        assert page.status_code == 200, page.text
        said = " ".join(page.text.split())
        assert f"Run {only} (assigner train) stored no segments: it keeps its" in said
        assert f"Run <b>{only}</b> (assigner train); finished " in said  # no "None" for
        assert "None" not in said  # its entities and source
        assert c.get("/api/overview").json()["run"]["run_id"] == only
        # Pages of entities still say there are none.
        assert "holds no run with entities yet" in c.get("/api/search?q=1").json()["detail"]
    with TestClient(create_app(Store(tmp_path / "empty.duckdb"), scorers=[])) as c:
        assert "holds no run with entities yet" in c.get("/api/overview").json()["detail"]


def test_runs_compare_the_same_kind_of_entity(tmp_path: Path, hostile_record: Any) -> None:
    # A store holding customers (order lines) and then users (events): the runs page
    # compared the two newest runs by id, so every customer looked gone and every user new
    # ("4,882 of 4,882 entities changed rule segment").
    import dataclasses
    import datetime as dt

    import pyarrow as pa
    from fastapi.testclient import TestClient

    from segwise.features import EntityTable, Feature, FeatureSet
    from segwise.store import SegmentLabels, Store
    from segwise.web import create_app

    users = FeatureSet(name="test_users", kind="events", entity="user", id_col="user_id",
                       features=(Feature("sessions", "integer", "sessions", cluster=True),))
    ids = [str(v) for v in hostile_record.entities.table.column(
        hostile_record.entities.id_col).to_pylist()][:50]  # the same ids, other entities
    table = pa.table({"user_id": ids, "sessions": list(range(50))})
    labels = pa.table({"entity_id": ids, "segment": ["busy"] * 50})
    events = RunRecord(command="rfe", entities=EntityTable(table, users),
                       segmentations=[SegmentLabels("rule", labels)])
    store = Store(tmp_path / "runs.duckdb")
    first = store.write_run(hostile_record)
    clicks = store.write_run(events)
    with TestClient(create_app(store, scorers=[])) as c:
        alone = c.get("/api/runs").json()
        assert (alone["run_a"], alone["run_b"], alone["flows"]) == (None, clicks, [])
        # Before offers only other runs of the kind: here none, and no Before to choose.
        assert (alone["choices"], alone["choices_before"]) == ([clicks, first], [])
        assert alone["note"] == (f"No other run holds the users from events that run {clicks} "
                                 "holds: a migration compares two such runs.")
        page = c.get("/runs").text
        assert alone["note"] in page and 'name="a"' not in page
        assert c.get(f"/api/runs?b={first}").json()["choices_before"] == []
        for same in (c.get(f"/api/runs?a={first}&b={first}"), c.get(f"/api/runs?a={clicks}")):
            assert same.status_code == 400 and "both" in same.json()["detail"]
        mixed = c.get(f"/api/runs?a={first}&b={clicks}")
        assert mixed.status_code == 400
        assert mixed.json()["detail"].startswith(
            f"run {first} holds customers from orders and run {clicks} users from events")
        # Runs of two kinds are refused as such, whatever segmentations they hold (they
        # were "share no segmentation", or a segmentation one of them lacks).
        learned = store.write_run(dataclasses.replace(events, segmentations=[
            SegmentLabels("clusters", labels)]))
        for query in (f"a={first}&b={learned}", f"a={first}&b={clicks}&segmentation=learned"):
            answer = c.get(f"/api/runs?{query}")
            assert answer.status_code == 400, query
            assert "users from events" in answer.json()["detail"]
        # A run's segments are its first segmentation's unless one is named (not "rule").
        assert [s["segment"] for s in c.get(f"/api/segments?run={learned}").json()] == ["busy"]
        store.delete_run(learned)
        # A later run of customers is compared with the earlier one, past the users' run.
        second = store.write_run(dataclasses.replace(hostile_record,
                                                     started_at=dt.datetime.now()))
        both = c.get("/api/runs").json()
        assert (both["run_a"], both["run_b"], both["segmentation"]) == (first, second, "rule")
        assert both["choices_before"] == [first]
        # The form's empty fields are the defaults (an empty segmentation was a 404).
        form = c.get(f"/api/runs?a=&b={second}&segmentation=").json()
        assert (form["run_a"], form["segmentation"]) == (first, "rule")
        assert sum(f["n"] for f in both["flows"]) == hostile_record.entities.n_entities
        assert "Segment migration (rows: before" in c.get("/runs").text
        assert f"of {hostile_record.entities.n_entities:,} customers changed rule segment " \
            f"between run {first} and run {second}" in c.get("/runs").text
        # A migration of learned segments is from the newest earlier run that has them,
        # past one of rule segments alone (it was a 404 naming a run nobody chose).
        rule_only = dataclasses.replace(hostile_record, started_at=dt.datetime.now(),
                                        segmentations=[hostile_record.segmentations[0]])
        assert rule_only.segmentations[0].name == "rule"
        store.write_run(rule_only)
        third = store.write_run(dataclasses.replace(hostile_record,
                                                    started_at=dt.datetime.now()))
        learned_flows = c.get("/api/runs?segmentation=learned").json()
        assert (learned_flows["run_a"], learned_flows["run_b"]) == (second, third)
        # A customer's segment history is of customers: user ids[0] of the events run is
        # another entity (it was listed among the customer's segments, as "busy").
        customer = c.get(f"/api/entities/{quote(ids[0], safe='')}").json()
        customers = {r["run_id"] for r in store.runs() if r["kind"] == "orders"}
        assert len(customers) == 4  # first, second, rule_only's and third
        assert {h["run_id"] for h in customer["history"]} == customers
        assert "busy" not in {h["segment"] for h in customer["history"]}
        user = c.get(f"/api/entities/{quote(ids[0], safe='')}?run={clicks}").json()
        assert [(h["run_id"], h["segment"]) for h in user["history"]] == [(clicks, "busy")]


def test_many_long_segment_names_get_a_bar_each_they_can_be_read_by(tmp_path: Path) -> None:
    # 40 learned segments named by their features ("High NumWebPurchases, high MntWines
    # (higher MntMeatProducts)"): the vertical bars' slanted names took the figure's
    # height and left the bars a strip 40 px high, with the share axis in fractions.
    import pyarrow as pa

    from segwise.features import EntityTable, Feature, FeatureSet
    from segwise.jobs import named_labels
    from segwise.store import Store

    people = FeatureSet(name="test_people", kind="people", entity="person", id_col="id",
                        features=(Feature("income", "number", "currency", cluster=True),))
    names = [f"High income, low recency (higher wines, tier {i} of 40) ✓ שלום" for i in range(40)]
    ids = [f"p{i}" for i in range(400)]
    entities = EntityTable(pa.table({"id": ids, "income": [float(i) for i in range(400)]}),
                           people)
    store = Store(tmp_path / "runs.duckdb")
    store.write_run(RunRecord(command="segment", entities=entities, segmentations=[
        named_labels(entities, "learned", ids, [names[i % 40] for i in range(400)],
                     order=names)]))
    [shares] = pages.overview_page(store)["charts"]
    figure = shares["figure"]
    assert all(t["orientation"] == "h" and t["y"] == names for t in figure["data"])
    assert figure["layout"]["height"] >= 40 * 20 + 150  # a row of at least 20 px a bar
    assert figure["layout"]["yaxis"]["autorange"] == "reversed"  # the first on top
    assert figure["layout"]["xaxis"]["tickformat"] == ".0%"  # shares read as percentages
    assert figure["data"][0]["x"] == [pytest.approx(0.025)] * 40
