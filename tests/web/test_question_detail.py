"""Per-question detail on the results page, in the PDF and in the lead's CSV/XLSX download, all
through the disclosure layer: means and counts from k people, answer distributions from max(k, 5)."""

from __future__ import annotations

import csv
import io
from collections import Counter

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from app.db.models import Role
from app.disclosure import policy
from app.scoring.rules import shown_items
from app.services.scores import counted_responses
from tests.helpers.auth import make_portfolio, make_user
from tests.helpers.cycles import sign_in_fresh, store_cycle
from tests.helpers.html import parse
from tests.reports.conftest import pdf_text


@pytest.fixture
def cycle(db):
    return store_cycle(db, name="Cedar Family Center", count=9, seed=11)


def _expected(db, assessment, instrument):
    """item id -> (answered, counts per option value, scored answers per group), counted
    independently of the code under test."""
    inputs = counted_responses(db, assessment_id=assessment.id, instrument=instrument).inputs
    found = {}
    for item in instrument.items:
        if not instrument.is_scored(item):
            continue
        options = instrument.scale_by_id(item.scale).options
        counts = {o.value: 0 for o in options}
        scored: Counter[str] = Counter()
        for r in inputs:
            if item in shown_items(instrument, r) and r.answers.get(item.id) in counts:
                counts[r.answers[item.id]] += 1
                scored[r.group] += instrument.option(item, r.answers[item.id]).kind == "scored"
        found[item.id] = (sum(counts.values()), counts, scored)
    return found


def test_results_page_and_download_follow_the_disclosure_rules(app, db, cycle):
    organization, assessment, instrument = cycle
    lead = make_user(db, role=Role.org_lead, organizations=[organization])
    funder = make_user(db, role=Role.funder, portfolios=[make_portfolio(db, "Pilot", [organization])])
    with TestClient(app, base_url="http://testserver") as client:
        sign_in_fresh(client, lead)
        page = parse(client.get(f"/assessments/{assessment.id}/results").text)
        download = client.get(f"/assessments/{assessment.id}/questions.csv")
        workbook = client.get(f"/assessments/{assessment.id}/questions.xlsx")
        sign_in_fresh(client, funder)
        assert client.get(f"/assessments/{assessment.id}/questions.csv").status_code == 403
    expected = _expected(db, assessment, instrument)
    assert download.status_code == 200 and workbook.status_code == 200
    table = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    rows = {r["item"]: r for r in table if r["group"] == "all"}
    assert set(rows) == set(expected)
    shown = withheld = 0
    for item_id, (answered, counts, _) in expected.items():
        row = rows[item_id]
        assert row["answered"] == str(answered)
        if policy.may_show_distribution(answered, 3):
            shown += 1
            assert [row[f"answer_{v}"] for v in counts] == [str(c) for c in counts.values()]
        else:
            assert all(row[f"answer_{v}"] == "" for v in counts)
            if answered:  # nobody answered: nothing is held back
                withheld += 1
                assert "Not shown" in row["withheld"]
    assert shown and withheld  # the sample has both kinds of question
    book = load_workbook(io.BytesIO(workbook.content))
    assert book["questions"].max_row == len(table) + 1

    # Rows per group: figures only from k scored answers in the row (one group, or the rest
    # combined), counted as here; every other group's row is marked and empty.
    group_rows = [r for r in table if r["group"] != "all"]
    with_figures = [r for r in group_rows if r["n_scored"]]
    assert with_figures and any(not r["n_scored"] for r in group_rows)
    for row in group_rows:
        if row["n_scored"]:
            members = row["group"].removeprefix("combined:").split("+")
            assert row["n_scored"] == str(sum(expected[row["item"]][2][g] for g in members)), row
            assert int(row["n_scored"]) >= 3 and row["mean_0_100"]
        else:
            assert row["withheld"].startswith("Not shown") and not row["mean_0_100"] and not row["answered"]

    # The page shows the same rows, one table per condition.
    for domain in instrument.domains:
        table = page.records(f"#questions-{domain.id} table")
        scored = [i for i in instrument.items_in(domain.id) if instrument.is_scored(i)]
        assert len(table) == len(scored)
        for record, item in zip(table, scored, strict=True):
            answered, counts, _ = expected[item.id]
            first = instrument.scale_by_id(item.scale).options[0]
            cell = record[first.label if isinstance(first.label, str) else first.label["en"]]
            if policy.may_show_distribution(answered, 3):
                assert cell.startswith(f"{counts[first.value]} (")
            else:
                assert cell == "–"


def test_pdf_has_the_question_appendix(db, cycle, tmp_path):
    from app.services.reports import report_pdf_for_operator

    _, assessment, instrument = cycle
    body, _ = report_pdf_for_operator(db, assessment_id=assessment.id, paper="letter", cache_dir=tmp_path)
    text = pdf_text(body)
    assert "Question by question" in text
    first = next(i for i in instrument.items if instrument.is_scored(i))
    assert (first.text if isinstance(first.text, str) else first.text["en"])[:40] in text


def test_no_question_table_while_the_cycle_is_open(app, db, cycle):
    """The download holds the release, like the results page: an open cycle has none, so live
    means and answer counts (which would move with each submission) are never sent."""
    from sqlmodel import delete

    from app.db.models import AssessmentStatus, Release

    organization, assessment, _ = cycle
    db.exec(delete(Release).where(Release.assessment_id == assessment.id))  # never closed yet
    assessment.status = AssessmentStatus.open
    db.add(assessment)
    db.commit()
    lead = make_user(db, role=Role.org_lead, organizations=[organization])
    with TestClient(app, base_url="http://testserver") as client:
        sign_in_fresh(client, lead)
        for fmt in ("csv", "xlsx"):
            response = client.get(f"/assessments/{assessment.id}/questions.{fmt}")
            assert response.status_code == 409, (fmt, response.text[:300])
            assert "mean_0_100" not in response.text
            assert "Results appear when the cycle closes" in response.text


def test_live_counts_only_from_the_released_answers(app, db, cycle):
    """Answer counts and group rows are counted from the stored answers; once one answer differs
    from what was released (a reopened cycle, one person resubmitting), they would move with that
    person, so they are withheld (page and download) and group rows marked until the next release."""
    from sqlmodel import select

    from app.db.models import Answer, Response

    organization, assessment, _ = cycle
    lead = make_user(db, role=Role.org_lead, organizations=[organization])
    with TestClient(app, base_url="http://testserver") as client:
        sign_in_fresh(client, lead)
        before = client.get(f"/assessments/{assessment.id}/questions.csv").content.decode("utf-8-sig")
        answer = db.exec(
            select(Answer).join(Response).where(Response.assessment_id == assessment.id, Answer.value == "4")
        ).first()
        answer.value = "2"
        db.add(answer)
        db.commit()
        after = client.get(f"/assessments/{assessment.id}/questions.csv").content.decode("utf-8-sig")
        page = parse(client.get(f"/assessments/{assessment.id}/results").text)
    sites_after = [r for r in csv.DictReader(io.StringIO(after)) if r["group"] == "all"]
    assert all(not r["answered"] and not r["answer_4"] for r in sites_after)
    assert all("changed since the results were released" in r["withheld"] for r in sites_after)
    assert [r["mean_0_100"] for r in sites_after] == [
        r["mean_0_100"] for r in csv.DictReader(io.StringIO(before)) if r["group"] == "all"
    ]  # the released means stay
    for domain in cycle[2].domains:  # no "3 (33%)" answer cells left on the page
        assert not any("%)" in v for r in page.records(f"#questions-{domain.id} table") for v in r.values())
    groups_before = [r for r in csv.DictReader(io.StringIO(before)) if r["group"] != "all"]
    groups_after = [r for r in csv.DictReader(io.StringIO(after)) if r["group"] != "all"]
    assert any(r["n_scored"] for r in groups_before)
    assert groups_after and not any(r["n_scored"] or r["mean_0_100"] for r in groups_after)
    assert all("answers changed since the results were released" in r["withheld"] for r in groups_after)
