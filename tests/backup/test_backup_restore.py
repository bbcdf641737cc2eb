"""Backup of the demo and restore into a new SQLite file and a new PostgreSQL database, from either:
every row comes back equal, the instrument snapshots are in the archive, the restored app shows
the same results page and the same PDF text, and new rows get fresh ids."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, SQLModel, select

from app.db import backup, migrate
from app.db.engine import make_engine
from app.db.models import Assessment, InstrumentVersion, Organization, User
from app.paths import INSTRUMENTS_DIR
from app.services import demo
from app.services.demo import DEMO_PASSWORD, load_demo
from app.web.main import create_app
from tests.backup.conftest import all_rows, archive_tables, settings_for, url_of
from tests.helpers.auth import login
from tests.reports.conftest import pdf_text

HEAD = migrate.head_revision()  # the schema revision a fresh backup records

LEAD = "lead.riverbend@demo.peerready.org"
CSRF = re.compile(r'(name="csrf_token" value=|name="csrf-token" content=)"[^"]+"')


def _results_and_pdf(settings, engine, assessment_id: int, *, with_pdf: bool) -> tuple[str, str]:
    """The lead's results page (CSRF tokens blanked) and the text of the PDF report."""
    with TestClient(create_app(settings=settings, engine=engine), base_url="http://testserver") as client:
        login(client, LEAD, DEMO_PASSWORD)
        page = client.get(f"/assessments/{assessment_id}/results")
        assert page.status_code == 200
        if not with_pdf:
            return CSRF.sub("csrf", page.text), ""
        pdf = client.get(f"/assessments/{assessment_id}/report.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    return CSRF.sub("csrf", page.text), pdf_text(pdf.content)


@pytest.mark.slow
@pytest.mark.parametrize("target", ["sqlite", "postgres"])
def test_demo_restores_row_for_row_with_the_same_results_and_pdf(
    engine, db: Session, backend: str, target: str, empty_database, tmp_path
):
    load_demo(db, instruments_dir=INSTRUMENTS_DIR, privacy_threshold=3)
    db.commit()
    source_settings = settings_for(url_of(engine), tmp_path / "source-data")
    archive = tmp_path / "peerready-demo.zip"

    made = backup.backup(source_settings, archive)

    manifest, tables = archive_tables(archive)
    assert manifest["format"] == "peerready-backup" and manifest["format_version"] == 1
    assert manifest["schema_revision"] == HEAD == made.schema_revision
    assert manifest["source_database"] == ("sqlite" if backend == "sqlite" else "postgresql")
    # Every table of the models, so a table added later is backed up without being listed anywhere.
    assert set(tables) == set(SQLModel.metadata.tables)
    original = all_rows(engine)
    assert {e["name"]: e["rows"] for e in manifest["tables"]} == {n: len(r) for n, r in original.items()}
    assert made.total_rows == sum(len(r) for r in original.values()) > 3000
    # The instrument snapshots travel with the data: assessments keep the exact text they started with.
    snapshots = db.exec(select(InstrumentVersion).order_by(InstrumentVersion.id)).all()
    assert len(snapshots) == 2
    assert [
        (r["instrument_id"], r["content_hash"], r["source_yaml"]) for r in tables["instrumentversion"]
    ] == [(s.instrument_id, s.content_hash, s.source_yaml) for s in snapshots]
    assert manifest["instrument_snapshots"] == [
        {"instrument_id": s.instrument_id, "version": s.version, "content_hash": s.content_hash}
        for s in snapshots
    ]
    # Typed values: aware UTC datetimes, enums by name, JSON as JSON, booleans as booleans.
    user = tables["user"][0]
    assert user["created_at"].endswith("+00:00") and user["role"] == "admin" and user["is_active"] is True
    assert isinstance(tables["assessmentscore"][0]["scorecard"], dict)
    assert isinstance(tables["planitem"][0]["steps"], list)

    target_url = empty_database(target)
    target_settings = settings_for(target_url, tmp_path / "target-data")
    restored = backup.restore(target_settings, archive)
    assert restored.total_rows == made.total_rows and restored.replaced_rows == 0

    target_engine = make_engine(target_url)
    try:
        copy = all_rows(target_engine)
        for name in original:
            assert copy[name] == original[name], f"table {name} differs after the restore"

        follow_up = db.exec(
            select(Assessment).where(Assessment.name == demo.cycle_name("riverbend_follow_up"))
        ).one()
        # The PDF (seconds to render) is compared when moving between the two kinds of database.
        with_pdf = backend != target
        before = _results_and_pdf(source_settings, engine, follow_up.id, with_pdf=with_pdf)
        after = _results_and_pdf(target_settings, target_engine, follow_up.id, with_pdf=with_pdf)
        assert f"Change since “{demo.cycle_name('riverbend_baseline')}”" in after[0]
        assert after[0] == before[0]
        if with_pdf:
            assert "Riverbend Family Services" in after[1] and after[1] == before[1]

        # Ids were kept, and the next row gets a new one (PostgreSQL sequences were moved on).
        with Session(target_engine) as session:
            largest = max(o.id for o in session.exec(select(Organization)))
            added = Organization(name="Added after the restore")
            session.add(added)
            session.commit()
            assert added.id == largest + 1
            assert session.exec(select(User).where(User.email == LEAD)).one().id == next(
                u.id for u in db.exec(select(User).where(User.email == LEAD))
            )
    finally:
        target_engine.dispose()
