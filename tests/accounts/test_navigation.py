"""Role-based navigation: each role sees links to what it may open, the current section marked."""

from __future__ import annotations

from app.db.models import Role
from tests.helpers.auth import make_user, sign_in_as
from tests.helpers.html import parse


def _nav_links(response) -> list[tuple[str, str, bool]]:
    page = parse(response)
    nav = page.one("header nav[aria-label=Main]")
    return [
        (a.get("href"), page.text(within=a), a.get("aria-current") == "page")
        for a in page.select("ul > li > a", within=nav)
    ]


def test_each_role_gets_its_own_links(client, db):
    expected = {
        Role.admin: [
            "/admin",
            "/assessments",
            "/portfolio",
            "/consultant",
            "/admin/audit",
            "/account/password",
        ],
        Role.consultant: ["/consultant", "/assessments", "/account/password"],
        Role.org_lead: ["/assessments", "/plan", "/account/password"],
        Role.funder: ["/portfolio", "/account/password"],
    }
    for role, hrefs in expected.items():
        user = make_user(db, role=role, email=f"{role.value}@example.org")
        sign_in_as(client, user)
        page = client.get("/account/password")
        links = _nav_links(page)
        assert [href for href, _, _ in links] == hrefs, role
        assert [href for href, _, current in links if current] == ["/account/password"]
        assert all(label for _, label, _ in links), links


def test_audit_page_marks_only_audit_as_current(client, db):
    sign_in_as(client, make_user(db, role=Role.admin, email="admin@example.org"))
    links = _nav_links(client.get("/admin/audit"))
    assert [href for href, _, current in links if current] == ["/admin/audit"]


def test_signed_out_pages_have_no_main_navigation(client):
    page = parse(client.get("/login"))
    assert page.select("nav[aria-label=Main]") == [] and page.select("main")
