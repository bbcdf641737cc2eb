"""Agreement indices (results page, `peerready agreement`) and the PDF's question appendix are
counted from the stored answers, so once an answer differs from what was released (a reopened
cycle) they are withheld until the next release, as the question download is
(test_question_detail.py): otherwise one person's changed answer would show in them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.db.models import Answer, Response, Role
from app.services.evidence import assessment_agreement
from app.services.reports import build_report_context
from tests.helpers.auth import make_user
from tests.helpers.cycles import sign_in_fresh, store_cycle
from tests.helpers.html import parse


@pytest.fixture
def cycle(db):
    return store_cycle(db, name="Birch Family Center", count=9, seed=5)


def _agreement_cells(client, assessment_id):
    page = parse(client.get(f"/assessments/{assessment_id}/results").text)
    return page.records("#agreement-table")


def test_agreement_and_pdf_appendix_only_from_the_released_answers(app, db, cycle):
    organization, assessment, _ = cycle
    lead = make_user(db, role=Role.org_lead, organizations=[organization])
    with TestClient(app, base_url="http://testserver") as client:
        sign_in_fresh(client, lead)
        before = _agreement_cells(client, assessment.id)
        site_before = assessment_agreement(db, assessment_id=assessment.id, privacy_threshold=3)
        report_before = build_report_context(db, assessment_id=assessment.id)
        answer = db.exec(
            select(Answer).join(Response).where(Response.assessment_id == assessment.id, Answer.value == "4")
        ).first()
        answer.value = "1"
        db.add(answer)
        db.commit()
        after = _agreement_cells(client, assessment.id)
        site_after = assessment_agreement(db, assessment_id=assessment.id, privacy_threshold=3)
        report_after = build_report_context(db, assessment_id=assessment.id)

    # before the change: released answers, figures shown
    assert any(r["rwg(j)"] not in ("", "—", "–") for r in before)
    assert any(row.rwg_j.value is not None for row in site_before.rows)
    assert any(it.distribution for q in report_before.questions for it in q.items)

    # after: the released scores stay, nothing counted from the changed answers is shown
    assert [r["Score"] for r in after] == [r["Score"] for r in before]
    assert all(
        r["n"] == "—" and "changed since these results were released" in r["What it means"] for r in after
    )
    assert all(row.rwg_j.value is None and row.awg_j.value is None for row in site_after.rows)
    assert all(row.rwg_j.reason == "changed_since_release" and row.raters is None for row in site_after.rows)
    assert site_after.n_respondents == site_before.n_respondents  # the release's count
    assert [q.items[0].mean for q in report_after.questions] == [
        q.items[0].mean for q in report_before.questions
    ]
    assert not any(it.distribution for q in report_after.questions for it in q.items)
