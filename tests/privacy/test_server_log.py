"""Attack: read the server's log and open someone's link. Whoever can read the log of a running
`peerready serve` (an operator, a log service) would find every respondent's personal link in
uvicorn's access lines, open it, and read that person's answers; or a password-reset link. The
access log and the app's own log lines show those paths with the token replaced by "[link]"."""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlmodel import Session

from app.db import migrate
from app.db.engine import make_engine
from app.db.models import Membership, Organization, Role, User
from app.paths import INSTRUMENTS_DIR
from app.services import accounts, instruments_store, invitations
from app.services import assessments as assessments_service
from app.web.security import redact_path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _open_cycle(url: str) -> str:
    """A lead's open cycle of the quick instrument and a clinical group link (its token)."""
    engine = make_engine(url)
    migrate.upgrade(engine)
    with Session(engine, expire_on_commit=False) as db:
        organization = Organization(name="Log Reader Agency")
        lead = User(
            email="lead@log.example",
            name="Lead",
            role=Role.org_lead,
            password_hash=accounts.hash_password(secrets.token_urlsafe(16)),
        )
        db.add_all([organization, lead])
        db.flush()
        db.add(Membership(user_id=lead.id, organization_id=organization.id))
        assessment = assessments_service.create_assessment(
            db,
            user=lead,
            organization_id=organization.id,
            name="Logged",
            instrument_id="quick_check",
            instruments_dir=INSTRUMENTS_DIR,
        )
        instrument = instruments_store.instrument_for(db, assessment)
        _, token = invitations.create_invitation(
            db, user=lead, assessment=assessment, instrument=instrument, group="clinical"
        )
        db.commit()
    engine.dispose()
    return token


def test_the_server_log_holds_no_link_that_opens_a_response(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'peerready.sqlite3'}"
    link = _open_cycle(url)
    port = _free_port()
    log_file = tmp_path / "server.log"
    env = {
        **os.environ,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PEERREADY_ENV": "production",
        "PEERREADY_DATA_DIR": str(tmp_path),
        "PEERREADY_BASE_URL": f"http://127.0.0.1:{port}",
    }
    env.pop("DATABASE_URL", None)
    env.pop("PEERREADY_DATABASE_URL", None)
    peerready = Path(sys.executable).with_name("peerready")
    with log_file.open("wb") as sink:
        server = subprocess.Popen(
            [str(peerready), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                assert server.poll() is None, log_file.read_text()
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
            with httpx.Client(base_url=base, timeout=30) as browser:
                opened = browser.get(f"/r/{link}")
                assert opened.status_code == 303
                personal = re.match(r"/respond/([^/?]+)", opened.headers["location"]).group(1)  # type: ignore[union-attr]
                page = browser.get(f"/respond/{personal}/page/1?lang=en")
                assert page.status_code == 200
                csrf = re.search(r'data-csrf="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
                saved = browser.post(
                    f"/respond/{personal}/autosave",
                    json={"item_id": "nothing_such", "value": "1"},
                    headers={"X-CSRF-Token": csrf, "Accept": "application/json"},
                )
                assert saved.status_code == 400  # logged like any answer
                reset = secrets.token_urlsafe(32)
                assert browser.get(f"/password/reset/{reset}").status_code in (200, 404)
                email_link = secrets.token_urlsafe(32)
                assert browser.get(f"/i/{email_link}").status_code == 404
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    logged = log_file.read_text()
    # The requests were logged, as paths without their tokens...
    for path in (
        "/r/[link]",
        "/respond/[link]/page/1?lang=en",
        "/respond/[link]/autosave",
        "/password/reset/[link]",
        "/i/[link]",
    ):
        assert f'"GET {path} ' in logged or f'"POST {path} ' in logged, (path, logged[-3000:])
    # ...and no token that opens a response, an invitation or a password reset is in the log.
    for token in (link, personal, reset, email_link):
        assert token not in logged


def test_redaction_keeps_every_other_path_as_it_is():
    assert redact_path("/respond/abcDEF_123-xyz/page/2?lang=es") == "/respond/[link]/page/2?lang=es"
    assert redact_path("/r/abc") == "/r/[link]"
    assert redact_path("/password/reset/tok?x=1") == "/password/reset/[link]?x=1"
    assert redact_path("/x/respond/tok/page/1") == "/x/respond/[link]/page/1"  # under a root path
    assert redact_path("/login?next=/respond/tok/page/1") == "/login?next=/respond/[link]/page/1"
    for kept in ("/", "/respondents", "/results/3", "/admin/outbox", "/portfolio/1?q=r", "/api/v1/sites"):
        assert redact_path(kept) == kept
