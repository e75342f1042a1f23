"""A store with two runs of the hostile sample, the app over it, and a small saved assigner."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

#: The token the tests' servers require.
TOKEN = "test-token-0123456789"  # noqa: S105 - a test server's


@pytest.fixture(scope="module")
def served(module_store_target: str, hostile_record: Any,
           assigner_file: Path) -> dict[str, Any]:
    """A store holding two runs of the hostile sample, the newer one with the assigner.

    Shared by a module's tests: a test that writes adds runs of its own.
    """
    from segwise.jobs import assigner_card
    from segwise.store import Store

    store = Store(module_store_target)
    first = store.write_run(hostile_record)
    hostile_record.models.append(assigner_card(assigner_file))
    try:
        second = store.write_run(hostile_record)
    finally:
        hostile_record.models.pop()
    return {"target": module_store_target, "store": store, "runs": [first, second]}


@pytest.fixture(scope="session")
def trained_assigner(assigner_file: Path) -> Any:
    from segwise.predict import TrainedAssigner

    return TrainedAssigner.load(assigner_file)


@pytest.fixture(scope="module")
def app(served: dict[str, Any], trained_assigner: Any) -> Any:
    """The application over ``served``, scoring with the small assigner."""
    from segwise.predict import OrderScorer
    from segwise.web import AssignerScorer, create_app

    return create_app(served["store"], token=TOKEN,
                      scorers=[AssignerScorer(OrderScorer(trained_assigner))])


@pytest.fixture(scope="module")
def client(app: Any) -> Any:
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def live_server(app: Any) -> Any:
    """The application served by uvicorn on 127.0.0.1 (a free port), in a thread."""
    import socket

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
