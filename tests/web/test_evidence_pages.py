"""Agreement beside the mean on the results page, ICC across a portfolio's sites, alpha for
instrument authors: the figures are the statistics module's, and each page is only for its roles."""

from __future__ import annotations

import random

import pytest
from fastapi.testclient import TestClient

from app.db.models import Role
from app.scoring.agreement import agreement, condition_answers, icc
from app.scoring.numbers import format_index
from app.scoring.rules import respondent_scores
from app.services.report_samples import sample_respondents, snapshot_instrument, store_assessment
from app.services.scores import counted_responses
from tests.helpers.auth import make_portfolio, make_user
from tests.helpers.cycles import sign_in_fresh, store_cycle
from tests.helpers.html import parse


def _scores_by_site(db, instrument, sites, domain_id: str) -> dict[str, list[float]]:
    """Each site's respondent condition scores, as ICC takes them."""
    return {
        str(org.id): [
            float(v)
            for v in respondent_scores(
                instrument, counted_responses(db, assessment_id=a.id, instrument=instrument).inputs, domain_id
            )
        ]
        for org, a, _ in sites
    }


@pytest.fixture
def sites(db):
    sizes = [(f"Site {n}", 6 + n, n) for n in range(5)] + [("Tiny", 2, 9)]
    return [
        store_cycle(db, name=name, count=count, seed=seed, lean=0.3 + seed / 20)
        for name, count, seed in sizes
    ]


def test_results_page_shows_agreement_beside_the_score(app, db, sites):
    organization, assessment, instrument = sites[0]
    tiny_org, tiny, _ = sites[-1]
    admin = make_user(db, role=Role.admin)
    with TestClient(app, base_url="http://testserver") as client:
        sign_in_fresh(client, admin)
        page = parse(client.get(f"/assessments/{assessment.id}/results").text)
        records = page.records("#agreement-table")
        small = parse(client.get(f"/assessments/{tiny.id}/results").text).records("#agreement-table")
    inputs = counted_responses(db, assessment_id=assessment.id, instrument=instrument).inputs
    assert [r["Condition"] for r in records] == [
        d.title["en"] if isinstance(d.title, dict) else d.title for d in instrument.domains
    ]
    for record, domain in zip(records, instrument.domains, strict=True):
        answers = condition_answers(instrument, inputs, domain.id)
        expected = agreement(list(answers.answers), answers.items, answers.scale)
        assert record["rwg(j)"] == format_index(expected.rwg_j.value)
        assert record["awg(j)"] == format_index(expected.awg_j.value)
        assert record["n"] == str(expected.n_respondents)
        assert record["What it means"].startswith(expected.rwg_j.reading)
    assert all(r["rwg(j)"] == "–" and r["What it means"].startswith("Not shown") for r in small)


def test_portfolio_reliability_for_funders_and_admins(app, db, sites):
    portfolio = make_portfolio(db, "State pilot", [s[0] for s in sites])
    funder = make_user(db, role=Role.funder, portfolios=[portfolio])
    lead = make_user(db, role=Role.org_lead, organizations=[sites[0][0]])
    with TestClient(app, base_url="http://testserver") as client:
        sign_in_fresh(client, funder)
        response = client.get(f"/portfolio/{portfolio.id}/reliability")
        assert response.status_code == 200
        page = parse(response.text)
        sign_in_fresh(client, lead)
        assert client.get(f"/portfolio/{portfolio.id}/reliability").status_code == 403
    instrument = sites[0][2]
    assert "5 sites took part; 1 left out with fewer than 3 responses" in page.text("main")
    records = page.records(f"#icc-table-{instrument.id}")
    for record, domain in zip(records, instrument.domains, strict=True):
        by_site = _scores_by_site(db, instrument, sites[:5], domain.id)
        expected = icc(by_site)
        assert record["ICC(1)"] == format_index(expected.icc1.value)
        assert record["ICC(2)"] == format_index(expected.icc2.value)
        assert record["Sites"] == "5"


def test_psychometrics_page_for_authors_only(app, db, sites):
    consultant = make_user(db, role=Role.consultant)
    lead = make_user(db, role=Role.org_lead, organizations=[sites[0][0]])
    with TestClient(app, base_url="http://testserver") as client:
        sign_in_fresh(client, consultant)
        index = parse(client.get("/psychometrics").text)
        assert index.link("/psychometrics/readiness_full") is not None
        page = parse(client.get("/psychometrics/readiness_full").text)
        assert client.get("/psychometrics/no_such").status_code == 404
        sign_in_fresh(client, lead)
        assert client.get("/psychometrics/readiness_full").status_code == 403
    rows = page.records(".alpha-table")
    assert [r["Condition"] for r in rows] == [
        "Clear purpose and inclusion",
        "Team integration",
        "Addressing stigma",
        "Valuing peer staff",
    ]
    assert "42 submitted responses" in page.text("main")  # 6 + 7 + 8 + 9 + 10 + 2, pooled
    assert all(r["Alpha"] == "–" or float(r["Alpha"]) <= 1 for r in rows)


def test_reliability_leaves_out_open_cycles(app, db, sites):
    """The funder's ICC reads each site's latest released cycle, never one that is open: a new
    cycle not yet closed, or a released one reopened, takes no part while it takes answers
    (its people would otherwise be counted, and its ICC move, with each submission)."""
    from sqlmodel import delete

    from app.db.models import AssessmentStatus, Release

    portfolio = make_portfolio(db, "State pilot", [s[0] for s in sites])
    funder = make_user(db, role=Role.funder, portfolios=[portfolio])
    (org_a, released_a, instrument), (_, reopened_b, _) = sites[0], sites[1]
    version, _ = snapshot_instrument(db)
    # Site A has started a new cycle (open, never closed, so nothing released): A takes part
    # with its released one.
    new_a = store_assessment(
        db,
        organization=org_a,
        version=version,
        instrument=instrument,
        name="Autumn",
        respondents=sample_respondents(instrument, random.Random(3), 9, lean=0.9),
        previous=released_a,
    )
    db.exec(delete(Release).where(Release.assessment_id == new_a.id))
    # Site B's released cycle is open again: B takes no part while it is.
    reopened_b.status = AssessmentStatus.open
    db.add(reopened_b)
    db.commit()
    with TestClient(app, base_url="http://testserver") as client:
        sign_in_fresh(client, funder)
        page = parse(client.get(f"/portfolio/{portfolio.id}/reliability").text)
    assert "4 sites took part; 1 left out with fewer than 3 responses" in page.text("main")
    records = page.records(f"#icc-table-{instrument.id}")
    taking_part = [sites[0], *sites[2:5]]
    for record, domain in zip(records, instrument.domains, strict=True):
        by_site = _scores_by_site(db, instrument, taking_part, domain.id)
        assert record["Sites"] == "4" and record["ICC(1)"] == "–"  # shown from 5 sites
        assert record["People"] == str(sum(len(v) for v in by_site.values()))
