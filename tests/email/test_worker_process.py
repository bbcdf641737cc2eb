"""A real `peerready worker --burst` process sends the invitations that are due, through the
real SMTP server, from the SQLite queue file or PostgreSQL's queue tables."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlmodel import select

from app.db.models import EmailRecipient
from app.jobs.queue import get_queue
from app.services import email_invitations, instruments_store, jobs
from tests.email.conftest import link_in, smtp_settings
from tests.jobs.conftest import ROOT, worker_env

pytestmark = pytest.mark.slow


def test_worker_burst_sends_what_is_due(db, engine, cast, cycle, mailbox, smtp_server, tmp_path):
    _, port = smtp_server
    data_dir = tmp_path / "worker-data"
    data_dir.mkdir()
    settings = smtp_settings(
        port, data_dir, PEERREADY_QUEUE="auto", DATABASE_URL=engine.url.render_as_string(hide_password=False)
    )
    queue = get_queue(settings, engine)
    queue.flush()
    try:
        result = email_invitations.add_recipients(
            db,
            actor=cast.lead_a,
            assessment=cycle,
            instrument=instruments_store.instrument_for(db, cycle),
            group="leadership",
            parsed=email_invitations.parse_pasted("ana@example.org ben@example.org chris@example.org"),
            send_at=None,
            language="en",
            secret_key=settings.secret_key,
        )
        job = jobs.start(db, "email", params={"assessment_id": cycle.id}, user=None, settings=settings)
        assert result.added == 3 and job.status == "queued"
        assert mailbox.messages == []  # nothing is sent by the web process itself

        env = worker_env(settings)
        env.update(
            {
                "PEERREADY_SMTP_HOST": "127.0.0.1",
                "PEERREADY_SMTP_PORT": str(port),
                "PEERREADY_SMTP_STARTTLS": "false",
                "PEERREADY_BASE_URL": settings.base_url,
            }
        )
        burst = subprocess.run(
            [sys.executable, "-m", "app", "worker", "--burst"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert burst.returncode == 0, burst.stderr[-4000:]
        assert sorted(m["To"] for m in mailbox.messages) == [
            "ana@example.org",
            "ben@example.org",
            "chris@example.org",
        ]
        assert len({link_in(m) for m in mailbox.messages}) == 3
        db.expire_all()
        assert {r.status for r in db.exec(select(EmailRecipient))} == {"sent"}
    finally:
        queue.flush()
