"""The OpenAPI schema fuzzed with schemathesis: no 5xx, and every status code documented."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from .conftest import TOKEN

pytestmark = pytest.mark.slow


def test_api_conforms_to_its_schema(app: Any) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {
        "POST /score", "GET /api/search", "GET /api/segments", "DELETE /api/runs/{run_id}",
        "GET /api/entities/{entity_id}", "GET /api/overview"}
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def conforms(case: Any) -> None:
            # Every other check runs. Schema-valid is not always valid for the data: a sort
            # column the run lacks is a documented 400, which this check would call a failure.
            case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"},
                                   excluded_checks=[positive_data_acceptance])

        conforms()
