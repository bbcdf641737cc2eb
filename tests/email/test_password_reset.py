"""Password reset by email for staff accounts, end to end through a real SMTP server."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from app.db.models import PasswordReset, Role, utcnow
from app.services import password_resets
from tests.email.conftest import RESET_LINK, body_text
from tests.helpers.auth import csrf_from_html, login, make_user
from tests.helpers.html import parse


def _ask(client, email: str):
    csrf = csrf_from_html(client.get("/password/forgot").text)
    return client.post("/password/forgot", data={"csrf_token": csrf, "email": email})


def _token(message) -> str:
    match = RESET_LINK.search(body_text(message))
    assert match, body_text(message)
    return match.group(1)


def test_reset_by_email_works_once_and_says_the_same_for_unknown_addresses(client, db, mailbox):
    user = make_user(db, role=Role.org_lead, email="lee@example.org", name="Lee")
    known = _ask(client, "Lee@Example.org ")
    unknown = _ask(client, "nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    assert parse(known).text("main") == parse(unknown).text("main")
    assert parse(known).flashes() == [password_resets.SAME_ANSWER]
    assert [m["To"] for m in mailbox.messages] == ["lee@example.org"]
    token = _token(mailbox.messages[0])
    assert db.exec(select(PasswordReset.token_hash)).one() != token

    form = client.get(f"/password/reset/{token}")
    assert form.status_code == 200 and parse(form).heading() == "Choose a new password"
    csrf = csrf_from_html(form.text)
    mismatch = client.post(
        f"/password/reset/{token}",
        data={"csrf_token": csrf, "new_password": "a-brand-new-secret", "repeat_password": "something else"},
    )
    assert mismatch.status_code == 400
    done = client.post(
        f"/password/reset/{token}",
        data={
            "csrf_token": csrf,
            "new_password": "a-brand-new-secret",
            "repeat_password": "a-brand-new-secret",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/login?reset=1"
    login(client, user.email, "a-brand-new-secret")
    # The link is spent.
    again = client.get(f"/password/reset/{token}")
    assert again.status_code == 404 and "expired or was used" in " ".join(parse(again).alerts())


def test_an_expired_link_does_not_work_and_requests_are_rate_limited(client, db, mailbox):
    make_user(db, role=Role.consultant, email="kim@example.org", name="Kim")
    _ask(client, "kim@example.org")
    token = _token(mailbox.messages[0])
    reset = db.exec(select(PasswordReset)).one()
    reset.expires_at = utcnow() - timedelta(minutes=1)
    db.add(reset)
    db.commit()
    assert client.get(f"/password/reset/{token}").status_code == 404

    for _ in range(password_resets.ACCOUNT_LIMIT + 2):
        assert _ask(client, "kim@example.org").status_code == 200
    assert len(mailbox.messages) == password_resets.ACCOUNT_LIMIT  # quietly capped per account
    for _ in range(password_resets.IP_LIMIT):
        _ask(client, "someone@example.org")
    limited = _ask(client, "kim@example.org")
    assert limited.status_code == 429


def test_known_and_unknown_addresses_take_the_same_route(client, db, mailbox):
    """No timing: both requests start exactly one email job of the same kind and title, after the
    answer (a background task), and the answers are the same apart from per-request tokens."""
    from app.db.models import Job

    make_user(db, role=Role.org_lead, email="ari@example.org", name="Ari")
    known = _ask(client, "ari@example.org")
    after_known = db.exec(select(Job).order_by(Job.id)).all()
    unknown = _ask(client, "nobody-here@example.org")
    db.expire_all()
    every = db.exec(select(Job).order_by(Job.id)).all()
    assert len(after_known) == 1 and len(every) == 2
    first, second = every
    assert (first.kind, first.title, first.created_by_id) == (second.kind, second.title, second.created_by_id)
    assert first.params.keys() == second.params.keys() == {"password_reset_id"}
    assert second.params["password_reset_id"] is None and second.result_detail == {"status": "skipped"}
    assert first.result_detail == {"status": "sent"}
    assert [m["To"] for m in mailbox.messages] == ["ari@example.org"]
    assert known.status_code == unknown.status_code == 200
    assert sorted(known.headers.keys()) == sorted(unknown.headers.keys())
    for name in known.headers:
        if name not in ("set-cookie", "date", "content-length"):
            assert known.headers[name] == unknown.headers[name], name
    assert parse(known).text("main") == parse(unknown).text("main")
