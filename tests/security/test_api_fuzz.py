"""Fuzz every operation of the JSON API (whatever /api routes exist when the tests run) as a signed-in
funder: no input may produce a server error. Bounded: 25 examples per operation, no deadline."""

from __future__ import annotations

import os

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from tests.helpers.auth import make_cast, sign_in_as
from tests.security.test_route_matrix import app_routes

EXAMPLES_PER_OPERATION = 25


def test_api_never_answers_with_a_server_error(app, db):
    cast = make_cast(db)
    with TestClient(app) as client:
        sign_in_as(client, cast.funder_p)
        cookie = client.cookies.get("peerready_session")
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the API schema lists no operations"
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            # CI replays the same examples each run; local runs keep exploring new ones.
            derandomize=os.environ.get("CI") == "true",
        )
        def fuzz(case):
            response = case.call(cookies={"peerready_session": cookie})
            if response.status_code >= 500 or "traceback" in response.text.lower():
                failures.append(
                    f"{case.method} {case.formatted_path} {case.query!r} -> {response.status_code}"
                )

        fuzz()
    assert not failures, "Server errors:\n" + "\n".join(sorted(set(failures))[:50])


def test_the_fuzz_covers_every_api_route(app):
    """Every /api/v… route is in the OpenAPI document, so the fuzz run reaches it."""
    documented = {
        f"{method.upper()} {path}"
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    api_routes = {key for key in app_routes(app) if key.split(" ", 1)[1].startswith("/api/v")}
    assert api_routes <= documented, (
        f"API routes missing from the schema (not fuzzed): {api_routes - documented}"
    )
