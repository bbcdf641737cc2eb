"""Email invitations end to end with a real SMTP server, through the web pages, the immediate job
queue and `deliver_due` (what the worker runs), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from app.db.models import EmailMessage, EmailRecipient, Response, ResponseStatus, utcnow
from app.services import email_invitations
from tests.email.conftest import body_text, link_in
from tests.helpers.auth import sign_in_as
from tests.helpers.html import parse

PEOPLE = ["ana@example.org", "ben@example.org", "chris@example.org"]


def _invite(client, cycle_id: int, csrf: str, addresses: str, **extra):
    return client.post(
        f"/assessments/{cycle_id}/email",
        data={"csrf_token": csrf, "group": "peer_staff", "addresses": addresses, **extra},
    )


def _log(client, cycle_id: int) -> dict[str, dict[str, str]]:
    page = parse(client.get(f"/assessments/{cycle_id}/email"))
    return {record["Address"]: record for record in page.records("table")}


def _responses(db: Session, cycle_id: int) -> list[Response]:
    db.expire_all()
    return list(db.exec(select(Response).where(Response.assessment_id == cycle_id)))


def _fresh_client(app):
    from fastapi.testclient import TestClient

    return TestClient(app, base_url="http://testserver")


def test_three_addresses_get_three_messages_whose_links_open_three_responses(
    app, client, db, cast, cycle, mailbox
):
    csrf = sign_in_as(client, cast.lead_a)
    page = parse(
        _invite(client, cycle.id, csrf, "Ana <ana@example.org>, ben@example.org\nchris@example.org; bad@")
    )
    assert page.flashes()[0].startswith("3 people added")
    assert any("bad@" in alert for alert in page.alerts())

    assert sorted(m["To"] for m in mailbox.messages) == PEOPLE
    message = mailbox.to("ana@example.org")[0]
    assert "Alder Family Services" in message["Subject"]
    assert message["From"] == "Alder survey <survey@alder.example.org>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_body(preferencelist=("html",)) is not None
    tokens = {m["To"]: link_in(m) for m in mailbox.messages}
    assert len(set(tokens.values())) == 3
    assert f"/i/{tokens['ana@example.org']}/opt-out" in body_text(message)
    # Only hashes are stored: no token appears in any stored row.
    for row in db.exec(select(EmailRecipient)):
        assert row.token_hash not in tokens.values() and row.link_nonce not in tokens.values()
    assert all(m.body_text is None for m in db.exec(select(EmailMessage)))  # sent by SMTP: no bodies kept

    # Each link, in its own browser, opens its own response; opening it again resumes it.
    for token in tokens.values():
        with _fresh_client(app) as browser:
            opened = browser.get(f"/i/{token}", follow_redirects=False)
            assert opened.status_code == 303 and opened.headers["location"] == f"/respond/{token}"
            first_page = browser.get(f"/i/{token}")
            assert first_page.status_code == 200 and f"/respond/{token}/page/0" in str(first_page.url)
    responses = _responses(db, cycle.id)
    assert len(responses) == 3 and {r.group for r in responses} == {"peer_staff"}
    with _fresh_client(app) as again:
        again.get(f"/i/{tokens['ana@example.org']}")
    assert len(_responses(db, cycle.id)) == 3

    log = _log(client, cycle.id)
    assert set(log) == set(PEOPLE)
    assert {r["Status"] for r in log.values()} == {"Sent"}
    assert {r["Submitted"] for r in log.values()} == {"Not yet"}


def test_reminders_reach_only_people_who_have_not_submitted_and_stop_after_the_limit(
    app, client, db, engine, cast, cycle, mailbox, settings
):
    csrf = sign_in_as(client, cast.lead_a)
    _invite(client, cycle.id, csrf, ", ".join(PEOPLE))
    tokens = {m["To"]: link_in(m) for m in mailbox.messages}
    with _fresh_client(app) as browser:
        browser.get(f"/i/{tokens['ana@example.org']}")
    ana = db.exec(select(Response).where(Response.assessment_id == cycle.id)).one()
    ana.status, ana.submitted_at = ResponseStatus.submitted, utcnow()  # Ana has submitted
    db.add(ana)
    db.commit()
    mailbox.messages.clear()

    assert email_invitations.deliver_due(engine, settings, now=utcnow() + timedelta(days=6)).reminders == 0
    first = email_invitations.deliver_due(engine, settings, now=utcnow() + timedelta(days=7, minutes=1))
    assert first.reminders == 2
    assert sorted(m["To"] for m in mailbox.messages) == ["ben@example.org", "chris@example.org"]
    assert all(m["Subject"].startswith("Reminder") for m in mailbox.messages)
    assert {link_in(m) for m in mailbox.messages} == {tokens["ben@example.org"], tokens["chris@example.org"]}

    # Ben submits after the first reminder: only Chris gets the second; nobody a third.
    with _fresh_client(app) as browser:
        browser.get(f"/i/{tokens['ben@example.org']}")
    ben = next(r for r in _responses(db, cycle.id) if r.id != ana.id)
    ben.status = ResponseStatus.submitted
    db.add(ben)
    db.commit()
    mailbox.messages.clear()
    assert email_invitations.deliver_due(engine, settings, now=utcnow() + timedelta(days=15)).reminders == 1
    assert [m["To"] for m in mailbox.messages] == ["chris@example.org"]
    assert email_invitations.deliver_due(engine, settings, now=utcnow() + timedelta(days=40)).reminders == 0

    log = _log(client, cycle.id)
    assert (log["ana@example.org"]["Submitted"], log["ana@example.org"]["Reminders"]) == ("Yes", "0")
    assert (log["ben@example.org"]["Submitted"], log["ben@example.org"]["Reminders"]) == ("Yes", "1")
    assert (log["chris@example.org"]["Submitted"], log["chris@example.org"]["Reminders"]) == ("Not yet", "2")


def test_the_reminder_schedule_is_set_per_cycle(client, db, engine, cast, cycle, mailbox, settings):
    csrf = sign_in_as(client, cast.lead_a)
    refused = client.post(
        f"/assessments/{cycle.id}/email/schedule",
        data={"csrf_token": csrf, "reminder_days": "3", "max_reminders": "5"},
    )
    assert refused.status_code == 400 and "at most 2" in " ".join(parse(refused).alerts())
    saved = client.post(
        f"/assessments/{cycle.id}/email/schedule",
        data={"csrf_token": csrf, "reminder_days": "3", "max_reminders": "1"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    _invite(client, cycle.id, csrf, "dana@example.org")
    mailbox.messages.clear()
    assert (
        email_invitations.deliver_due(engine, settings, now=utcnow() + timedelta(days=3, minutes=1)).reminders
        == 1
    )
    assert email_invitations.deliver_due(engine, settings, now=utcnow() + timedelta(days=20)).reminders == 0
    assert len(mailbox.messages) == 1


def test_opting_out_stops_all_further_mail_even_when_the_address_is_added_again(
    app, client, db, engine, cast, cycle, mailbox, settings
):
    csrf = sign_in_as(client, cast.lead_a)
    _invite(client, cycle.id, csrf, "ana@example.org, ben@example.org")
    tokens = {m["To"]: link_in(m) for m in mailbox.messages}
    # Ana uses the page's button; Ben's mail program uses one-click unsubscribe (no session, no token).
    with _fresh_client(app) as browser:
        page = parse(browser.get(f"/i/{tokens['ana@example.org']}/opt-out"))
        assert page.heading() == "Stop email about this survey?"
        form_csrf = page.form("main form").fields["csrf_token"]
        done = browser.post(f"/i/{tokens['ana@example.org']}/opt-out", data={"csrf_token": form_csrf})
        assert parse(done).heading() == "You will receive no more email about this survey"
    with _fresh_client(app) as mail_program:
        one_click = mail_program.post(
            f"/i/{tokens['ben@example.org']}/opt-out", data={"List-Unsubscribe": "One-Click"}
        )
        assert one_click.status_code == 200
        forged = mail_program.post(f"/i/{tokens['ben@example.org']}/opt-out", data={"anything": "else"})
        assert forged.status_code == 403  # anything but the one-click body still needs a CSRF token
    mailbox.messages.clear()

    assert email_invitations.deliver_due(engine, settings, now=utcnow() + timedelta(days=30)).reminders == 0
    again = parse(_invite(client, cycle.id, csrf, "ANA@example.org"))
    assert "1 left out because they opted out" in again.flashes()[0]
    resend = client.post(
        f"/assessments/{cycle.id}/email/{db.exec(select(EmailRecipient.id)).first()}/resend",
        data={"csrf_token": csrf},
    )
    assert resend.status_code == 400
    assert mailbox.messages == []
    assert {r["Status"] for r in _log(client, cycle.id).values()} == {"Opted out"}


def test_a_refused_recipient_shows_as_failed_with_the_server_reply_and_can_be_sent_again(
    client, db, cast, cycle, mailbox
):
    mailbox.refuse.add("nobody@example.org")
    csrf = sign_in_as(client, cast.lead_a)
    _invite(client, cycle.id, csrf, "ana@example.org nobody@example.org")
    assert [m["To"] for m in mailbox.messages] == ["ana@example.org"]
    log = _log(client, cycle.id)
    assert log["nobody@example.org"]["Status"].startswith("Failed")
    assert (
        "550 5.1.1" in log["nobody@example.org"]["Status"]
        and "User unknown" in log["nobody@example.org"]["Status"]
    )
    failed = db.exec(select(EmailMessage).where(EmailMessage.status == "failed")).one()
    assert failed.to_address == "nobody@example.org" and "550" in (failed.error or "")

    mailbox.refuse.clear()
    recipient_id = db.exec(
        select(EmailRecipient.id).where(EmailRecipient.email == "nobody@example.org")
    ).one()
    assert (
        client.post(
            f"/assessments/{cycle.id}/email/{recipient_id}/resend",
            data={"csrf_token": csrf},
            follow_redirects=False,
        ).status_code
        == 303
    )
    assert [m["To"] for m in mailbox.messages] == ["ana@example.org", "nobody@example.org"]
    assert _log(client, cycle.id)["nobody@example.org"]["Status"] == "Sent"

    bounced = client.post(
        f"/assessments/{cycle.id}/email/{recipient_id}/bounced",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert bounced.status_code == 303
    assert _log(client, cycle.id)["nobody@example.org"]["Status"] == "Bounced"


def test_a_scheduled_invitation_waits_for_its_time(client, db, engine, cast, cycle, mailbox, settings):
    csrf = sign_in_as(client, cast.lead_a)
    later = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    _invite(client, cycle.id, csrf, "ana@example.org", send_at=later)
    assert mailbox.messages == []
    assert _log(client, cycle.id)["ana@example.org"]["Status"].startswith("Waiting to be sent")
    assert email_invitations.deliver_due(engine, settings).invitations == 0
    assert (
        email_invitations.deliver_due(
            engine, settings, now=utcnow() + timedelta(days=2, minutes=5)
        ).invitations
        == 1
    )
    assert [m["To"] for m in mailbox.messages] == ["ana@example.org"]


def test_closing_the_cycle_erases_its_addresses_and_the_link_then_says_closed(
    app, client, db, cast, cycle, mailbox
):
    csrf = sign_in_as(client, cast.lead_a)
    _invite(client, cycle.id, csrf, "ana@example.org, ben@example.org")
    token = link_in(mailbox.to("ben@example.org")[0])
    closed = client.post(
        f"/assessments/{cycle.id}/status",
        data={"csrf_token": csrf, "status": "closed", "confirm": "yes"},
        follow_redirects=False,
    )
    assert closed.status_code == 303
    db.expire_all()
    assert [r.email for r in db.exec(select(EmailRecipient))] == [None, None]
    assert [m.to_address for m in db.exec(select(EmailMessage))] == [None, None]
    page = parse(client.get(f"/assessments/{cycle.id}/email"))
    page.assert_not_shown("ana@example.org")
    assert {r["Address"] for r in page.records("table")} == {"(erased)"}
    with _fresh_client(app) as browser:
        assert browser.get(f"/i/{token}").status_code == 410


def test_other_organizations_and_funders_cannot_see_or_use_the_email_page(client, db, cast, cycle, mailbox):
    for outsider in (cast.lead_b, cast.consultant_b):
        with _fresh_client(client.app) as other:
            csrf = sign_in_as(other, outsider)
            assert other.get(f"/assessments/{cycle.id}/email").status_code == 404
            assert _invite(other, cycle.id, csrf, "ana@example.org").status_code == 404
    with _fresh_client(client.app) as funder:
        sign_in_as(funder, cast.funder_p)
        assert funder.get(f"/assessments/{cycle.id}/email").status_code == 403
    # The organization's consultant may invite for their client.
    csrf = sign_in_as(client, cast.consultant_a)
    assert _invite(client, cycle.id, csrf, "ana@example.org").status_code == 200
    assert [m["To"] for m in mailbox.messages] == ["ana@example.org"]
