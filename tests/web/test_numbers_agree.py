"""One number, one string: for every demo assessment, the results page, the PDF report and the
portfolio CSV print the same scores (docs/scoring.md, section 14).

The demo (`peerready demo`) is loaded through `load_demo`; the page is parsed with lxml, the PDF
text read back with pypdf, the CSV with the csv module. Each is checked against the stored
scorecard written by the formatter, and against each other.
"""

from __future__ import annotations

import csv
import io
import re

import lxml.html
import pytest
from sqlmodel import select

from app.db.models import Assessment, AssessmentStatus, Portfolio
from app.paths import INSTRUMENTS_DIR
from app.scoring.numbers import format_percent, format_score
from app.scoring.reasons import render_reasons
from app.services import scores
from app.services.demo import ADMIN_EMAIL, DEMO_PASSWORD, FUNDER_EMAIL, load_demo
from tests.helpers.auth import login
from tests.reports.conftest import pdf_text

pytestmark = pytest.mark.slow

SHOWN_SCORE = re.compile(r"^\d{1,3}\.\d$")  # "59.5", "60.0", "100.0": always one decimal


def _cell_text(element: lxml.html.HtmlElement) -> str:
    return " ".join(element.text_content().split())


def _page_scores(html: str) -> dict[str, str]:
    """Condition title -> the score cell of the results page's score table."""
    document = lxml.html.fromstring(html)
    rows = document.xpath('//table[@id="scores-table"]/tbody/tr')
    assert rows, "the results page has no score table"
    return {_cell_text(row.xpath("./th")[0]): _cell_text(row.xpath("./td")[0]) for row in rows}


def _page_group_scores(html: str, domain_id: str) -> dict[str, str]:
    document = lxml.html.fromstring(html)
    rows = document.xpath(f'//section[@id="domain-{domain_id}"]//table/tbody/tr')
    return {" ".join(row.xpath("./th")[0].text.split()): _cell_text(row.xpath("./td")[1]) for row in rows}


def _page_reasons(html: str, domain_id: str) -> str | None:
    document = lxml.html.fromstring(html)
    badge = document.xpath(f'//section[@id="domain-{domain_id}"]//span[@class="badge" and .="Priority"]/..')
    if not badge:
        return None
    return _cell_text(badge[0]).removeprefix("Priority").strip()


def _csv_rows(client, portfolio_id: int) -> list[dict[str, str]]:
    response = client.get(f"/portfolio/{portfolio_id}/export.csv")
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.text)))


def test_every_demo_assessment_prints_the_same_scores_on_the_page_in_the_pdf_and_in_the_csv(client, db):
    load_demo(db, instruments_dir=INSTRUMENTS_DIR, privacy_threshold=3)
    db.commit()
    assessments = db.exec(select(Assessment).order_by(Assessment.id)).all()
    assert len(assessments) == 5
    portfolio = db.exec(select(Portfolio)).one()

    login(client, FUNDER_EMAIL, DEMO_PASSWORD)
    csv_rows = _csv_rows(client, portfolio.id)
    client.cookies.clear()
    login(client, ADMIN_EMAIL, DEMO_PASSWORD)

    # (assessment id, condition id) -> the score string the CSV prints for it.
    in_csv: dict[tuple[int, str], str] = {}
    by_site_cycle = {(a.organization_id, a.name): a.id for a in assessments}
    for row in csv_rows:
        if row["site_status"] != "scored":
            continue
        latest = by_site_cycle[(int(row["site_id"]), row["cycle_name"])]
        if row["score"]:
            in_csv[(latest, row["condition_id"])] = row["score"]
        if row["baseline_score"]:
            baseline = by_site_cycle[(int(row["site_id"]), row["baseline_cycle_name"])]
            in_csv[(baseline, row["condition_id"])] = row["baseline_score"]
    assert in_csv, "the portfolio CSV shows no score at all"

    compared = 0
    compared_in: set[int] = set()
    for assessment in assessments:
        card = scores.stored_scorecard(db, assessment_id=assessment.id)[0]
        page = client.get(f"/assessments/{assessment.id}/results")
        assert page.status_code == 200, assessment.name
        if assessment.status != AssessmentStatus.closed:
            # Figures are released at close (docs/privacy.md): an open cycle shows progress only.
            assert "scores-table" not in page.text, assessment.name
            continue
        pdf = client.get(f"/assessments/{assessment.id}/report.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF"), assessment.name
        text = pdf_text(pdf.content)
        on_page = _page_scores(page.text)

        for number, domain in enumerate(card.domains, start=1):
            if domain.score is None:
                assert on_page[domain.title] in ("hidden", "–")
                continue
            shown = format_score(domain.score)
            assert SHOWN_SCORE.match(shown), shown
            # The page's score table, the PDF's score table and (when listed) the CSV.
            assert on_page[domain.title] == shown, (assessment.name, domain.title)
            assert f"{number}. {domain.title} {shown} {domain.level_label} {domain.n}" in text
            if (assessment.id, domain.domain_id) in in_csv:
                assert in_csv[(assessment.id, domain.domain_id)] == shown, (assessment.name, domain.title)
                compared += 1
                compared_in.add(assessment.id)
            # The condition's section: big score on both, the same "Don't know" rate, the same
            # group scores and the same reason sentences.
            assert f"Score {shown} of 100" in _cell_text(lxml.html.fromstring(page.text))
            rate = format_percent(domain.dont_know_rate)
            assert f"({rate})" in page.text and f"“Don't know” rate: {rate}" in text
            groups = _page_group_scores(page.text, domain.domain_id)
            for group in domain.groups:
                if group.score is None:
                    continue
                assert groups[group.label] == format_score(group.score)
                assert f"{group.label} {group.n} {format_score(group.score)}" in text
            sentences = render_reasons(domain.priority_reasons)
            if sentences:
                assert _page_reasons(page.text, domain.domain_id) == "; ".join(sentences)
                for sentence in sentences:
                    assert " ".join(sentence.split()) in text
        page_text = _cell_text(lxml.html.fromstring(page.text))
        for action in card.actions:
            for sentence in render_reasons(action.reasons):
                assert sentence in page_text
    # The CSV lists the latest and the baseline completed cycle of each scored site (funders see
    # completed cycles only): every closed demo cycle is compared there, the open ones are not listed.
    assert compared >= 8
    closed = {a.id for a in assessments if a.status == AssessmentStatus.closed}
    assert len(closed) == 3 and compared_in == closed
