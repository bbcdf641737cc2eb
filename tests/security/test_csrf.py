"""CSRF: every state-changing request needs the session's token; other sites' requests are refused."""

from __future__ import annotations

import re

from sqlmodel import select

from app.db.models import Organization, Role
from tests.helpers.auth import make_user, sign_in_as
from tests.helpers.html import parse


def _organization_names(db) -> list[str]:
    db.expire_all()
    return list(db.exec(select(Organization.name)))


def test_form_post_without_token_is_refused_and_changes_nothing(client, db):
    admin = make_user(db, role=Role.admin, email="admin@example.org")
    sign_in_as(client, admin)
    response = client.post("/admin/organizations", data={"name": "Sneaky agency"}, follow_redirects=False)
    assert response.status_code == 403
    assert parse(response).error() == (
        "Not allowed",
        "This form has expired or did not come from PeerReady. Reload the page and try again.",
    )
    assert _organization_names(db) == []


def test_form_post_with_wrong_token_is_refused(client, db):
    admin = make_user(db, role=Role.admin, email="admin@example.org")
    sign_in_as(client, admin)
    for wrong in ("not-the-token", "é-non-ascii-token", ""):
        response = client.post(
            "/admin/organizations",
            data={"name": "Sneaky agency", "csrf_token": wrong},
            follow_redirects=False,
        )
        assert response.status_code == 403, wrong
    assert _organization_names(db) == []


def test_token_of_another_session_is_refused(app, client, db):
    from fastapi.testclient import TestClient

    admin = make_user(db, role=Role.admin, email="admin@example.org")
    sign_in_as(client, admin)
    with TestClient(app) as attacker:
        attacker_token = sign_in_as(attacker, make_user(db, role=Role.funder, email="f@example.org"))
    response = client.post(
        "/admin/organizations", data={"name": "Sneaky", "csrf_token": attacker_token}, follow_redirects=False
    )
    assert response.status_code == 403
    assert _organization_names(db) == []


def test_form_post_with_token_works(client, db):
    admin = make_user(db, role=Role.admin, email="admin@example.org")
    token = sign_in_as(client, admin)
    response = client.post(
        "/admin/organizations", data={"name": "Real agency", "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303
    assert _organization_names(db) == ["Real agency"]


def test_json_call_with_header_token_works_and_without_is_refused(client, db):
    """Pages' JavaScript sends the token as X-CSRF-Token (the respondent autosave does)."""
    from tests.security.conftest import build_world

    world = build_world(db)
    url = f"/respond/{world.a.personal_token}/autosave"
    payload = {"item_id": "pps_status", "value": "employ"}
    refused = client.post(url, json=payload, headers={"Accept": "application/json"})
    assert refused.status_code == 403
    page = client.get(f"/respond/{world.a.personal_token}/page/1")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    accepted = client.post(url, json=payload, headers={"X-CSRF-Token": token, "Accept": "application/json"})
    assert accepted.status_code == 200


def test_login_form_needs_the_token_too(client, db):
    make_user(db, role=Role.admin, email="admin@example.org")
    response = client.post(
        "/login", data={"email": "admin@example.org", "password": "whatever-password"}, follow_redirects=False
    )
    assert response.status_code == 403


def test_cross_site_requests_are_refused_even_with_the_token(client, db):
    admin = make_user(db, role=Role.admin, email="admin@example.org")
    token = sign_in_as(client, admin)
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}, {"Origin": "null"}):
        response = client.post(
            "/admin/organizations",
            data={"name": "Sneaky", "csrf_token": token},
            headers=headers,
            follow_redirects=False,
        )
        assert response.status_code == 403, headers
    assert _organization_names(db) == []
    same_site = client.post(
        "/admin/organizations",
        data={"name": "Real agency", "csrf_token": token},
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert same_site.status_code == 303


def test_every_post_route_refuses_a_missing_token(app, client, db):
    """Walks the app: no state-changing route is exempt from the CSRF check."""
    from tests.security.test_route_matrix import app_routes

    admin = make_user(db, role=Role.admin, email="admin@example.org")
    sign_in_as(client, admin)
    for key in sorted(app_routes(app)):
        method, path = key.split(" ", 1)
        if method in ("GET", "HEAD", "OPTIONS"):
            continue
        url = path.replace("{token}", "x" * 43)
        url = re.sub(r"{\w+}", "1", url)
        response = client.request(method, url, data={"anything": "1"}, follow_redirects=False)
        assert response.status_code == 403, f"{key} answered {response.status_code} without a CSRF token"


def test_same_origin_form_post_with_null_origin_is_accepted(client, db):
    """Under Referrer-Policy no-referrer Chromium sends "Origin: null" on same-origin form posts;
    Fetch Metadata (Sec-Fetch-Site: same-origin) decides then."""
    token = sign_in_as(client, make_user(db, role=Role.admin, email="admin@example.org"))
    response = client.post(
        "/admin/organizations",
        data={"name": "Real agency", "csrf_token": token},
        headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert response.status_code == 303
