"""schemathesis against the served /openapi.json of a real app, with an admin and a staff token.

Every operation gets generated requests, valid (positive) and schema-breaking
(negative), from both tokens. Checks: no 5xx, the status is one the document lists,
the content type and the body match the document (the error shape included), and
data that breaks the schema is refused. The run is bounded (``MAX_EXAMPLES`` per
operation, mode and token) and deterministic (``derandomize``), so CI is repeatable;
the number of cases tried is printed (``pytest -s``) and must be above a floor.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import schemathesis
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from gateway import announcements
from gateway.http.api import all_routes
from gateway.http.server import build_app
from gateway.models import ChatKind, TargetId
from gateway.runtime import Runtime
from gateway.targets import TargetDirectory
from gateway.tokens import Role, TokenStore
from tests.tickets.conftest import make_tickets

MAX_EXAMPLES = int(os.environ.get("PALM_FUZZ_EXAMPLES", "30"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@dataclass
class Tally:
    cases: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    operations: set[tuple[str, str]] = field(default_factory=set)


@pytest.fixture
async def base_url(runtime: Runtime) -> AsyncIterator[str]:
    """palm's app on a real socket, with a target, an announcement and three tickets."""
    directory = TargetDirectory(runtime.redis, runtime.keys)
    await directory.upsert(TargetId("telegram:-1001"), ChatKind.GROUP, "Building 5")
    await directory.tag(TargetId("telegram:-1001"), ["building:5"])
    await announcements.create(runtime, text="Water off **Tue**", to="building:5")
    await make_tickets(runtime, ["5号楼消防栓坏了", "lift stuck", "noise"])
    server = TestServer(build_app(runtime), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def _fuzz(base: str, tokens: dict[str, str], tally: Tally) -> None:
    schema = schemathesis.openapi.from_url(base + "/api/v1/openapi.json")
    session = requests.Session()
    for result in schema.get_all_operations():
        operation = result.ok()
        tally.operations.add((operation.method.upper(), operation.path))
        for who, token in tokens.items():
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                run = _one_operation(operation, mode, base, session, token, tally)
                try:
                    run()
                except (Exception, BaseExceptionGroup) as exc:
                    tally.failures.append(f"{operation.label} [{who}, {mode.value}]: {exc!r}")


def _one_operation(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    base: str,
    session: requests.Session,
    token: str,
    tally: Tally,
) -> Callable[[], None]:
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        response = case.call(
            base_url=base, session=session, headers={"Authorization": f"Bearer {token}"}
        )
        tally.cases += 1
        tally.by_status[response.status_code] = tally.by_status.get(response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=CHECKS)
        except BaseExceptionGroup as exc:
            if not _not_negative_as_sent(exc, response, operation):
                raise

    return run


_UNSENT = "header: violates `required` (was Authorization)"
"""The harness sends the token on every case, so a case that is negative by this alone
(or with an extra query parameter that the URL does not carry) is valid as sent."""


def _not_negative_as_sent(
    exc: BaseExceptionGroup, response: requests.Response, operation: schemathesis.APIOperation
) -> bool:
    """Only "schema-violating request accepted", and every listed violation is one that
    never left the harness: the Authorization header (sent anyway) or an additional query
    parameter that the request as sent does not have."""
    failures = list(exc.exceptions)
    if not failures or any(type(f).__name__ != "AcceptedNegativeData" for f in failures):
        return False
    known = {p.name for p in operation.iter_parameters() if p.location == "query"}
    sent = set(parse_qs(urlsplit(str(response.request.url)).query, keep_blank_values=True))
    for failure in failures:
        listed = [
            line.strip()[2:] for line in str(failure.message).splitlines()
            if line.strip().startswith("- ")
        ]  # fmt: skip
        if not listed:
            return False
        for violation in listed:
            extra_not_sent = violation == "query: violates `additionalProperties`" and sent <= known
            if violation != _UNSENT and not extra_not_sent:
                return False
    return True


@pytest.mark.slow
async def test_every_route_no_5xx_and_answers_match_the_document(
    base_url: str, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="palm.http")
    store = TokenStore(runtime.redis, runtime.keys)
    tokens = {
        "admin": await store.create("fuzz-admin", Role.ADMIN),
        "staff": await store.create("fuzz-staff", Role.STAFF),
    }
    tally = Tally()
    await asyncio.to_thread(_fuzz, base_url, tokens, tally)
    print(f"\nschemathesis: {tally.cases} cases, statuses {sorted(tally.by_status.items())}")
    assert not tally.failures, "\n\n".join(tally.failures)
    assert not any(code >= 500 for code in tally.by_status)
    assert not [r for r in caplog.records if r.getMessage() == "unhandled error"]
    # Every operation ran, from both tokens, in both modes.
    assert tally.operations == {(r.method, "/api/v1" + r.path) for r in all_routes()}
    assert tally.cases >= len(tally.operations) * 4 * 5
    assert any(200 <= code < 300 for code in tally.by_status)
