"""The email pages in real Chromium: the send log and invite form, the opt-out page, the password
reset pages and the admin outbox are axe-clean and work by keyboard."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from sqlmodel import select

from app.db.models import Assessment, EmailMessage, Role
from app.paths import INSTRUMENTS_DIR
from app.services import email_invitations, password_resets
from app.services.report_samples import snapshot_instrument
from tests.email.conftest import LINK
from tests.helpers.auth import DEFAULT_PASSWORD, make_organization, make_user
from tests.helpers.browser import login

pytestmark = pytest.mark.browser


def _serious(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def test_email_pages_are_accessible_and_work_by_keyboard(live_server, browser_page):
    page = browser_page
    lead_email = live_server.unique("lead").replace(" ", "-").lower() + "@example.org"
    admin_email = live_server.unique("admin").replace(" ", "-").lower() + "@example.org"
    invited = live_server.unique("invited").replace(" ", "-").lower() + "@example.org"
    with live_server.session() as session:
        organization = make_organization(session, live_server.unique("Mail Agency"))
        lead = make_user(session, role=Role.org_lead, email=lead_email, organizations=[organization])
        make_user(session, role=Role.admin, email=admin_email)
        version, _ = snapshot_instrument(session, INSTRUMENTS_DIR / "quick-check.yaml")
        cycle = Assessment(
            organization_id=organization.id, instrument_version_id=version.id, name="Email cycle"
        )
        session.add(cycle)
        session.flush()
        cycle_id, lead_id = cycle.id, lead.id

    login(page, live_server, lead_email, DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/assessments/{cycle_id}")
    page.get_by_role("link", name="Email invitations").click()
    assert page.locator("h1").inner_text() == "Email invitations"
    assert _serious(page) == []

    # Keyboard only: type the addresses, Tab on to the button, Enter sends the form.
    page.get_by_label("Email addresses").focus()
    page.keyboard.type(f"{invited}, not-an-address")
    for _ in range(20):  # file, language, the date-time fields (one stop per part), the button
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Add and send":
            break
    assert page.evaluate("document.activeElement.textContent") == "Add and send"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "1 person added" in page.locator("[role=status]").first.inner_text()
    assert page.locator("main table tbody tr").count() == 1
    assert _serious(page) == []

    email_invitations.deliver_due(live_server.engine, live_server.settings)
    with live_server.session() as session:
        body = session.exec(select(EmailMessage.body_text).where(EmailMessage.to_address == invited)).one()
        message_id = session.exec(select(EmailMessage.id).where(EmailMessage.to_address == invited)).one()
    token = LINK.search(body or "").group(1)

    page.goto(f"{live_server.url}/i/{token}/opt-out")
    assert _serious(page) == []
    with page.expect_navigation():
        page.get_by_role("button", name="Send me no more email about this survey").click()
    assert page.locator("h1").inner_text() == "You will receive no more email about this survey"
    assert _serious(page) == []

    page.goto(f"{live_server.url}/password/forgot")
    assert _serious(page) == []
    with live_server.session() as session:
        reset = password_resets.request_reset(
            session, email=lead_email, client_ip="browser-test", secret_key=live_server.settings.secret_key
        )
        assert reset is not None and reset.user_id == lead_id
        reset_token = password_resets.reset_token(
            reset.link_nonce, secret_key=live_server.settings.secret_key
        )
    page.goto(f"{live_server.url}/password/reset/{reset_token}")
    assert page.locator("h1").inner_text() == "Choose a new password"
    assert _serious(page) == []

    page.context.clear_cookies()
    login(page, live_server, admin_email, DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/admin/outbox")
    assert _serious(page) == []
    page.goto(f"{live_server.url}/admin/outbox/{message_id}")
    assert invited in page.locator("main").inner_text()
    assert _serious(page) == []
