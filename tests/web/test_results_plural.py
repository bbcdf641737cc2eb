"""The results page counts the people who answered too few questions with the right plural
(issue 16): "1 person", "2 people", and in Spanish "1 persona" / "2 personas", as the PDF does."""

from __future__ import annotations

import random

import pytest
from fastapi.testclient import TestClient

from app.db.models import Organization, Role
from app.services.report_samples import (
    SampleRespondent,
    sample_respondents,
    snapshot_instrument,
    store_assessment,
)
from tests.helpers.auth import make_user, sign_in_as
from tests.helpers.html import parse


def _cycle(db, *, below: int) -> int:
    """Three full leadership answers and `below` leadership respondents who answered only the
    first question (too few in every condition), closed and released."""
    version, instrument = snapshot_instrument(db)
    organization = Organization(name=f"Plural Agency {below}")
    db.add(organization)
    db.flush()
    people = sample_respondents(instrument, random.Random(5), 3, lean=0.5)
    assert {p.group for p in people} == {"leadership"}
    people += [SampleRespondent(group="leadership", answers={"pps_status": "employ"}) for _ in range(below)]
    assessment = store_assessment(
        db,
        organization=organization,
        version=version,
        instrument=instrument,
        name="Spring",
        respondents=people,
    )
    db.commit()
    return assessment.id


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # wording only: one database is enough
def test_too_few_answers_is_counted_with_the_right_plural(app, db):
    ids = {n: _cycle(db, below=n) for n in (1, 2)}
    admin = make_user(db, role=Role.admin)
    expected = {
        "en": {
            1: "1 person answered too few questions to score.",
            2: "2 people answered too few questions to score.",
        },
        "es": {
            1: "1 persona respondió muy pocas preguntas para tener puntaje.",
            2: "2 personas respondieron muy pocas preguntas para tener puntaje.",
        },
    }
    for lang, wording in expected.items():
        with TestClient(app, base_url="http://testserver", headers={"Accept-Language": lang}) as client:
            sign_in_as(client, admin)
            for n, assessment_id in ids.items():
                page = parse(client.get(f"/assessments/{assessment_id}/results"))
                hints = page.texts("section.domain-result p.hint")
                assert hints.count(wording[n]) == len(page.select("section.domain-result")), (lang, n, hints)
                other = wording[3 - n]
                assert other not in page.text("main"), (lang, n)
                assert "1 people" not in page.text("main")
