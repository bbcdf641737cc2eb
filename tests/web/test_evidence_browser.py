"""The evidence pages in real Chromium: results page with agreement, portfolio ICC, alpha for
authors, and the admin research switch: no serious or critical axe violations, and the switch
works from the keyboard."""

from __future__ import annotations

import pytest

from app.db.models import Role
from tests.helpers.auth import make_portfolio, make_user
from tests.helpers.cycles import store_cycle
from tests.portfolio.test_browser import _serious, _sign_in

pytestmark = pytest.mark.browser


def test_evidence_pages_are_accessible(live_server, browser_page):
    page = browser_page
    with live_server.session() as db:
        organizations, cycles = [], []
        for n in range(5):
            organization, assessment, instrument = store_cycle(
                db, name=live_server.unique("Evidence site"), count=5 + n, seed=n, lean=0.4 + n / 20
            )
            organizations.append(organization)
            cycles.append(assessment)
        db.commit()
        portfolio = make_portfolio(db, live_server.unique("Evidence portfolio"), organizations)
        admin = make_user(
            db, role=Role.admin, email=live_server.unique("evidence-admin").replace(" ", "-") + "@example.org"
        )
    _sign_in(page, live_server, admin)

    for path in (
        f"/assessments/{cycles[0].id}/results",
        f"/portfolio/{portfolio.id}/reliability",
        "/psychometrics",
        f"/psychometrics/{instrument.id}",
        f"/admin/organizations/{organizations[0].id}",
    ):
        page.goto(f"{live_server.url}{path}")
        assert page.locator("h1").count() == 1, path
        assert _serious(page) == [], path

    # The research switch by keyboard: focus the button, press Enter, the state reads "on".
    page.locator("#research-sharing ~ form button, section:has(#research-sharing) form button").first.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "on" in page.locator("#research-sharing-state").inner_text()
    page.goto(f"{live_server.url}/assessments/{cycles[0].id}/results")
    assert page.locator("#research-file a").count() == 2
    assert _serious(page) == []
