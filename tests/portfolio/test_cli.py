"""`peerready import-responses`, run as an operator runs it (a subprocess on the test database)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlmodel import func, select

from app.db.models import AssessmentScore, Response
from tests.helpers.auth import make_organization
from tests.portfolio.conftest import make_cycle, responses
from tests.portfolio.test_consultant import _csv_text

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], *, engine, data_dir: Path) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PEERREADY_", "DATABASE_URL"))}
    environment.update(
        {
            "DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "PEERREADY_DATA_DIR": str(data_dir),
            "PEERREADY_ENV": "development",
            "PYTHONPATH": str(ROOT),
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=data_dir.parent,
        timeout=300,
    )


def test_import_responses_command(db, engine, versions, tmp_path):
    organization = make_organization(db, "Alder Family Services")
    cycle = make_cycle(db, organization=organization, version=versions.full, closed=False, responses=[])
    good = tmp_path / "paper.csv"
    good.write_text(_csv_text(versions.full_instrument, responses(versions.full_instrument, 5, seed=7)))
    bad = tmp_path / "bad.csv"
    bad.write_text("respondent,group,purpose_clear_goal\nF-1,leadership,9\nF-2,nobody,3\n")
    data_dir = tmp_path / "data"

    def saved() -> int:
        db.expire_all()
        return db.exec(
            select(func.count()).select_from(Response).where(Response.assessment_id == cycle.id)
        ).one()

    refused = _run(["import-responses", str(cycle.id), str(bad)], engine=engine, data_dir=data_dir)
    assert refused.returncode == 1 and "nothing was saved" in refused.stderr
    assert "row 2, column purpose_clear_goal" in refused.stderr and "row 3, column group" in refused.stderr
    assert "Traceback" not in refused.stderr and saved() == 0

    dry = _run(["import-responses", str(cycle.id), str(good), "--dry-run"], engine=engine, data_dir=data_dir)
    assert dry.returncode == 0, dry.stderr
    assert "5 responses pass every check" in dry.stdout and saved() == 0

    done = _run(["import-responses", str(cycle.id), str(good)], engine=engine, data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    assert f"Saved 5 responses into assessment {cycle.id}" in done.stdout
    # Saved as a pending import: it counts only once the agency's lead approves it.
    assert saved() == 5 and db.get(AssessmentScore, cycle.id).n_respondents == 0
    assert "lead approves" in done.stdout

    missing = _run(["import-responses", "999999", str(good)], engine=engine, data_dir=data_dir)
    assert missing.returncode == 1 and "no assessment 999999" in missing.stderr
