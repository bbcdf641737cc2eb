"""A funder who chose Spanish in their account opens the portfolio and its reliability page in
real Chromium: both are in Spanish (lang="es", Spanish headings, level names and readings) and
axe-core finds no serious or critical violation on either."""

from __future__ import annotations

import pytest
from sqlmodel import select

from app.db.models import User
from app.instruments.loader import load_instrument_file
from app.instruments.models import text
from app.paths import INSTRUMENTS_DIR
from app.services import instruments_store
from tests.helpers.auth import make_organization, make_portfolio, make_user
from tests.helpers.browser import assert_accessible
from tests.portfolio.conftest import make_cycle, responses
from tests.portfolio.test_browser import _sign_in


@pytest.mark.browser
def test_spanish_funder_portfolio_and_reliability_pages(live_server, browser_page):
    page = browser_page
    with live_server.session() as db:
        loaded = load_instrument_file(INSTRUMENTS_DIR / "readiness-full.yaml")
        version = instruments_store.snapshot(db, loaded=loaded)
        db.commit()
        sites = []
        for index in range(6):  # five sites take part in the ICC, the last has too few answers
            site = make_organization(db, live_server.unique(f"Sitio {index}"), region="Norte", cohort="2027")
            count = 2 if index == 5 else 4 + index
            make_cycle(
                db,
                organization=site,
                version=version,
                expected=10,
                responses=responses(loaded.instrument, count, seed=30 + index, lean=1.8 + index * 0.5),
            )
            sites.append(site)
        portfolio = make_portfolio(db, live_server.unique("Cartera estatal"), sites)
        funder = make_user(
            db, role="funder", email=f"financiador-{portfolio.id}@example.org", portfolios=[portfolio]
        )
        row = db.exec(select(User).where(User.id == funder.id)).one()
        row.language = "es"
        db.add(row)
        db.commit()
        portfolio_id = portfolio.id
    levels = {text(level.label, "es") for level in loaded.instrument.scoring.levels}

    _sign_in(page, live_server, funder)
    page.goto(f"{live_server.url}/portfolio/{portfolio_id}")
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.locator("#sites-heading").inner_text() == "Sitios"
    assert page.locator("#levels-heading").inner_text() == "Sitios en cada nivel de preparación"
    shown_levels = set(page.locator("#sites-table td .level").all_inner_texts())
    assert shown_levels and shown_levels <= levels
    assert page.locator("#sites-table td", has_text="menos de 3 participantes — no se muestra").count() == 1
    assert_accessible(page, "portfolio page in Spanish")

    page.locator("#downloads a", has_text="¿Se diferencian los sitios? (ICC)").click()
    page.wait_for_url(f"**/portfolio/{portfolio_id}/reliability")
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.locator("h1").inner_text().startswith("¿Se diferencian los sitios?")
    readings = page.locator(".icc-table tbody td:last-child").all_inner_texts()
    assert readings and all(r.startswith("ICC(1) es ") for r in readings), readings
    assert_accessible(page, "reliability page in Spanish")
