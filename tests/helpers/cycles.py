"""A closed-form cycle of sampled respondents, stored and scored as the app does, and the
`peerready` command run through click's runner against the test database: shared by the
evidence, interoperability and per-question tests."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.db.models import Assessment, Organization, Role
from app.instruments.models import Instrument
from app.services.report_samples import sample_respondents, snapshot_instrument, store_assessment
from app.services.scores import refresh_scores
from tests.helpers.auth import make_user, sign_in_as
from tests.helpers.html import parse


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


def run(monkeypatch: pytest.MonkeyPatch, engine: Engine, data_dir: Path, *args: str) -> Outcome:
    """`peerready ARGS` against `engine`'s database (exit code, stdout, stderr)."""
    from app.cli import cli

    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("PEERREADY_DATA_DIR", str(data_dir))
    monkeypatch.setenv("PEERREADY_ENV", "test")
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return Outcome(result.exit_code, result.stdout, result.stderr)


def store_cycle(
    db: Session,
    *,
    name: str,
    count: int,
    seed: int,
    lean: float = 0.5,
    sharing: bool = False,
    organization: Organization | None = None,
) -> tuple[Organization, Assessment, Instrument]:
    """`count` sampled respondents of readiness_full in a new cycle "Spring" of a new organization
    `name` (or of `organization`), with the stored scorecard exactly as the app computes it."""
    version, instrument = snapshot_instrument(db)
    if organization is None:
        organization = Organization(name=name, research_sharing=sharing)
        db.add(organization)
        db.flush()
    people = sample_respondents(instrument, random.Random(seed), count, lean=lean)
    assessment = store_assessment(
        db,
        organization=organization,
        version=version,
        instrument=instrument,
        name="Spring",
        respondents=people,
    )
    refresh_scores(db, assessment_id=assessment.id, privacy_threshold=3, instrument=instrument)
    db.commit()
    return organization, assessment, instrument


def sign_in_fresh(client: TestClient, user) -> str:
    """Sign `user` in, dropping the previous user's session cookie first."""
    client.cookies.clear()
    return sign_in_as(client, user)


def results_page_scores(app, db: Session, assessment: Assessment) -> dict[str, str]:
    """Condition title -> the score the results page shows (as an administrator sees it)."""
    admin = make_user(db, role=Role.admin)
    with TestClient(app, base_url="http://testserver") as client:
        sign_in_as(client, admin)
        page = parse(client.get(f"/assessments/{assessment.id}/results").text)
    return {row["Condition"]: row["Score (0–100)"] for row in page.records("#scores-table")}
