"""`peerready assessments`, `peerready report ID` and `peerready report --portfolio ID`, run as a
user runs them (a subprocess pointed at the test database)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pypdf import PdfReader
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.db.models import AuditEvent, Organization, Portfolio, PortfolioSite
from app.services.report_samples import create_sample_report_data

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], *, engine: Engine, data_dir: Path) -> subprocess.CompletedProcess:
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


def test_list_assessments_then_write_one_report_and_a_portfolio_batch(db: Session, engine: Engine, tmp_path):
    first = create_sample_report_data(db, organization_name="Cedar Family Center", plan_actions=3)
    second = create_sample_report_data(
        db, organization_name="Dogwood Clinic", with_previous=False, plan_actions=0
    )
    portfolio = Portfolio(name="State pilot")
    db.add(portfolio)
    db.flush()
    for organization in db.exec(select(Organization)):
        db.add(PortfolioSite(portfolio_id=portfolio.id, organization_id=organization.id))
    db.commit()
    data_dir = tmp_path / "data"

    listed = _run(["assessments", "--json"], engine=engine, data_dir=data_dir)
    assert listed.returncode == 0, listed.stderr
    rows = {row["id"]: row for row in json.loads(listed.stdout)}
    assert rows[first.id] == {
        "id": first.id,
        "organization": "Cedar Family Center",
        "cycle": "Follow-up, fall 2027",
        "status": "open",
        "respondents": 30,
        "submitted": 28,
    }
    assert rows[second.id]["cycle"] == "Baseline, spring 2027" and len(rows) == 3  # + Cedar's baseline
    table = _run(["assessments"], engine=engine, data_dir=data_dir)
    assert "Cedar Family Center" in table.stdout and "30 (28 submitted)" in table.stdout

    out = tmp_path / "out"
    single = _run(
        ["report", str(first.id), "--out", str(out), "--paper", "a4"], engine=engine, data_dir=data_dir
    )
    assert single.returncode == 0, single.stderr
    written = out / f"{first.id}-peerready-cedar-family-center-follow-up-fall-2027.pdf"
    assert f"Wrote {written}" in single.stdout
    assert round(float(PdfReader(written).pages[0].mediabox.width)) == 595  # A4

    batch_dir = tmp_path / "batch"
    batch = _run(
        ["report", "--portfolio", str(portfolio.id), "--out", str(batch_dir)],
        engine=engine,
        data_dir=data_dir,
    )
    assert batch.returncode == 0, batch.stderr
    names = sorted(p.name for p in batch_dir.glob("*.pdf"))
    # The latest assessment of each site: Cedar's follow-up (not its baseline) and Dogwood's baseline.
    assert names == sorted(
        [
            f"{first.id}-peerready-cedar-family-center-follow-up-fall-2027.pdf",
            f"{second.id}-peerready-dogwood-clinic-baseline-spring-2027.pdf",
        ]
    )
    assert "2 report(s) in" in batch.stdout
    db.expire_all()
    exports = db.exec(select(AuditEvent).where(AuditEvent.action == "report.export")).all()
    assert len(exports) == 3 and {e.actor for e in exports} == {"command line"}

    missing = _run(["report", "987654", "--out", str(out)], engine=engine, data_dir=data_dir)
    assert missing.returncode != 0 and "No such assessment" in missing.stderr
    assert "Traceback" not in missing.stderr
    neither = _run(["report", "--out", str(out)], engine=engine, data_dir=data_dir)
    assert neither.returncode == 2
    assert "Give either ASSESSMENT_ID (one or more) or --portfolio" in neither.stderr
