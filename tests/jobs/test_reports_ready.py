"""Reports ready before the click: a change queues a `report` job on the real queue (SQLite queue
file, or huey's PostgreSQL tables on PostgreSQL), a worker renders the PDFs into the cache, and the
download reads the file. Before the job has run, the download is a "being prepared" page."""

from __future__ import annotations

import io
from pathlib import Path

from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlmodel import Session, func, select

from app.db.models import Job, JobStatus, PlanItem
from app.jobs.queue import get_queue
from app.services import commentary, report_prepare
from app.web.main import create_app
from tests.helpers.auth import sign_in_as
from tests.helpers.html import parse
from tests.jobs.conftest import small_assessment, worker_settings


def _jobs(engine) -> list[Job]:
    with Session(engine) as session:
        return list(session.exec(select(Job).order_by(Job.id)))


def _text(data: bytes) -> str:
    return " ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def test_change_prepares_the_report_and_the_download_reads_the_file(db, engine, cast, queue_data_dir: Path):
    assessment = small_assessment(db, cast.org_a)  # made before the app: nothing queued yet
    settings = worker_settings(engine, queue_data_dir)
    queue = get_queue(settings, engine)
    url = f"/assessments/{assessment.id}/report.pdf"
    with TestClient(create_app(settings=settings, engine=engine)) as client:
        sign_in_as(client, cast.lead_a)

        # Not rendered yet: the download starts the job and says the report is being prepared.
        waiting = client.get(url)
        assert waiting.status_code == 202
        page = parse(waiting.text)
        assert page.heading() == "Your report is being prepared"
        assert page.one("#job").get("data-job-then") == url
        (job,) = _jobs(engine)
        assert (job.kind, job.status, job.created_by_id) == ("report", JobStatus.queued, None)
        assert client.get(url).status_code == 202 and len(_jobs(engine)) == 1  # joins, not twice

        assert queue.run_burst() >= 1
        first = client.get(url)
        assert first.status_code == 200 and first.content.startswith(b"%PDF")
        assert client.get(url + "?paper=a4").status_code == 200  # the job rendered both sizes
        assert len(_jobs(engine)) == 1  # a cache hit starts nothing

        # A consultant's commentary changes the report: the job is queued when the change commits.
        commentary.save_commentary(
            db, user=cast.consultant_a, assessment_id=assessment.id, text="Strong start on supervision."
        )
        db.commit()
        jobs_now = _jobs(engine)
        assert len(jobs_now) == 2 and jobs_now[-1].status == JobStatus.queued
        assert client.get(url).status_code == 202  # the old file is not the current content
        assert len(_jobs(engine)) == 2

        queue.run_burst()
        fresh = client.get(url)
        assert fresh.status_code == 200 and fresh.content != first.content
        assert "Strong start on supervision." in _text(fresh.content)

        # A change that rolls back queues nothing.
        commentary.save_commentary(db, user=cast.consultant_a, assessment_id=assessment.id, text="Draft")
        db.rollback()
        assert len(_jobs(engine)) == 2

        # Funders never get the report, and their refusal starts nothing.
        sign_in_as(client, cast.funder_p)
        assert client.get(url).status_code == 403
        assert len(_jobs(engine)) == 2


def test_a_plan_change_prepares_every_cycle_of_the_organization(db, engine, cast, queue_data_dir):
    first = small_assessment(db, cast.org_a, name="Spring")
    second = small_assessment(db, cast.org_a, name="Autumn")
    other = small_assessment(db, cast.org_b, name="Elsewhere")
    settings = worker_settings(engine, queue_data_dir)
    report_prepare.watch(engine, settings)
    try:
        db.add(PlanItem(organization_id=cast.org_a.id, title="Name a peer supervisor"))
        db.commit()
    finally:
        report_prepare.unwatch(engine)
    queued = {job.params["assessment_id"] for job in _jobs(engine)}
    assert queued == {first.id, second.id} and other.id not in queued
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Job)).one() == 2


def test_nothing_is_prepared_with_the_immediate_queue_or_when_turned_off(db, engine, cast, tmp_path):
    from app.config import Settings

    assessment = small_assessment(db, cast.org_a)
    for settings in (
        Settings(PEERREADY_ENV="test", PEERREADY_DATA_DIR=tmp_path / "a", PEERREADY_QUEUE="immediate"),
        Settings(PEERREADY_ENV="test", PEERREADY_DATA_DIR=tmp_path / "b", PEERREADY_PREPARE_REPORTS="false"),
    ):
        report_prepare.watch(engine, settings)
        try:
            commentary.save_commentary(
                db, user=cast.consultant_a, assessment_id=assessment.id, text=f"Note {settings.data_dir.name}"
            )
            db.commit()
        finally:
            report_prepare.unwatch(engine)
    assert _jobs(engine) == []
