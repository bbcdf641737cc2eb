"""Every staff page in Spanish in real Chromium: an org lead, a consultant and an admin who chose
Spanish in their account open their pages (an open cycle's pages, the cycle list, a new cycle, the
plan, the account, the consultant's and the admin's pages), and the sign-in pages in a Spanish
browser. Each answers 200 with `lang="es"` and a Spanish heading, and axe-core finds no serious or
critical violation (the results, portfolio and reliability pages have their own Spanish tests)."""

from __future__ import annotations

import pytest

from app.db.models import Role
from tests.helpers.auth import DEFAULT_PASSWORD, make_user
from tests.helpers.browser import assert_accessible, lead_with_cycle, login

pytestmark = pytest.mark.browser

PASSWORD = "una-clave-larga-de-prueba"


def _visit(page, url: str, what: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, f"{what}: {response and response.status}"
    assert page.locator("html").get_attribute("lang") == "es", what
    heading = page.locator("h1").first.inner_text()
    assert heading and heading not in {"Cycles", "Administration", "Sign in"}, f"{what}: {heading!r}"
    assert_accessible(page, f"{what} (es)")


def test_spanish_staff_pages_are_accessible(live_server, browser_page):
    page = browser_page
    with live_server.session() as db:
        lead, assessment = lead_with_cycle(
            db, live_server, agency="Centro Familiar", email_prefix="lider-", password=PASSWORD
        )
        lead.language = "es"
        db.add(lead)
        organization_id = assessment.organization_id
        consultant = make_user(
            db,
            role=Role.consultant,
            email=live_server.unique("asesora") + "@example.org",
        )
        admin = make_user(db, role=Role.admin, email=live_server.unique("admin-es") + "@example.org")
        consultant.language = admin.language = "es"
        db.commit()
        lead_email, consultant_email, admin_email = lead.email, consultant.email, admin.email
        assessment_id, admin_id = assessment.id, admin.id

    base = live_server.url
    login(page, live_server, lead_email, PASSWORD)
    for path, what in [
        ("/assessments", "cycle list"),
        ("/assessments/new", "new cycle"),
        (f"/assessments/{assessment_id}", "cycle page"),
        (f"/assessments/{assessment_id}/invitations", "invitation links"),
        (f"/assessments/{assessment_id}/email", "email invitations"),
        (f"/assessments/{assessment_id}/results", "answers so far (open cycle)"),
        (f"/assessments/{assessment_id}/preview", "form preview"),
        ("/plan", "action plan"),
        ("/account/password", "change password"),
    ]:
        _visit(page, base + path, what)
    assert page.locator("#language option[value=es]").get_attribute("selected") is not None

    page.context.clear_cookies()
    login(page, live_server, consultant_email, DEFAULT_PASSWORD)
    _visit(page, f"{base}/consultant", "consultant's agencies")

    page.context.clear_cookies()
    login(page, live_server, admin_email, DEFAULT_PASSWORD)
    for path, what in [
        ("/admin", "administration"),
        ("/admin/users", "accounts"),
        (f"/admin/users/{admin_id}", "one account"),
        ("/admin/organizations", "agencies"),
        (f"/admin/organizations/{organization_id}", "one agency"),
        ("/admin/portfolios", "portfolios"),
        ("/admin/audit", "audit log"),
    ]:
        _visit(page, base + path, what)


def test_spanish_sign_in_pages_are_accessible(live_server, browser):
    context = browser.new_context(locale="es-US", extra_http_headers={"Accept-Language": "es-US,es;q=0.9"})
    try:
        page = context.new_page()
        _visit(page, f"{live_server.url}/login", "sign in")
        assert page.locator("h1").first.inner_text() != "Sign in"
        _visit(page, f"{live_server.url}/password/forgot", "forgot password")
    finally:
        context.close()
