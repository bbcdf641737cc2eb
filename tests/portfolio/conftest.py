"""Portfolio test data: instrument snapshots, and completed cycles whose stored scores are written
by the real `refresh_scores` from real Response/Answer rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session

from app.db.models import (
    Answer,
    Assessment,
    AssessmentStatus,
    InstrumentVersion,
    Organization,
    Response,
    ResponseStatus,
)
from app.instruments.loader import load_instrument_file
from app.instruments.models import Instrument
from app.paths import INSTRUMENTS_DIR
from app.portfolio.sample import synthetic_responses
from app.scoring import ResponseInput
from app.services import instruments_store
from app.services.releases import release_at_close
from app.services.scores import refresh_scores

THRESHOLD = 3


@dataclass
class Versions:
    full: InstrumentVersion
    full_instrument: Instrument
    quick: InstrumentVersion
    quick_instrument: Instrument


@pytest.fixture
def versions(db: Session) -> Versions:
    full = load_instrument_file(INSTRUMENTS_DIR / "readiness-full.yaml")
    quick = load_instrument_file(INSTRUMENTS_DIR / "quick-check.yaml")
    full_row = instruments_store.snapshot(db, loaded=full)
    quick_row = instruments_store.snapshot(db, loaded=quick)
    db.commit()
    return Versions(full_row, full.instrument, quick_row, quick.instrument)


_clock = iter(range(1, 10_000))


def make_cycle(
    db: Session,
    *,
    organization: Organization,
    version: InstrumentVersion,
    responses: list[ResponseInput],
    name: str = "Baseline",
    closed: bool = True,
    expected: int | None = None,
    close_date: date | None = None,
) -> Assessment:
    """An assessment with these responses (submitted), stored scores refreshed, committed."""
    created = datetime(2027, 1, 1, tzinfo=UTC) + timedelta(days=next(_clock))
    assessment = Assessment(
        organization_id=organization.id,
        instrument_version_id=version.id,
        name=name,
        status=AssessmentStatus.closed if closed else AssessmentStatus.open,
        created_at=created,
        closed_at=created + timedelta(days=30) if closed else None,
        close_date=close_date,
        expected_respondents=expected,
    )
    db.add(assessment)
    db.flush()
    for response in responses:
        row = Response(
            assessment_id=assessment.id,
            group=response.group,
            status=ResponseStatus.submitted,
            submitted_at=created,
        )
        db.add(row)
        db.flush()
        db.add_all(Answer(response_id=row.id, item_id=k, value=v) for k, v in response.answers.items())
    db.flush()
    refresh_scores(db, assessment_id=assessment.id, privacy_threshold=THRESHOLD)
    if closed:  # a closed cycle's figures are its release (docs/privacy.md)
        release_at_close(db, assessment=assessment, privacy_threshold=THRESHOLD, actor="test")
    db.commit()
    return assessment


def responses(instrument: Instrument, n: int, *, seed: int, lean: float = 3.5) -> list[ResponseInput]:
    return synthetic_responses(instrument, n=n, seed=seed, lean=lean)
