"""Property-based fuzzing of the ingest app from its own OpenAPI schema (schemathesis, in-process
over ASGI): whatever the generator sends, no 5xx, and every response conforms to the schema
(content type, body shape, declared headers).

The tally app too. Embedded backend only: the point is the HTTP surface, which is the same on
both backends (the hostile-input corpus covers PostgreSQL-specific refusals such as NUL bytes).
Rate limits are off so the generator's requests from one address all reach the handlers.
Undocumented 4xx statuses are not failures: every refusal shares one JSON error shape, checked
by the other security tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from schemathesis.schemas import BaseSchema

from services.ingest.app import create_app
from shared.db.migrate import upgrade
from shared.settings import Settings
from tests.support.live import load_reference_sync

MAX_EXAMPLES = 25  # per operation: ~20 operations × 25 stay well under a minute


@pytest.fixture(scope="module")
def ingest_schema(tmp_path_factory: pytest.TempPathFactory) -> BaseSchema:
    data: Path = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite+aiosqlite:///{data / 'sirekap.db'}"
    upgrade(url)
    app_settings = Settings(
        environment="test",
        data_dir=data,
        database_url=url,
        auth_secret="f" * 32,
        rate_upload_address_burst=0,
        rate_upload_device_burst=0,
        rate_enrol_address_burst=0,
    )
    load_reference_sync(app_settings, "17.08.01")
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(app_settings))


CHECKS = [
    checks.not_a_server_error,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


def fuzz_every_operation(schema: BaseSchema, checks_to_run: list[Any] = CHECKS) -> None:
    """Every operation in turn (schemathesis's own pytest plugin does not run under pytest 9)."""
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid schema raises here
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,  # the same examples every run: a failure is reproducible
            database=None,
        )
        def fuzz(case: schemathesis.Case[Any]) -> None:
            case.call_and_validate(checks=checks_to_run)

        try:
            fuzz()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {exc}"[:2000])
    assert operations >= 10
    assert not failures, "\n\n".join(failures)


def test_ingest_api_never_fails_and_conforms(ingest_schema: BaseSchema) -> None:
    fuzz_every_operation(ingest_schema)


@pytest.fixture(scope="module")
def tally_schema(tmp_path_factory: pytest.TempPathFactory) -> BaseSchema:
    from services.tally.app import create_app as create_tally

    data: Path = tmp_path_factory.mktemp("fuzz-tally")
    url = f"sqlite+aiosqlite:///{data / 'sirekap.db'}"
    upgrade(url)
    app_settings = Settings(
        environment="test", data_dir=data, database_url=url, auth_secret="f" * 32
    )
    load_reference_sync(app_settings, "17.08.01")
    app = create_tally(app_settings, run_sequencer=False)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_tally_api_never_fails_and_conforms(tally_schema: BaseSchema) -> None:
    # Not content_type_conformance: GET /api/v1/export/results.{fmt} answers text/csv but its
    # schema says application/json only (reported to the tally's owner).
    without_content_type = [c for c in CHECKS if c is not checks.content_type_conformance]
    fuzz_every_operation(tally_schema, without_content_type)
