"""The portfolio page in real Chromium: sort by a column with the keyboard, filter with the form,
the compact site table fits a 1,280 x 800 screen (issue 16: the full one was 1,539 px wide in a
1,120 px box), and no serious or critical accessibility violations (axe-core)."""

from __future__ import annotations

import json
import re
from base64 import b64encode

import itsdangerous
import pytest
from axe_playwright_python.sync_playwright import Axe

from app.instruments.loader import load_instrument_file
from app.paths import INSTRUMENTS_DIR
from app.services import instruments_store
from tests.helpers.auth import make_organization, make_portfolio, make_user
from tests.portfolio.conftest import make_cycle, responses


def _sign_in(page, live_server, user) -> None:
    """A signed session cookie for `user` (as tests/helpers/auth.sign_in_as makes for TestClient):
    this test is about the portfolio page, not the sign-in form."""
    from app.services import sessions
    from app.web.deps import SESSION_KEY

    with live_server.session() as db:
        token = sessions.start(db, user=user, max_age_seconds=3600)
    cookie = itsdangerous.TimestampSigner(str(live_server.settings.secret_key)).sign(
        b64encode(json.dumps({SESSION_KEY: token}).encode())
    )
    page.context.add_cookies(
        [{"name": "peerready_session", "value": cookie.decode(), "url": live_server.url}]
    )


def _serious(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def _purpose_scores(page) -> list[float]:
    cells = page.locator('#sites-table tbody tr td[data-condition="purpose"] strong').all_inner_texts()
    return [float(c) for c in cells]


@pytest.mark.browser
def test_sort_with_keyboard_and_filter(live_server, browser_page):
    page = browser_page
    with live_server.session() as db:
        loaded = load_instrument_file(INSTRUMENTS_DIR / "readiness-full.yaml")
        version = instruments_store.snapshot(db, loaded=loaded)
        db.commit()
        region_north, region_south = live_server.unique("North"), live_server.unique("South")
        orgs = []
        for index in range(4):
            org = make_organization(
                db,
                live_server.unique(f"Site {index}"),
                region=region_north if index % 2 else region_south,
                cohort="2027",
            )
            orgs.append(org)
            if index < 2:  # an earlier cycle: these sites show a change in every condition
                make_cycle(
                    db,
                    organization=org,
                    version=version,
                    name="First cycle",
                    expected=10,
                    responses=responses(loaded.instrument, 5, seed=10 + index, lean=1.5),
                )
            make_cycle(
                db,
                organization=org,
                version=version,
                expected=10,
                responses=responses(loaded.instrument, 4 + index, seed=index, lean=2 + index * 0.7),
            )
        orgs.append(make_organization(db, live_server.unique("Site new"), region=region_north))
        portfolio = make_portfolio(db, live_server.unique("Browser portfolio"), orgs)
        funder = make_user(
            db, role="funder", email=f"funder-{portfolio.id}@example.org", portfolios=[portfolio]
        )
        portfolio_id = portfolio.id

    _sign_in(page, live_server, funder)
    page.goto(f"{live_server.url}/portfolio/{portfolio_id}")
    assert page.locator("h1").inner_text().startswith("Browser portfolio")
    assert page.locator("#sites-table td", has_text="No completed cycle yet").count() == 1
    assert _serious(page) == []

    # At 1,280 x 800 the compact table fits its box: every condition and its change on screen.
    page.set_viewport_size({"width": 1280, "height": 800})
    box = page.locator("#sites-table").locator("xpath=..")
    widths = box.evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert widths[0] <= widths[1], f"the site table is {widths[0]} px wide in a {widths[1]} px box"
    change = page.locator('#sites-table td[data-condition="purpose"] .change').first.text_content()
    assert re.fullmatch(r"Change: [+−-]\d+\.\d points", change), change  # what a screen reader reads
    # Every column, for those who want them: separate change columns, wider, scrolls sideways.
    n_conditions = page.locator('#sites-table thead a[data-sort^="score_"]').count()
    assert n_conditions >= 4
    with page.expect_navigation():
        page.locator("#layout-choice a").click()
    assert "layout=full" in page.url
    assert page.locator("#sites-table thead th", has_text="Change: ").count() == n_conditions
    with page.expect_navigation():
        page.locator("#layout-choice a").click()
    assert "layout=" not in page.url

    # Sort by the first condition with the keyboard: focus the column heading link, press Enter.
    header_link = page.locator('#sites-table a[data-sort="score_purpose"]')
    header_link.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    header = page.locator('#sites-table th:has(a[data-sort="score_purpose"])')
    assert header.get_attribute("aria-sort") == "ascending"
    ascending = _purpose_scores(page)
    assert len(ascending) == 4 and ascending == sorted(ascending)
    assert "sort=score_purpose" in page.url

    page.locator('#sites-table a[data-sort="score_purpose"]').focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert (
        page.locator('#sites-table th:has(a[data-sort="score_purpose"])').get_attribute("aria-sort")
        == "descending"
    )
    assert _purpose_scores(page) == sorted(ascending, reverse=True)
    # The site without a cycle stays last whatever the direction.
    assert "No completed cycle yet" in page.locator("#sites-table tbody tr").last.inner_text()

    # Filter by region with the GET form; the sort order is kept.
    page.select_option("#f-region", region_north)
    with page.expect_navigation():
        page.locator("form.filters button[type=submit]").press("Enter")
    rows = page.locator("#sites-table tbody tr")
    assert rows.count() == 3  # two North sites with cycles + the new site
    assert f"region={region_north.replace(' ', '+')}" in page.url and "sort=-score_purpose" in page.url
    assert page.locator("#f-region").input_value() == region_north
    assert _purpose_scores(page) == sorted(_purpose_scores(page), reverse=True)
    assert _serious(page) == []


@pytest.mark.browser
def test_consultant_pages_are_accessible(live_server, browser_page, tmp_path):
    from tests.portfolio.test_consultant import _csv_text

    page = browser_page
    with live_server.session() as db:
        loaded = load_instrument_file(INSTRUMENTS_DIR / "readiness-full.yaml")
        version = instruments_store.snapshot(db, loaded=loaded)
        db.commit()
        org = make_organization(db, live_server.unique("Client agency"))
        make_cycle(
            db,
            organization=org,
            version=version,
            expected=8,
            responses=responses(loaded.instrument, 4, seed=1),
        )
        cycle = make_cycle(
            db, organization=org, version=version, closed=False, name="Follow-up", responses=[]
        )
        consultant = make_user(db, role="consultant", organizations=[org])
    _sign_in(page, live_server, consultant)

    page.goto(f"{live_server.url}/consultant")
    assert page.locator("h2", has_text="Client agency").count() == 1
    assert _serious(page) == []

    page.goto(f"{live_server.url}/consultant/assessments/{cycle.id}/commentary")
    page.fill("#commentary-text", "Leadership support is strong.")
    with page.expect_navigation():
        page.locator("form button[type=submit]", has_text="Save commentary").click()
    assert page.locator("main > .notice[role=status]").all_inner_texts() == [
        "Commentary saved. It will appear on the results page and in this cycle's PDF report."
    ]
    assert page.locator("#commentary-text").input_value() == "Leadership support is strong."
    assert _serious(page) == []

    good = tmp_path / "paper.csv"
    good.write_text(_csv_text(loaded.instrument, responses(loaded.instrument, 5, seed=2)))
    page.goto(f"{live_server.url}/consultant/assessments/{cycle.id}/import")
    page.set_input_files("#import-file", str(good))
    with page.expect_navigation():
        page.locator("button", has_text="Check the file").click()
    assert "passed every check" in page.locator("#import-preview").inner_text()
    assert _serious(page) == []
    with page.expect_navigation():
        page.locator("button", has_text="Save 5 responses").click()
    assert "5 responses saved" in page.locator("#import-done").inner_text()

    bad = tmp_path / "bad.csv"
    bad.write_text("respondent,group,purpose_clear_goal\nF-1,nobody,9\n")
    page.goto(f"{live_server.url}/consultant/assessments/{cycle.id}/import")
    page.set_input_files("#import-file", str(bad))
    with page.expect_navigation():
        page.locator("button", has_text="Check the file").click()
    assert page.locator("#import-errors tbody tr").count() >= 1
    assert _serious(page) == []
