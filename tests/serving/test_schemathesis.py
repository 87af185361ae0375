"""schemathesis against the live OpenAPI schema (uvicorn on loopback, an admin key):
every operation, bounded examples, on SQLite and PostgreSQL. No answer may be a 5xx and
every answer must match the schema (status code, content type, headers, body)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from serving.keys import create_key
from serving.service import Service
from tests.conftest import require
from tests.serving.conftest import Workspace, make_settings, served_at

EXAMPLES = 8
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, workspace: Workspace,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, admin key) of a live service on a fresh database."""
    from tests.serving.conftest import _PG_WHY, _drop_postgres, _fresh_postgres

    name = None
    if request.param == "sqlite":
        url = f"sqlite:///{Path(tmp_path_factory.mktemp('st')) / 'service.db'}"
    else:
        admin = request.getfixturevalue("postgres_admin_url")
        require(admin is not None,
                "schemathesis on PostgreSQL skipped: CHANNELCAST_TEST_POSTGRES_URL is "
                f"unset and {_PG_WHY.get('why', 'no server could be started')}.")
        url, name = _fresh_postgres(admin)
    service = Service(make_settings(workspace, url))
    with served_at(service) as base:
        _, key = create_key(service.db, name="schemathesis-admin", role="admin")
        yield base, key
    if name is not None:
        _drop_postgres(request.getfixturevalue("postgres_admin_url"), name)


def _run(operation, mode: GenerationMode, base: str, key: str) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case) -> None:
        case.call_and_validate(base_url=base, headers={"X-API-Key": key}, checks=CHECKS)

    check()


def test_api_conforms_to_its_schema_and_never_answers_5xx(server: tuple[str, str]):
    base, key = server
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    failures, ran = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            ran += 1
            try:
                _run(operation, mode, base, key)
            except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                assert mode == GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as exc:  # report every operation's failure
                failures.append(f"{operation.label} [{mode}]: {exc}")
    assert ran >= 2 * 15
    assert not failures, "\n\n".join(failures)
