"""The staff evidence pages in Spanish in real Chromium: a lead who chose Spanish opens the results
page of a closed cycle (with the question tables opened), a consultant who chose Spanish opens the
instrument reliability pages; each is in Spanish (`lang="es"`, Spanish headings) and axe-core finds
no serious or critical violation."""

from __future__ import annotations

import pytest

from app.db.models import Role
from app.instruments.models import text
from tests.helpers.auth import DEFAULT_PASSWORD, make_user
from tests.helpers.browser import assert_accessible, login
from tests.helpers.cycles import store_cycle

pytestmark = pytest.mark.browser


def test_spanish_results_and_evidence_pages_are_accessible(live_server, browser_page):
    page = browser_page
    with live_server.session() as db:
        organization, assessment, instrument = store_cycle(
            db, name=live_server.unique("Centro Familiar"), count=14, seed=5, lean=0.55
        )
        lead = make_user(
            db, role=Role.org_lead, organizations=[organization], email=f"lider-{organization.id}@example.org"
        )
        lead.language = "es"
        consultant = make_user(
            db,
            role=Role.consultant,
            organizations=[organization],
            email=f"asesor-{organization.id}@example.org",
        )
        consultant.language = "es"
        lead_email, consultant_email = lead.email, consultant.email
        assessment_id = assessment.id
        db.commit()

    login(page, live_server, lead_email, DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/assessments/{assessment_id}/results")
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.locator("h1").inner_text().startswith("Resultados:")
    assert page.locator("#scores-heading").inner_text() == "Puntajes por condición"
    first = instrument.domains[0]
    assert page.locator(f"#domain-h-{first.id}").inner_text() == text(first.title, "es")
    for summary in page.locator("details.question-detail > summary").all():
        summary.click()  # the question tables are checked open too
    assert_accessible(page, "results page (es)")

    page.context.clear_cookies()
    login(page, live_server, consultant_email, DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/psychometrics")
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.locator("h1").inner_text() == "Confiabilidad de los instrumentos"
    assert_accessible(page, "instrument reliability list (es)")
    page.goto(f"{live_server.url}/psychometrics/{instrument.id}")
    assert page.locator("h1").inner_text() == f"Confiabilidad de {text(instrument.title, 'es')}"
    assert page.locator(".alpha-table th[scope=row]").first.inner_text() == text(first.title, "es")
    assert_accessible(page, "instrument reliability (es)")
