"""Browser test fixtures shared by every area: a live PeerReady server and a real Chromium page.

- `live_server`: the app served by uvicorn in a thread on a free 127.0.0.1 port, backed by its
  own migrated SQLite file (one per test session, so one per pytest-xdist worker). Use
  `live_server.url` for the base URL and `with live_server.session() as session:` to create data
  (commits on exit). Tests share the
  server, so give created rows unique names (`live_server.unique("Agency")`).
- `browser`: one headless Debian Chromium per session (`playwright install` cannot download
  browsers here).
- `browser_page`: a fresh browser context (no cookies) and page per test.
- `login(page, live_server, email, password)`: signs in through the real /login form.
- `lead_with_cycle(db, live_server, ...)`: a new agency, its org lead (with a password to sign in
  with) and an open cycle, the setup the browser journeys share; `submit_colleagues` adds
  respondents who already submitted, so the cycle has results once it closes.
- `assert_accessible(page, what)`: axe-core finds no serious or critical violation.

Mark browser tests with `@pytest.mark.browser`. Registered for the whole suite by
tests/conftest.py (`pytest_plugins`), so every directory shares one server and one Chromium.
Without /usr/bin/chromium the browser tests skip with a reason, unless
PEERREADY_REQUIRE_BROWSER=1 (set by .ci/run), which makes a missing browser a failure.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.config import Settings
from app.db import migrate
from app.db.engine import make_engine, session_scope
from app.db.models import Assessment, Membership, Organization, Role, User

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def listening_socket() -> socket.socket:
    """A socket already bound to a free 127.0.0.1 port, handed to uvicorn as it is: picking a free
    port and binding it later races with the other test workers (and other programs) doing the same."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class LiveServer:
    url: str
    engine: Engine
    settings: Settings
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A database session on the server's database; commits when the block ends."""
        with session_scope(self.engine) as session:
            yield session

    def unique(self, prefix: str) -> str:
        """A name no other test in this session uses (tests share one database)."""
        return f"{prefix} {next(self._counter)}-{time.monotonic_ns() % 100000}"


@contextmanager
def serve_app(*, data_dir: Path, **settings: object) -> Iterator[LiveServer]:
    """PeerReady served by uvicorn in a thread on a free port, on its own migrated SQLite file in
    `data_dir`, with these extra settings (e.g. PEERREADY_QUEUE="sqlite" for a real worker)."""
    from app.web.main import create_app

    database = data_dir / "live.sqlite3"
    engine = make_engine(f"sqlite:///{database}")
    migrate.upgrade(engine)
    sock = listening_socket()
    port = sock.getsockname()[1]
    config_settings = Settings(
        PEERREADY_ENV="test",
        PEERREADY_DATA_DIR=data_dir,
        PEERREADY_BASE_URL=f"http://127.0.0.1:{port}",
        **{"PEERREADY_QUEUE": "immediate", **settings},  # type: ignore[arg-type]
    )
    app = create_app(settings=config_settings, engine=engine)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("The live server did not start within 15 seconds.")
        time.sleep(0.05)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", engine=engine, settings=config_settings)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        engine.dispose()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serve_app(data_dir=tmp_path_factory.mktemp("live")) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("PEERREADY_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}; PEERREADY_REQUIRE_BROWSER=1, so browser tests may not skip")
        pytest.skip(reason)

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def browser_page(browser) -> Iterator[object]:
    """A page in a fresh context: no cookies or storage from other tests."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def login(page, live_server: LiveServer, email: str, password: str) -> None:
    """Sign in through the real /login form (fields email, password; csrf_token is in the form)."""
    page.goto(f"{live_server.url}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.locator("form:has(input[name=password]) button[type=submit]").first.click()


def lead_with_cycle(
    db: Session,
    live_server: LiveServer,
    *,
    agency: str,
    email_prefix: str,
    password: str,
    lead_name: str = "Lee Lead",
    **cycle: str,
) -> tuple[User, Assessment]:
    """A new agency (its name made unique), its org lead `email_prefix<org id>@example.org` who
    signs in with `password`, and an open cycle started by the lead (`cycle`: start_cycle's
    `name`, `instrument_id`). Committed."""
    from app.services import accounts
    from tests.web.journey import start_cycle

    organization = Organization(name=live_server.unique(agency))
    db.add(organization)
    db.flush()
    lead = User(
        email=f"{email_prefix}{organization.id}@example.org",
        name=lead_name,
        role=Role.org_lead,
        password_hash=accounts.hash_password(password),
    )
    db.add(lead)
    db.flush()
    db.add(Membership(user_id=lead.id, organization_id=organization.id))
    db.commit()
    return lead, start_cycle(db, user=lead, organization_id=organization.id, **cycle)


def submit_colleagues(
    db: Session, *, lead: User, assessment: Assessment, groups: list[str], value: str = "2"
) -> None:
    """One submitted response per entry of `groups`, every question answered `value`."""
    from tests.web.journey import submit_all

    submit_all(db, user=lead, assessment=assessment, groups=groups, value=value)


def assert_accessible(page, what: str) -> None:
    """axe-core on the page as it is now: no serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    serious = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    assert not serious, f"{what}: " + results.generate_report()
