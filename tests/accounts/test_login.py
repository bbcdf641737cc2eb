"""Sign-in, sign-out, password change: the real forms, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from app.db.models import AuditEvent, Role, User, utcnow
from app.services.accounts import LOGIN_FAILED_MESSAGE, LOGIN_PAUSED_MESSAGE
from tests.helpers.auth import DEFAULT_PASSWORD, csrf_from_html, get_csrf, login, logout, make_user
from tests.helpers.html import parse


def _audit_actions(db) -> list[str]:
    db.expire_all()
    return [event.action for event in db.exec(select(AuditEvent).order_by(AuditEvent.id))]


def test_login_page_has_labelled_fields_with_autocomplete(client):
    page = client.get("/login")
    assert page.status_code == 200
    form = parse(page)
    assert form.heading() == "Sign in to PeerReady"
    assert form.label_for("email") == "Email" and form.label_for("password") == "Password"
    email = form.one("form[action='/login'] input#email[name=email]")
    password = form.one("form[action='/login'] input#password[name=password]")
    assert (email.get("type"), email.get("autocomplete")) == ("email", "username")
    assert (password.get("type"), password.get("autocomplete")) == ("password", "current-password")
    assert form.form("form[action='/login']").fields["csrf_token"] == csrf_from_html(page.text)


def test_login_rotates_session_and_lands_on_role_start_page(client, db):
    lead = make_user(db, role=Role.org_lead, email="lead@example.org")
    before = client.get("/login")
    token_before = csrf_from_html(before.text)
    cookie_before = client.cookies.get("peerready_session")
    response = client.post(
        "/login",
        data={"email": "  LEAD@example.org ", "password": DEFAULT_PASSWORD, "csrf_token": token_before},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/assessments"
    assert client.cookies.get("peerready_session") != cookie_before
    token_after = get_csrf(client)
    assert token_after != token_before  # the pre-login session's token no longer works
    assert "login.succeeded" in _audit_actions(db)
    db.refresh(lead)
    assert lead.last_login_at is not None


def test_wrong_password_and_unknown_email_get_the_same_answer(client, db):
    make_user(db, role=Role.admin, email="admin@example.org")
    wrong = login(client, "admin@example.org", "not the password", expect_success=False)
    unknown = login(client, "nobody@example.org", "not the password", expect_success=False)
    assert wrong.status_code == unknown.status_code == 400
    refused = parse(wrong)
    assert refused.alerts() == [LOGIN_FAILED_MESSAGE]
    assert wrong.text.replace("admin@example.org", "X") == unknown.text.replace(
        "nobody@example.org", "X"
    ).replace(csrf_from_html(unknown.text), csrf_from_html(wrong.text))
    for field in ("email", "password"):  # both fields point at the one message
        control = refused.one(f"input#{field}")
        assert (control.get("aria-invalid"), control.get("aria-describedby")) == ("true", "login-error")
    assert refused.one("#login-error").get("role") == "alert"
    assert refused.form("form[action='/login']").fields["email"] == "admin@example.org"


def test_next_parameter_cannot_redirect_off_site(client, db):
    make_user(db, role=Role.admin, email="admin@example.org")
    for bad in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        form = client.get("/login")
        response = client.post(
            "/login",
            data={
                "email": "admin@example.org",
                "password": DEFAULT_PASSWORD,
                "next": bad,
                "csrf_token": csrf_from_html(form.text),
            },
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/admin"
        logout(client)


def test_logout_ends_the_session(client, db):
    make_user(db, role=Role.funder, email="funder@example.org")
    login(client, "funder@example.org")
    logout(client)
    assert client.get("/account/password", follow_redirects=False).status_code == 303
    assert "logout" in _audit_actions(db)


def test_inactive_user_cannot_sign_in(client, db):
    make_user(db, role=Role.org_lead, email="gone@example.org", is_active=False)
    response = login(client, "gone@example.org", expect_success=False)
    assert response.status_code == 400
    assert client.get("/account/password", follow_redirects=False).status_code == 303


def test_deactivating_a_user_ends_their_open_session(client, db):
    user = make_user(db, role=Role.org_lead, email="lead@example.org")
    login(client, "lead@example.org")
    user.is_active = False
    db.add(user)
    db.commit()
    assert client.get("/account/password", follow_redirects=False).status_code == 303


def test_lockout_after_repeated_failures_doubles(client, db, settings):
    user = make_user(db, role=Role.org_lead, email="lead@example.org")
    for _ in range(settings.login_max_failures):
        assert login(client, "lead@example.org", "wrong password", expect_success=False).status_code == 400
    db.refresh(user)
    assert user.lockouts == 1
    assert user.locked_until is not None
    first_lock = (user.locked_until - utcnow()).total_seconds()
    assert settings.login_lockout_seconds - 5 < first_lock <= settings.login_lockout_seconds
    # While locked, even the right password is refused: sign-in is paused, which is also what
    # a wrong password and an email without an account are told after as many failures.
    locked = login(client, "lead@example.org", expect_success=False)
    assert locked.status_code == 400
    assert parse(locked).alerts() == [LOGIN_PAUSED_MESSAGE]
    assert parse(login(client, "lead@example.org", "wrong", expect_success=False)).alerts() == [
        LOGIN_PAUSED_MESSAGE
    ]
    for attempt in range(settings.login_max_failures):
        unknown = login(client, "nobody@example.org", "wrong", expect_success=False)
        last = attempt == settings.login_max_failures - 1
        assert parse(unknown).alerts() == [LOGIN_PAUSED_MESSAGE if last else LOGIN_FAILED_MESSAGE]
    # After the lock passes, another run of failures locks for twice as long.
    user.locked_until = utcnow() - timedelta(seconds=1)
    db.add(user)
    db.commit()
    for _ in range(settings.login_max_failures):
        login(client, "lead@example.org", "wrong password", expect_success=False)
    db.refresh(user)
    assert user.lockouts == 2
    second_lock = (user.locked_until - utcnow()).total_seconds()
    assert 2 * settings.login_lockout_seconds - 5 < second_lock <= 2 * settings.login_lockout_seconds
    # Once unlocked, the right password works and the counters reset.
    user.locked_until = utcnow() - timedelta(seconds=1)
    db.add(user)
    db.commit()
    login(client, "lead@example.org")
    db.refresh(user)
    assert (user.failed_logins, user.lockouts, user.locked_until) == (0, 0, None)


def test_many_failures_from_one_address_get_429(client, db):
    from app.db.models import RateLimitBucket
    from app.services.accounts import LOGIN_IP_LIMIT

    make_user(db, role=Role.admin, email="admin@example.org")
    # Earlier failures from this address (the test client's address is "testclient").
    db.add(RateLimitBucket(key="login-ip:testclient", hits=LOGIN_IP_LIMIT))
    db.commit()
    response = login(client, "admin@example.org", expect_success=False)
    assert response.status_code == 429
    (message,) = parse(response).alerts()
    assert message.startswith("Too many sign-in attempts")
    assert "login.rate_limited" in _audit_actions(db)


def test_password_change_needs_current_and_matching_new(client, db):
    user = make_user(db, role=Role.consultant, email="c@example.org")
    token = login(client, "c@example.org")
    cases = [
        (
            {
                "current_password": "wrong wrong",
                "new_password": "a-new-password",
                "repeat_password": "a-new-password",
            },
            "current password is not right",
        ),
        (
            {
                "current_password": DEFAULT_PASSWORD,
                "new_password": "a-new-password",
                "repeat_password": "different-1",
            },
            "not the same",
        ),
        (
            {"current_password": DEFAULT_PASSWORD, "new_password": "short", "repeat_password": "short"},
            "at least 10 characters",
        ),
    ]
    for data, message in cases:
        response = client.post("/account/password", data={**data, "csrf_token": token})
        assert response.status_code == 400
        page = parse(response)
        (alert,) = page.alerts()
        assert message in alert
        assert page.flashes() == []  # no "changed" notice beside the error
    db.refresh(user)
    old_hash = user.password_hash
    response = client.post(
        "/account/password",
        data={
            "current_password": DEFAULT_PASSWORD,
            "new_password": "a-new-password",
            "repeat_password": "a-new-password",
            "csrf_token": token,
        },
    )
    assert response.status_code == 200
    done = parse(response)
    assert done.flashes() == [
        "Your password was changed. Other devices where you were signed in have been signed out."
    ]
    assert done.alerts() == []
    db.refresh(user)
    assert user.password_hash != old_hash
    # This session stays signed in ...
    assert client.get("/account/password").status_code == 200
    assert "password.changed" in _audit_actions(db)
    # ... and the new password works while the old one does not.
    logout(client)
    assert login(client, "c@example.org", DEFAULT_PASSWORD, expect_success=False).status_code == 400
    login(client, "c@example.org", "a-new-password")


def test_password_change_signs_out_other_sessions(app, db):
    from fastapi.testclient import TestClient

    make_user(db, role=Role.consultant, email="c@example.org")
    with TestClient(app) as laptop, TestClient(app) as phone:
        token = login(laptop, "c@example.org")
        login(phone, "c@example.org")
        laptop.post(
            "/account/password",
            data={
                "current_password": DEFAULT_PASSWORD,
                "csrf_token": token,
                "new_password": "a-new-password",
                "repeat_password": "a-new-password",
            },
        )
        assert laptop.get("/account/password", follow_redirects=False).status_code == 200
        assert phone.get("/account/password", follow_redirects=False).status_code == 303


def test_users_table_never_stores_plain_passwords(db):
    make_user(db, role=Role.admin, email="a@example.org")
    stored = db.exec(select(User)).one()
    assert stored.password_hash.startswith("$argon2id$")
    assert DEFAULT_PASSWORD not in stored.password_hash
