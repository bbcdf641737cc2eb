"""Sign-in and admin pages in real Chromium: usable by keyboard alone and axe-clean."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from app.db.models import Role
from tests.helpers.auth import DEFAULT_PASSWORD, make_organization, make_user

pytestmark = pytest.mark.browser


def _serious_violations(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def test_admin_signs_in_by_keyboard_and_admin_pages_are_accessible(live_server, browser_page):
    page = browser_page
    email = live_server.unique("admin").replace(" ", "-").lower() + "@example.org"
    with live_server.session() as session:
        make_user(session, role=Role.admin, email=email)
        make_organization(session, live_server.unique("Keyboard Agency"))

    page.goto(f"{live_server.url}/login")
    assert _serious_violations(page) == []
    # Keyboard only: the email field is reachable by Tab, Enter submits the form.
    page.keyboard.press("Tab")  # skip link
    for _ in range(5):
        if page.evaluate("document.activeElement && document.activeElement.name") == "email":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "email"
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "password"
    page.keyboard.type(DEFAULT_PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/admin")

    for path in (
        "/admin",
        "/admin/organizations",
        "/admin/users",
        "/admin/portfolios",
        "/admin/audit",
        "/account/password",
    ):
        page.goto(f"{live_server.url}{path}")
        assert page.locator("h1").count() == 1, path
        assert _serious_violations(page) == [], path
    # The audit log recorded this sign-in.
    page.goto(f"{live_server.url}/admin/audit")
    actors = page.locator("main table tbody tr td:nth-child(2)").all_inner_texts()
    assert email in actors


def test_wrong_password_is_announced_without_saying_which_part_was_wrong(live_server, browser_page):
    page = browser_page
    email = live_server.unique("lead").replace(" ", "-").lower() + "@example.org"
    with live_server.session() as session:
        make_user(session, role=Role.org_lead, email=email)
    page.goto(f"{live_server.url}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", "not the password")
    with page.expect_navigation():
        page.locator("form:has(input[name=password]) button[type=submit]").click()
    alert = page.locator("[role=alert], .notice-error").first
    assert alert.is_visible()
    assert "password" in alert.inner_text().lower()
    assert _serious_violations(page) == []
