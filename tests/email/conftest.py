"""Email fixtures: a real SMTP server (aiosmtpd) on 127.0.0.1 for the whole module, settings that
send through it with the immediate queue, a cast, and an empty cycle to invite people to."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session

from app.config import Settings
from app.db.models import Assessment, Organization
from app.paths import INSTRUMENTS_DIR
from app.services.report_samples import snapshot_instrument
from tests.helpers.auth import Cast, make_cast

QUICK_CHECK = INSTRUMENTS_DIR / "quick-check.yaml"
LINK = re.compile(r"https?://\S+/i/([A-Za-z0-9_-]{20,100})(?=\s|$)")
RESET_LINK = re.compile(r"https?://\S+/password/reset/([A-Za-z0-9_-]{20,100})(?=\s|$)")


@dataclass
class Mailbox:
    """What the SMTP server received; addresses in `refuse` are refused at RCPT with a 550."""

    messages: list[EmailMessage] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 <" + address + ">: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    def reset(self) -> None:
        self.messages.clear()
        self.refuse.clear()


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


def link_in(message: EmailMessage) -> str:
    match = LINK.search(body_text(message))
    assert match, body_text(message)
    return match.group(1)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = _free_port()
    # hostname 127.0.0.1: None would bind ::1 only (aiosmtpd's documented pitfall).
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, loop=asyncio.new_event_loop())
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


@pytest.fixture
def mailbox(smtp_server: tuple[Mailbox, int]) -> Iterator[Mailbox]:
    box, _ = smtp_server
    box.reset()
    yield box
    box.reset()


def smtp_settings(port: int, data_dir: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "PEERREADY_ENV": "test",
        "PEERREADY_DATA_DIR": data_dir,
        "PEERREADY_QUEUE": "immediate",
        "PEERREADY_SMTP_HOST": "127.0.0.1",
        "PEERREADY_SMTP_PORT": port,
        "PEERREADY_SMTP_STARTTLS": False,
        "PEERREADY_MAIL_FROM": "Alder survey <survey@alder.example.org>",
        "PEERREADY_BASE_URL": "http://testserver",
    }
    values.update(extra)
    return Settings(**values)


@pytest.fixture
def settings(smtp_server: tuple[Mailbox, int], tmp_path: Path) -> Settings:
    """The app fixture of tests/conftest.py sends through the test SMTP server, jobs immediate."""
    return smtp_settings(smtp_server[1], tmp_path / "data")


@pytest.fixture
def cast(db: Session) -> Cast:
    return make_cast(db)


def empty_cycle(db: Session, organization: Organization, *, name: str = "Spring 2027") -> Assessment:
    version, _ = snapshot_instrument(db, QUICK_CHECK)
    assessment = Assessment(organization_id=organization.id, instrument_version_id=version.id, name=name)
    db.add(assessment)
    db.commit()
    return assessment


@pytest.fixture
def cycle(db: Session, cast: Cast) -> Assessment:
    return empty_cycle(db, cast.org_a)
