"""Role-based navigation: each role sees links to what it may open, the current section marked."""

from __future__ import annotations

import re

from app.db.models import Role
from tests.helpers.auth import make_user, sign_in_as


def _nav_links(html: str) -> list[tuple[str, str, bool]]:
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', html, re.S).group(1)
    return [
        (href, label, bool(current))
        for href, current, label in re.findall(r'<a href="([^"]+)"( aria-current="page")?>([^<]+)</a>', nav)
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
        links = _nav_links(page.text)
        assert [href for href, _, _ in links] == hrefs, role
        assert [href for href, _, current in links if current] == ["/account/password"]


def test_audit_page_marks_only_audit_as_current(client, db):
    sign_in_as(client, make_user(db, role=Role.admin, email="admin@example.org"))
    links = _nav_links(client.get("/admin/audit").text)
    assert [href for href, _, current in links if current] == ["/admin/audit"]


def test_signed_out_pages_have_no_main_navigation(client):
    assert '<nav aria-label="Main">' not in client.get("/login").text
