"""The evidence pages in real Chromium: results page with agreement, portfolio ICC, alpha for
authors, and the admin research switch: no serious or critical axe violations, and the switch
works from the keyboard."""

from __future__ import annotations

import random

import pytest

from app.db.models import Organization, Role
from app.services.report_samples import sample_respondents, snapshot_instrument, store_assessment
from app.services.scores import refresh_scores
from tests.helpers.auth import make_portfolio, make_user
from tests.portfolio.test_browser import _serious, _sign_in

pytestmark = pytest.mark.browser


def test_evidence_pages_are_accessible(live_server, browser_page):
    page = browser_page
    with live_server.session() as db:
        version, instrument = snapshot_instrument(db)
        organizations, cycles = [], []
        for n in range(5):
            organization = Organization(name=live_server.unique("Evidence site"))
            db.add(organization)
            db.flush()
            people = sample_respondents(instrument, random.Random(n), 5 + n, lean=0.4 + n / 20)
            assessment = store_assessment(
                db,
                organization=organization,
                version=version,
                instrument=instrument,
                name="Spring",
                respondents=people,
            )
            refresh_scores(db, assessment_id=assessment.id, privacy_threshold=3, instrument=instrument)
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
