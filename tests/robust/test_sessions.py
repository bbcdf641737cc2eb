"""Sign-ins are server-side sessions that end at once: a cookie saved before sign-out, a
password change, a role change or an administrator's "End all sessions" opens nothing
afterwards. Signed-in pages and downloads are never stored by the browser. Accounts created or
reset by an administrator choose their own password at their first sign-in."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.db.models import Role, User
from tests.helpers.auth import DEFAULT_PASSWORD, get_csrf, login, logout, make_cast, make_user, sign_in_as
from tests.helpers.html import parse

PAGE = "/assessments"


def _opens(client, path: str = PAGE) -> bool:
    response = client.get(path, follow_redirects=False)
    if response.status_code == 303:
        assert response.headers["location"].startswith("/login")
        return False
    assert response.status_code == 200, response.status_code
    return True


def _browser(app) -> TestClient:
    return TestClient(app, base_url="http://testserver")


def test_a_cookie_saved_before_sign_out_opens_nothing_after_it(app, client, db):
    make_user(db, role=Role.org_lead, email="lead@example.org")
    login(client, "lead@example.org")
    saved = client.cookies.get("peerready_session")
    assert _opens(client)
    logout(client)
    with _browser(app) as replay:
        replay.cookies.set("peerready_session", saved)
        assert not _opens(replay)


def test_password_change_ends_every_other_session(app, client, db):
    make_user(db, role=Role.consultant, email="c@example.org")
    with _browser(app) as laptop, _browser(app) as phone:
        token = login(laptop, "c@example.org")
        login(phone, "c@example.org")
        changed = laptop.post(
            "/account/password",
            data={
                "csrf_token": token,
                "current_password": DEFAULT_PASSWORD,
                "new_password": "a brand new passphrase",
                "repeat_password": "a brand new passphrase",
            },
        )
        assert changed.status_code == 200
        assert _opens(laptop)  # the browser that changed it stays signed in
        assert not _opens(phone)


def test_role_change_and_end_all_sessions_sign_the_user_out(app, client, db):
    cast = make_cast(db)
    admin_csrf = sign_in_as(client, cast.admin)
    with _browser(app) as lead:
        sign_in_as(lead, cast.lead_a)
        assert _opens(lead)
        client.post(
            f"/admin/users/{cast.lead_a.id}",
            data={
                "csrf_token": admin_csrf,
                "email": cast.lead_a.email,
                "name": cast.lead_a.name,
                "role": "consultant",
                "is_active": "true",
            },
        )
        assert not _opens(lead)
    with _browser(app) as funder:
        sign_in_as(funder, cast.funder_p)
        assert _opens(funder, f"/portfolio/{cast.portfolio_p.id}")
        user_page = parse(client.get(f"/admin/users/{cast.funder_p.id}"))
        assert user_page.text("#open-sessions") == "1 browser"
        ended = client.post(
            f"/admin/users/{cast.funder_p.id}/sessions/end",
            data={"csrf_token": admin_csrf},
            follow_redirects=False,
        )
        assert ended.status_code == 303
        assert not _opens(funder, f"/portfolio/{cast.portfolio_p.id}")
    assert _opens(client, "/admin")  # the administrator is still signed in


def test_signed_in_pages_and_downloads_are_no_store(client, db):
    cast = make_cast(db)
    sign_in_as(client, cast.funder_p)
    for path in (
        f"/portfolio/{cast.portfolio_p.id}",
        f"/portfolio/{cast.portfolio_p.id}/export.csv",
        "/api/v1/portfolios",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "no-store", path
    assert client.get("/static/app.css").headers.get("cache-control") != "no-store"


def _first_sign_in_is_forced_to_change(app, email: str, temporary: str) -> None:
    with _browser(app) as browser:
        signed_in = login(browser, email, temporary, expect_success=False)
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/account/password"
        page = parse(browser.get("/account/password"))
        assert "Choose your own password to continue." in page.text("#forced-change")
        # Every other page leads back to it until the password is changed.
        assert browser.get(PAGE, follow_redirects=False).headers["location"] == "/account/password"
        changed = browser.post(
            "/account/password",
            data={
                "csrf_token": get_csrf(browser),
                "current_password": temporary,
                "new_password": "my very own passphrase",
                "repeat_password": "my very own passphrase",
            },
        )
        assert changed.status_code == 200
        assert browser.get(PAGE, follow_redirects=False).status_code == 200


def test_accounts_made_or_reset_by_an_administrator_choose_their_own_password(app, client, db):
    cast = make_cast(db)
    csrf = sign_in_as(client, cast.admin)
    created = client.post(
        "/admin/users",
        data={
            "csrf_token": csrf,
            "email": "new-lead@example.org",
            "name": "New Lead",
            "role": "org_lead",
            "temporary_password": "temporary password one",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    _first_sign_in_is_forced_to_change(app, "new-lead@example.org", "temporary password one")

    reset = client.post(
        f"/admin/users/{cast.consultant_a.id}/password",
        data={"csrf_token": csrf, "temporary_password": "temporary password two"},
        follow_redirects=False,
    )
    assert reset.status_code == 303
    _first_sign_in_is_forced_to_change(app, cast.consultant_a.email, "temporary password two")
    db.expire_all()
    assert not db.get(User, cast.consultant_a.id).must_change_password
