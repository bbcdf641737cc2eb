"""Without an SMTP host nothing is sent: messages go to the outbox administrators read. And the
same invitations from the command line (`peerready invite`)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlmodel import select

from app.cli import cli
from app.config import Settings
from app.db.models import EmailMessage, EmailRecipient
from tests.email.conftest import LINK, link_in
from tests.helpers.auth import sign_in_as
from tests.helpers.html import parse


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        PEERREADY_ENV="test",
        PEERREADY_DATA_DIR=tmp_path / "data",
        PEERREADY_QUEUE="immediate",
        PEERREADY_BASE_URL="http://testserver",
    )


def test_without_smtp_host_messages_wait_in_the_outbox_that_only_admins_read(app, client, db, cast, cycle):
    csrf = sign_in_as(client, cast.lead_a)
    page = parse(
        client.post(
            f"/assessments/{cycle.id}/email",
            data={"csrf_token": csrf, "group": "clinical", "addresses": "ana@example.org", "language": "es"},
        )
    )
    assert "nothing leaves this computer" in page.text("main")
    message = db.exec(select(EmailMessage)).one()
    assert message.status == "outbox" and message.to_address == "ana@example.org"
    assert db.exec(select(EmailRecipient.language)).one() == "es"
    assert client.get("/admin/outbox").status_code == 403

    from fastapi.testclient import TestClient

    with TestClient(app, base_url="http://testserver") as admin:
        sign_in_as(admin, cast.admin)
        listing = parse(admin.get("/admin/outbox"))
        assert listing.records("table")[0]["To"] == "ana@example.org"
        shown = parse(admin.get(f"/admin/outbox/{message.id}"))
        token = LINK.search(shown.text("pre")).group(1)
    # The link in the outbox copy works like a mailed one.
    with TestClient(app, base_url="http://testserver") as respondent:
        assert respondent.get(f"/i/{token}", follow_redirects=False).status_code == 303


def test_peerready_invite_from_the_command_line(engine, db, cast, cycle, tmp_path, smtp_server, mailbox):
    _, port = smtp_server
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "name,email,language\nAna,ana@example.org,es\nBen,ben@example.org,\nX,not-an-address,\n"
    )
    env = {
        "PEERREADY_ENV": "test",
        "PEERREADY_DATA_DIR": str(tmp_path / "cli-data"),
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "PEERREADY_QUEUE": "immediate",
        "PEERREADY_SMTP_HOST": "127.0.0.1",
        "PEERREADY_SMTP_PORT": str(port),
        "PEERREADY_SMTP_STARTTLS": "false",
        "PEERREADY_BASE_URL": "https://survey.example.org",
    }
    runner = CliRunner(env=env)
    result = runner.invoke(cli, ["invite", str(cycle.id), "--group", "peer_staff", "--file", str(csv_file)])
    assert result.exit_code == 0, result.output
    assert "2 added" in result.output and "1 not understood" in result.output
    assert sorted(m["To"] for m in mailbox.messages) == ["ana@example.org", "ben@example.org"]
    assert all(
        "https://survey.example.org/i/" in m.get_body(("plain",)).get_content() for m in mailbox.messages
    )
    assert len({link_in(m) for m in mailbox.messages}) == 2

    later = runner.invoke(
        cli,
        [
            "invite",
            str(cycle.id),
            "--group",
            "clinical",
            "--email",
            "chris@example.org",
            "--email",
            "dee@example.org",
            "--send-at",
            "2099-01-01T09:00",
            "--lang",
            "es",
        ],
    )
    assert later.exit_code == 0, later.output
    assert "They will be sent at 2099-01-01T09:00:00+00:00" in later.output
    assert len(mailbox.messages) == 2
    wrong = runner.invoke(cli, ["invite", str(cycle.id), "--group", "nobody", "--email", "a@example.org"])
    assert wrong.exit_code == 1 and "No group" in wrong.output
    both = runner.invoke(cli, ["invite", str(cycle.id), "--group", "clinical"])
    assert both.exit_code == 2
