"""The action-plan PDF of a cycle with one or two submitted responses renders, and says what
the results page says: not enough answers yet for a score."""

from __future__ import annotations

import random

import pytest
from sqlmodel import Session

from app.db.models import Organization, Role
from app.reports.pdf import render_report_pdf
from app.services.report_samples import sample_respondents, snapshot_instrument, store_assessment
from app.services.reports import build_report_context
from tests.helpers.auth import make_user, sign_in_as
from tests.helpers.html import parse
from tests.reports.conftest import pdf_text

NOT_ENOUGH = "Not enough answers yet"


@pytest.mark.parametrize("n", [1, 2])
def test_small_cycle_pdf_and_page_say_not_enough_answers_yet(db: Session, client, n: int):
    version, instrument = snapshot_instrument(db)
    organization = Organization(name=f"Tiny Agency {n}")
    db.add(organization)
    db.flush()
    people = sample_respondents(instrument, random.Random(n), n, lean=0.5)
    assessment = store_assessment(
        db,
        organization=organization,
        version=version,
        instrument=instrument,
        name="Baseline",
        respondents=people,
    )
    db.commit()
    text = pdf_text(render_report_pdf(build_report_context(db, assessment_id=assessment.id)))
    assert NOT_ENOUGH in text and "Tiny Agency" in text

    admin = make_user(db, role=Role.admin, email=f"admin{n}@example.org")
    sign_in_as(client, admin)
    page = client.get(f"/assessments/{assessment.id}/results")
    assert page.status_code == 200
    assert NOT_ENOUGH in parse(page).text()
