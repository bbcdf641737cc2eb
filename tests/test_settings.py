"""One Settings object: what the app or a command was started with is what every service uses.

Nothing reads the process environment behind the app's back: with PEERREADY_PRIVACY_THRESHOLD=5
in the environment, an app created with other settings stores scores under ITS threshold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.config import Settings
from app.db.engine import engine_from_settings
from app.db.models import AssessmentScore, Release
from app.services import instruments_store, responses
from app.web.main import create_app
from tests.helpers.auth import login, make_cast
from tests.web.journey import full_answers, invite, respondent_csrf, start_cycle

ROOT = Path(__file__).resolve().parent.parent


def _app(engine: Engine, tmp_path: Path, **values: object):
    settings = Settings(PEERREADY_ENV="test", PEERREADY_DATA_DIR=tmp_path / "data", **values)
    return create_app(settings=settings, engine=engine)


def _stored_threshold(db: Session, assessment_id: int) -> int:
    db.expire_all()
    stored = db.get(AssessmentScore, assessment_id)
    assert stored is not None
    return stored.scorecard["privacy_threshold"]


@pytest.mark.parametrize("app_threshold", [3, 4])
def test_submitting_scores_with_the_apps_threshold_not_the_environments(
    db, engine, tmp_path, monkeypatch, app_threshold
):
    monkeypatch.setenv("PEERREADY_PRIVACY_THRESHOLD", "5")
    app = _app(engine, tmp_path, PEERREADY_PRIVACY_THRESHOLD=app_threshold)
    cast = make_cast(db)
    assessment = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id)
    token = invite(db, user=cast.lead_a, assessment=assessment, group="clinical")
    response, personal, _ = responses.start_or_resume(db, token=token, remembered=None, client_ip="t")
    instrument = instruments_store.instrument_for(db, assessment)
    for item_id, value in full_answers(instrument, "clinical").items():
        responses.save_answer(db, response=response, assessment=assessment, item_id=item_id, value=value)
    db.commit()

    with TestClient(app, base_url="http://testserver") as client:
        csrf = respondent_csrf(client, personal)
        submitted = client.post(
            f"/respond/{personal}/submit", data={"csrf_token": csrf}, follow_redirects=False
        )
        assert submitted.status_code == 303, submitted.text
        assert _stored_threshold(db, assessment.id) == app_threshold

        # Closing releases the results (docs/privacy.md) with the app's threshold too.
        lead_csrf = login(client, cast.lead_a.email)
        closed = client.post(
            f"/assessments/{assessment.id}/status",
            data={"csrf_token": lead_csrf, "status": "closed", "confirm": "yes"},
            follow_redirects=False,
        )
        assert closed.status_code == 303
        page = client.get(f"/assessments/{assessment.id}/results")
        assert page.status_code == 200
        db.expire_all()
        release = db.exec(select(Release).where(Release.assessment_id == assessment.id)).one()
        assert release.scorecard["privacy_threshold"] == app_threshold


def test_templates_dir_comes_from_the_apps_settings_and_dot_env_works(engine, tmp_path, monkeypatch):
    override = tmp_path / "my-templates"
    override.mkdir()
    (override / "error.html").write_text(
        '{% extends "default:error.html" %}{% block title %}OVERRIDDEN {{ status }}{% endblock %}',
        encoding="utf-8",
    )
    # A `.env` file in the working directory, as the README says (the test suite turns it off).
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / ".env").write_text(f"PEERREADY_TEMPLATES_DIR={override}\n", encoding="utf-8")
    monkeypatch.chdir(workdir)
    monkeypatch.setitem(Settings.model_config, "env_file", ".env")
    from_env_file = Settings(PEERREADY_ENV="test", PEERREADY_DATA_DIR=tmp_path / "data")
    assert from_env_file.templates_dir == override

    customized = create_app(settings=from_env_file, engine=engine)
    plain = _app(engine, tmp_path, PEERREADY_TEMPLATES_DIR=None)
    with TestClient(customized) as one, TestClient(plain) as other:
        assert "OVERRIDDEN 404" in one.get("/no-such-page").text
        # Two apps in one process keep their own templates: nothing global was changed.
        assert "OVERRIDDEN" not in other.get("/no-such-page").text


def test_a_missing_folder_setting_stops_a_command_with_its_name(tmp_path):
    environment = {
        "PATH": "/usr/bin:/bin",
        "PEERREADY_DATA_DIR": str(tmp_path / "data"),
        "PEERREADY_TEMPLATES_DIR": str(tmp_path / "missing"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "app", "db", "upgrade"],
        cwd=tmp_path,
        env={**environment, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "PEERREADY_TEMPLATES_DIR" in result.stderr and "is not a folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_pool_settings_reach_the_postgresql_engine(tmp_path):
    settings = Settings(
        DATABASE_URL="postgresql://nobody@127.0.0.1:1/none",
        PEERREADY_DB_POOL_SIZE=7,
        PEERREADY_DB_MAX_OVERFLOW=2,
    )
    engine = engine_from_settings(settings)  # no connection is made until one is needed
    assert engine.pool.size() == 7
    assert engine.pool._max_overflow == 2  # noqa: SLF001 - QueuePool has no public getter
    defaults = Settings()
    assert (defaults.db_pool_size, defaults.db_max_overflow) == (5, 5)


def test_base_url_follows_host_and_port_unless_given():
    assert Settings(PEERREADY_HOST="0.0.0.0", PEERREADY_PORT=9000).base_url == "http://0.0.0.0:9000"
    assert Settings(PEERREADY_BASE_URL="https://x.example").base_url == "https://x.example"
