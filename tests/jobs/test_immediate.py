"""Jobs in immediate mode (PEERREADY_QUEUE=immediate): the queue runs each job inside the call
that starts it, through the same runner, store and kinds a worker uses. On SQLite and PostgreSQL."""

from __future__ import annotations

import io
import zipfile

import pytest
from pypdf import PdfReader
from sqlmodel import Session, select

from app.db.models import AuditEvent, Job, JobStatus
from app.errors import BadInput, Conflict, Forbidden, Gone, NotFound
from app.jobs.kinds.reports import report_cache_dir
from app.portfolio.pdf import render_portfolio_pdf  # noqa: F401  (the kind prints through it)
from app.services import jobs
from tests.helpers.auth import make_organization, make_user
from tests.jobs.conftest import reload, small_assessment


def _pdf_pages(data: bytes) -> int:
    return len(PdfReader(io.BytesIO(data)).pages)


def test_report_job_renders_both_papers_into_the_report_cache(db, engine, cast, immediate_settings):
    assessment = small_assessment(db, cast.org_a)
    job = jobs.start(
        db, "report", params={"assessment_id": assessment.id}, user=cast.lead_a, settings=immediate_settings
    )

    assert job.status == JobStatus.done, job.error
    assert job.attempts == 1
    assert (job.progress_done, job.progress_total, job.progress_message) == (2, 2, "Ready")
    assert job.organization_id == cast.org_a.id and job.created_by_id == cast.lead_a.id
    files = job.result_detail["files"]
    assert set(files) == {"letter", "a4"} and job.result_detail["rendered"] == ["letter", "a4"]
    cache = report_cache_dir(immediate_settings)
    for name in files.values():
        data = (cache / name).read_bytes()
        assert data.startswith(b"%PDF") and _pdf_pages(data) >= 1
    # The web download of the same report is now a cache hit: same bytes, no render.
    from app.services.reports import cached_report_for_download

    download = cached_report_for_download(
        db, user=cast.lead_a, assessment_id=assessment.id, paper="a4", cache_dir=cache
    )
    assert download.path == cache / files["a4"]

    again = jobs.start(
        db, "report", params={"assessment_id": assessment.id}, user=cast.lead_a, settings=immediate_settings
    )
    assert again.id != job.id and again.status == JobStatus.done
    assert again.result_detail["rendered"] == [] and again.result_detail["from_cache"] == ["letter", "a4"]


def test_batch_zip_has_one_report_per_site_and_lists_what_was_left_out(db, engine, cast, immediate_settings):
    admin = cast.admin
    first = small_assessment(db, cast.org_a, name="Spring")
    second = small_assessment(db, cast.org_b, name="Autumn")
    job = jobs.start(
        db,
        "report_batch",
        params={"assessment_ids": [first.id, second.id, first.id], "paper": "a4"},
        user=admin,
        settings=immediate_settings,
    )
    assert job.status == JobStatus.done, job.error
    assert job.params["assessment_ids"] == [first.id, second.id]  # duplicates dropped, order kept
    assert job.organization_id is None and job.params["organization_ids"] == sorted(
        [cast.org_a.id, cast.org_b.id]
    )
    assert (job.progress_done, job.progress_total, job.progress_message) == (2, 2, "2 of 2 sites")
    path, name, media_type = jobs.result_file(db, job.id, user=admin, settings=immediate_settings)
    assert media_type == "application/zip" and name.endswith(".zip")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert len(names) == 2 and all(n.endswith(".pdf") for n in names)
        assert names[0].startswith(f"{first.id}-") and names[1].startswith(f"{second.id}-")
        assert all(archive.read(n).startswith(b"%PDF") for n in names)
    assert job.result_detail["included"] == 2 and job.result_detail["skipped"] == []


def test_batch_skips_a_site_that_went_away_and_says_so(db, engine, cast, immediate_settings, monkeypatch):
    from app.jobs.kinds import reports

    kept = small_assessment(db, cast.org_a, name="Kept")
    gone = small_assessment(db, cast.org_a, name="Gone")
    real = reports.build_report_context

    def vanished(session, *, assessment_id, paper, lang=None):
        if assessment_id == gone.id:
            raise NotFound("No such assessment.")
        return real(session, assessment_id=assessment_id, paper=paper, lang=lang)

    monkeypatch.setattr(reports, "build_report_context", vanished)
    job = jobs.start(
        db,
        "report_batch",
        params={"assessment_ids": [kept.id, gone.id]},
        user=cast.consultant_a,
        settings=immediate_settings,
    )
    assert job.status == JobStatus.done and job.organization_id == cast.org_a.id
    assert job.result_detail["skipped"] == [{"assessment_id": gone.id, "reason": "No such assessment."}]
    path, _, _ = jobs.result_file(db, job.id, user=cast.consultant_a, settings=immediate_settings)
    with zipfile.ZipFile(path) as archive:
        assert f"assessment {gone.id}: No such assessment." in archive.read("not-included.txt").decode()
        assert len([n for n in archive.namelist() if n.endswith(".pdf")]) == 1


def test_portfolio_pdf_job(db, engine, cast, immediate_settings):
    small_assessment(db, cast.org_a)
    job = jobs.start(
        db,
        "portfolio_pdf",
        params={"portfolio_id": cast.portfolio_p.id},
        user=cast.funder_p,
        settings=immediate_settings,
    )
    assert job.status == JobStatus.done, job.error
    assert job.portfolio_id == cast.portfolio_p.id and job.organization_id is None
    path, name, media_type = jobs.result_file(db, job.id, user=cast.funder_p, settings=immediate_settings)
    assert media_type == "application/pdf" and name.startswith(f"peerready-portfolio-{cast.portfolio_p.id}")
    text = " ".join(page.extract_text() or "" for page in PdfReader(path).pages)
    assert "Portfolio P" in text
    audit = db.exec(select(AuditEvent).where(AuditEvent.action == "portfolio.export_pdf")).all()
    assert [a.target for a in audit] == [f"job:{job.id}"]


def test_starting_checks_parameters_and_access(db, engine, cast, immediate_settings):
    assessment = small_assessment(db, cast.org_a)
    settings = immediate_settings
    with pytest.raises(BadInput):
        jobs.start(db, "no_such_kind", params={}, user=cast.admin, settings=settings)
    with pytest.raises(BadInput):
        jobs.start(db, "report", params={"assessment_id": "12"}, user=cast.admin, settings=settings)
    with pytest.raises(BadInput):
        jobs.start(
            db,
            "report",
            params={"assessment_id": assessment.id, "papers": ["a3"]},
            user=cast.admin,
            settings=settings,
        )
    with pytest.raises(BadInput):
        jobs.start(db, "report_batch", params={"assessment_ids": []}, user=cast.admin, settings=settings)
    with pytest.raises(NotFound):  # another agency's assessment: as if it did not exist
        jobs.start(db, "report", params={"assessment_id": assessment.id}, user=cast.lead_b, settings=settings)
    with pytest.raises(NotFound):
        jobs.start(
            db,
            "report_batch",
            params={"assessment_ids": [assessment.id]},
            user=cast.consultant_b,
            settings=settings,
        )
    with pytest.raises(Forbidden):  # funders never get site reports (comments, plans)
        jobs.start(
            db, "report", params={"assessment_id": assessment.id}, user=cast.funder_p, settings=settings
        )
    with pytest.raises(NotFound):
        jobs.start(
            db,
            "portfolio_pdf",
            params={"portfolio_id": cast.portfolio_p.id},
            user=cast.funder_q,
            settings=settings,
        )
    with pytest.raises(Forbidden):
        jobs.start(
            db,
            "portfolio_pdf",
            params={"portfolio_id": cast.portfolio_p.id},
            user=cast.lead_a,
            settings=settings,
        )
    assert db.exec(select(Job)).all() == []  # nothing was started


def test_who_may_see_a_job(db, engine, cast, immediate_settings):
    settings = immediate_settings
    a = small_assessment(db, cast.org_a)
    b = small_assessment(db, cast.org_b)
    report = jobs.start(
        db,
        "report",
        params={"assessment_id": a.id, "papers": ["letter"]},
        user=cast.consultant_a,
        settings=settings,
    )
    jobs.get(db, report.id, user=cast.lead_a)  # same agency, not the starter
    jobs.get(db, report.id, user=cast.admin)
    with pytest.raises(NotFound):
        jobs.get(db, report.id, user=cast.lead_b)
    with pytest.raises(Forbidden):
        jobs.get(db, report.id, user=cast.funder_p)
    with pytest.raises(NotFound):
        jobs.get(db, 2**40, user=cast.admin)

    # A batch spanning two agencies belongs to its starter, while they may still see both.
    both = make_user(db, role="consultant", organizations=[cast.org_a, cast.org_b])
    batch = jobs.start(
        db, "report_batch", params={"assessment_ids": [a.id, b.id]}, user=both, settings=settings
    )
    jobs.get(db, batch.id, user=both)
    for other in (cast.consultant_a, cast.lead_b, cast.funder_p):
        with pytest.raises((NotFound, Forbidden)):
            jobs.get(db, batch.id, user=other)
    from app.db.models import Membership

    db.delete(
        db.exec(
            select(Membership).where(
                Membership.user_id == both.id, Membership.organization_id == cast.org_b.id
            )
        ).one()
    )
    db.commit()
    with pytest.raises(NotFound):
        jobs.get(db, batch.id, user=both)


def test_failure_keeps_its_error_and_retry_runs_it_again(db, engine, cast, immediate_settings, steps_kind):
    steps_kind.fail_times = 1
    job = jobs.start(
        db,
        "test_steps",
        params={"organization_id": cast.org_a.id},
        user=cast.lead_a,
        settings=immediate_settings,
    )
    assert job.status == JobStatus.failed
    assert "RuntimeError: disk on fire (run 1)" in job.error and job.attempts == 1
    with pytest.raises(Conflict):
        jobs.result_file(db, job.id, user=cast.lead_a, settings=immediate_settings)
    with pytest.raises(Conflict):
        jobs.cancel(db, job.id, user=cast.lead_a)

    again = jobs.retry(db, job.id, user=cast.lead_a, settings=immediate_settings)
    assert again.id == job.id and again.status == JobStatus.done and again.error is None
    assert again.attempts == 2 and steps_kind.runs == 2
    with pytest.raises(Conflict):
        jobs.retry(db, job.id, user=cast.lead_a, settings=immediate_settings)


def test_a_cancel_request_is_honoured_at_the_next_step(db, engine, cast, immediate_settings, steps_kind):
    steps_kind.steps, steps_kind.cancel_at = 5, 2
    job = jobs.start(
        db,
        "test_steps",
        params={"organization_id": cast.org_a.id},
        user=cast.lead_a,
        settings=immediate_settings,
    )
    assert job.status == JobStatus.cancelled
    assert steps_kind.finished_steps == 2 and job.progress_done == 1  # stopped before step 2 began
    assert job.finished_at is not None and job.result_path is None
    again = jobs.retry(db, job.id, user=cast.lead_a, settings=immediate_settings)
    assert again.status == JobStatus.cancelled  # the kind cancels itself again at step 2


def test_the_time_limit_fails_a_job_between_steps(db, engine, cast, immediate_settings, steps_kind):
    steps_kind.steps, steps_kind.sleep = 4, 0.4
    job = jobs.start(
        db,
        "test_steps",
        params={"organization_id": cast.org_a.id, "timeout_seconds": 1},
        user=cast.lead_a,
        settings=immediate_settings,
    )
    assert job.status == JobStatus.failed
    assert job.error == "The job took longer than its limit of 1 seconds."
    assert steps_kind.finished_steps < 4


def test_the_same_locked_work_is_one_job_while_it_is_active(db, engine, cast, immediate_settings, steps_kind):
    from app.services import job_store as store

    settings = immediate_settings.model_copy(update={"queue": "sqlite"})  # queued, nothing runs it
    params = {"organization_id": cast.org_a.id, "lock_key": "test:same-work"}
    first = jobs.start(db, "test_steps", params=params, user=cast.lead_a, settings=settings)
    second = jobs.start(db, "test_steps", params=params, user=cast.consultant_a, settings=settings)
    assert first.status == second.status == JobStatus.queued and second.id == first.id
    other = jobs.start(
        db, "test_steps", params={**params, "lock_key": "test:other"}, user=cast.lead_a, settings=settings
    )
    assert other.id != first.id

    cancelled = jobs.cancel(db, first.id, user=cast.lead_a)
    assert cancelled.status == JobStatus.cancelled
    third = jobs.start(db, "test_steps", params=params, user=cast.lead_a, settings=settings)
    assert third.id != first.id and third.status == JobStatus.queued
    # Retrying the cancelled one while the new one is active joins the active one.
    assert jobs.retry(db, first.id, user=cast.lead_a, settings=settings).id == third.id
    with Session(engine) as own:
        assert store.get(own, first.id).status == JobStatus.cancelled


def test_start_after_commit_starts_only_when_the_work_is_committed(
    db, engine, cast, immediate_settings, steps_kind
):
    started = []
    params = {"organization_id": cast.org_a.id}
    jobs.start_after_commit(
        db, "test_steps", params=params, user=None, settings=immediate_settings, on_started=started.append
    )
    assert db.exec(select(Job)).all() == []
    db.rollback()
    db.commit()  # a later commit of other work does not start the rolled-back request's job
    assert started == [] and db.exec(select(Job)).all() == []

    jobs.start_after_commit(
        db, "test_steps", params=params, user=None, settings=immediate_settings, on_started=started.append
    )
    cast.org_a.cohort = "2028"
    db.add(cast.org_a)
    db.commit()
    assert len(started) == 1
    job = reload(engine, started[0].id)
    assert job.status == JobStatus.done and job.created_by_id is None
    db.commit()
    assert len(started) == 1  # once


def test_a_savepoint_release_is_not_the_commit(db, engine, cast, immediate_settings, steps_kind):
    """SQLAlchemy calls after_commit when a SAVEPOINT is released too (site_figures writes in
    one inside a cycle's close): a job started then, on another connection, waited for the
    outer transaction's own write lock on SQLite (a close hung for the busy timeout)."""
    started = []
    jobs.start_after_commit(
        db,
        "test_steps",
        params={"organization_id": cast.org_a.id},
        user=None,
        settings=immediate_settings,
        on_started=started.append,
    )
    cast.org_a.cohort = "2029"
    db.add(cast.org_a)
    with db.begin_nested():
        db.flush()
    assert started == []  # not yet: the outer transaction is still open
    db.commit()
    assert len(started) == 1 and reload(engine, started[0].id).status == JobStatus.done


def test_a_missing_result_file_is_gone_not_an_error(db, engine, cast, immediate_settings, steps_kind):
    job = jobs.start(
        db,
        "test_steps",
        params={"organization_id": cast.org_a.id},
        user=cast.lead_a,
        settings=immediate_settings,
    )
    path, name, media_type = jobs.result_file(db, job.id, user=cast.lead_a, settings=immediate_settings)
    assert path.read_text() == "all steps done\n" and (name, media_type) == ("result.txt", "text/plain")
    path.unlink()
    with pytest.raises(Gone):
        jobs.result_file(db, job.id, user=cast.lead_a, settings=immediate_settings)


def test_a_job_of_a_deactivated_starter_does_not_run(db, engine, cast, immediate_settings, steps_kind):
    settings = immediate_settings.model_copy(update={"queue": "sqlite"})
    job = jobs.start(
        db, "test_steps", params={"organization_id": cast.org_a.id}, user=cast.lead_a, settings=settings
    )
    cast.lead_a.is_active = False
    db.add(cast.lead_a)
    db.commit()
    from app.jobs.queue import get_queue

    assert get_queue(settings, engine).run_burst() == 1
    job = reload(engine, job.id)
    assert job.status == JobStatus.failed and "no longer active" in job.error
    assert steps_kind.runs == 0


def test_organization_deleted_takes_its_jobs(db, engine, cast, immediate_settings, steps_kind):
    organization = make_organization(db, "Short-lived agency")
    job = jobs.start(
        db,
        "test_steps",
        params={"organization_id": organization.id},
        user=cast.admin,
        settings=immediate_settings,
    )
    db.delete(organization)
    db.commit()
    with Session(engine) as own:
        assert own.get(Job, job.id) is None
