"""Odd input never gets a 5xx, and never costs the connection.

On PostgreSQL (which, unlike SQLite, refuses a NUL in text), through a real server and ONE
kept-alive connection: every POST route of the app (walked from `app.routes`) gets NULs and
other control characters, huge and odd numbers, odd dates and deeply nested JSON, and every GET
route's query parameters get the same. No answer may be 500 or more, and every request after
one of them must travel on the same connection (a dropped connection would show as a new one).
Then a route that really fails: its 500 page is sent, and the next request on that same
connection still works.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Route

from app.web.security import respondent_csrf_for
from tests.helpers.auth import sign_in_as
from tests.robust.conftest import _free_port
from tests.security.conftest import build_world
from tests.security.test_route_matrix import MATRIX, Ctx, _url

HOSTILE_TEXT = [
    "nul\x00in the middle",
    "bell\x07 and escape\x1b[31m",
    "9" * 40,
    "9999-12-31T23:59:59+14:00",
    "2027-02-30",
]
HOSTILE_QUERY = ["nul\x00", "-" + "9" * 30, "0000-00-00T25:61"]
DEEP_JSON = b'{"item_id": ' + b"[" * 5000 + b"]" * 5000 + b"}"
SURROGATE_JSON = b'{"item_id": "\\ud800", "value": "x\\u0000y", "domain_id": "purpose", "comment": "\\ud800"}'
# Routes that would end the signed-in session the rest of the run needs.
SKIP = {"POST /logout"}


@pytest.fixture(params=["postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """PostgreSQL only: it is the database that refuses what SQLite stores."""
    return request.param


def _form_fields(route: APIRoute | Route) -> list[str]:
    if not isinstance(route, APIRoute):  # a plain route reads its own body: the generic fields
        return []
    fields = list(route.dependant.body_params)
    for sub in route.dependant.dependencies:
        fields += list(sub.body_params)
    return [f.alias for f in fields if f.alias != "csrf_token"]


def _query_fields(route: APIRoute | Route) -> list[str]:
    if not isinstance(route, APIRoute):
        return ["lang"]  # the one query parameter the respondent's plain routes read
    fields = list(route.dependant.query_params)
    for sub in route.dependant.dependencies:
        fields += list(sub.query_params)
    return [f.alias for f in fields]


def _stream(response: httpx.Response) -> int:
    return id(response.extensions["network_stream"])


def test_every_route_survives_hostile_input_on_one_connection(db, live):
    world = build_world(db)
    ctx = Ctx(world=world, side=world.a, other=world.b, db=db, app=live.app)
    routes = {
        f"{method} {context.path}": context.original_route
        for context in iter_route_contexts(live.app.routes)
        # FastAPI's routes and the plain ones (the respondent's form page and autosave)
        if isinstance(context.original_route, (APIRoute, Route))
        for method in context.original_route.methods - {"HEAD"}
    }
    assert {"GET /respond/{token}/page/{number}", "POST /respond/{token}/autosave"} <= set(routes)
    client = httpx.Client(
        base_url=live.url,
        timeout=60,
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
    )
    csrf = sign_in_as(client, world.cast.admin, secret_key=live.settings.secret_key, engine=live.engine)
    first = client.get("/admin")
    assert first.status_code == 200
    connection = _stream(first)
    failures: list[str] = []
    sent = 0

    def send(method: str, url: str, **kwargs: Any) -> None:
        nonlocal sent
        response = client.request(method, url, follow_redirects=False, **kwargs)
        sent += 1
        if response.status_code >= 500:
            failures.append(f"{method} {url} {str(kwargs)[:120]} -> {response.status_code}")
        if _stream(response) != connection:
            failures.append(f"{method} {url}: the connection was dropped before this request")

    for key, route in sorted(routes.items()):
        method, path = key.split(" ", 1)
        if key in SKIP or key not in MATRIX:
            continue
        url = _url(key, MATRIX[key], ctx).split("?")[0]
        token = re.match(r"/respond/([^/]+)/", url)
        token_csrf = respondent_csrf_for(live.settings.secret_key, token.group(1)) if token else csrf
        headers = {"X-CSRF-Token": token_csrf}
        if method == "GET":
            for name in _query_fields(route):
                for value in HOSTILE_QUERY:
                    send("GET", url, params={name: value})
            continue
        fields = _form_fields(route) or ["name", "value"]
        for value in HOSTILE_TEXT:
            send(
                method, url, data={**dict.fromkeys(fields, value), "csrf_token": token_csrf}, headers=headers
            )
        bodies = [DEEP_JSON, SURROGATE_JSON]
        if path.endswith("/autosave"):
            bodies.append(b'{"item_id": "pps_status", "value": "employ", "page": ' + b"9" * 5000 + b"}")
        for body in bodies:
            send(
                method,
                url,
                content=body,
                headers={**headers, "Content-Type": "application/json", "Accept": "application/json"},
            )
    assert sent > 250, f"only {sent} requests were sent: the route walk found too little"
    assert not failures, "\n".join(failures[:40])


def test_after_a_500_page_the_same_connection_still_works(engine, tmp_path):
    from app.config import Settings
    from app.web.main import create_app

    port = _free_port()
    settings = Settings(PEERREADY_ENV="test", PEERREADY_DATA_DIR=tmp_path / "data")
    broken = create_app(settings=settings, engine=engine)

    @broken.get("/broken-on-purpose")
    def fail() -> None:
        raise RuntimeError("a bug")

    server = uvicorn.Server(uvicorn.Config(broken, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive()
        time.sleep(0.05)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/broken-on-purpose")
        failed = connection.getresponse()
        body = failed.read().decode()
        assert failed.status == 500 and "Something went wrong on our side" in body
        # The same socket: http.client does not reconnect on its own after a server close.
        connection.request("GET", "/login")
        after = connection.getresponse()
        assert after.status == 200, after.status
        after.read()
        connection.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
