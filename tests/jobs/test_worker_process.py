"""A real `peerready worker` process (python -m app worker) against the same database and queue
as the test: SQLite (queue file in the data folder) and PostgreSQL (huey's tables in the app
database). Every subprocess is bounded by a timeout and stopped in a `finally`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest
from sqlmodel import Session, select

from app.db.models import Job, JobStatus
from app.jobs.kinds.reports import report_cache_dir
from app.jobs.queue import get_queue
from app.services import jobs
from tests.jobs.conftest import (
    ROOT,
    reload,
    run_burst,
    small_assessment,
    wait_for,
    worker_env,
    worker_process,
    worker_settings,
)

pytestmark = pytest.mark.slow


def test_burst_runs_what_is_queued_and_skips_what_was_cancelled(db, engine, cast, queue_data_dir):
    settings = worker_settings(engine, queue_data_dir)
    assessment = small_assessment(db, cast.org_a)
    report = jobs.start(
        db,
        "report",
        params={"assessment_id": assessment.id, "papers": ["letter"]},
        user=cast.lead_a,
        settings=settings,
    )
    unwanted = jobs.start(
        db,
        "report",
        params={"assessment_id": assessment.id, "papers": ["a4"]},
        user=cast.lead_a,
        settings=settings,
    )
    assert report.status == unwanted.status == JobStatus.queued
    assert report.progress_message == "Waiting for a worker"
    jobs.cancel(db, unwanted.id, user=cast.lead_a)

    result = run_burst(settings)
    assert "Burst done: 2 job message(s) handled; 0 waiting" in result.stdout

    done = reload(engine, report.id)
    assert done.status == JobStatus.done, done.error
    assert (done.progress_done, done.progress_total, done.progress_message) == (1, 1, "Ready")
    assert done.worker and f":{os.getpid()}:" not in done.worker  # another process ran it
    pdf = report_cache_dir(settings) / done.result_detail["files"]["letter"]
    assert pdf.read_bytes().startswith(b"%PDF")
    skipped = reload(engine, unwanted.id)
    assert skipped.status == JobStatus.cancelled and skipped.started_at is None and skipped.attempts == 0


def test_a_failing_job_is_retried_shows_its_error_and_can_be_tried_again(db, engine, cast, queue_data_dir):
    settings = worker_settings(engine, queue_data_dir, PEERREADY_JOB_RETRIES=1, PEERREADY_JOB_RETRY_DELAY=0)
    assessment = small_assessment(db, cast.org_a)
    blocker = report_cache_dir(settings)
    blocker.write_text("not a folder")  # the cache cannot be written: every attempt fails
    job = jobs.start(
        db,
        "report",
        params={"assessment_id": assessment.id, "papers": ["letter"]},
        user=cast.lead_a,
        settings=settings,
    )

    run_burst(settings)
    failed = reload(engine, job.id)
    assert failed.status == JobStatus.failed
    assert failed.attempts == 2  # the first try and one automatic retry
    assert failed.error.startswith("Failed after 2 attempt(s): ")
    assert "Error" in failed.error and "Traceback" not in failed.error

    blocker.unlink()
    again = jobs.retry(db, job.id, user=cast.lead_a, settings=settings)
    assert again.status == JobStatus.queued and again.error is None
    run_burst(settings)
    done = reload(engine, job.id)
    assert done.status == JobStatus.done and done.attempts == 3 and done.error is None


def _batch(db, cast, settings, count: int) -> Job:
    ids = [small_assessment(db, cast.org_a, name=f"Cycle {n}").id for n in range(count)]
    return jobs.start(
        db, "report_batch", params={"assessment_ids": ids}, user=cast.consultant_a, settings=settings
    )


def test_cancel_stops_a_running_batch_between_sites(db, engine, cast, queue_data_dir):
    settings = worker_settings(engine, queue_data_dir)
    batch = _batch(db, cast, settings, 4)
    with worker_process(settings) as worker:
        wait_for(lambda: reload(engine, batch.id).progress_done >= 1, timeout=90, what="the first site")
        jobs.cancel(db, batch.id, user=cast.consultant_a)
        cancelled = wait_for(
            lambda: (j := reload(engine, batch.id)).status == JobStatus.cancelled and j,
            timeout=60,
            what="the cancel",
        )
        assert worker.poll() is None  # the worker goes on to the next job
    assert cancelled.progress_done < 4 and cancelled.result_path is None
    # it says how far it got: "Cancelled after 2 of 4 sites; nothing to download."
    said = cancelled.progress_message
    assert re.fullmatch(r"Cancelled after [1-4] of 4 sites; nothing to download\.", said), said
    assert cancelled.finished_at is not None


def test_sigterm_hands_a_running_job_back_and_the_next_worker_finishes_it(db, engine, cast, queue_data_dir):
    settings = worker_settings(engine, queue_data_dir)
    batch = _batch(db, cast, settings, 3)
    with worker_process(settings) as worker:
        wait_for(lambda: reload(engine, batch.id).progress_done >= 1, timeout=90, what="the first site")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    handed_back = reload(engine, batch.id)
    assert handed_back.status == JobStatus.queued and handed_back.worker is None, worker.output  # type: ignore[attr-defined]

    run_burst(settings, timeout=120)
    done = reload(engine, batch.id)
    assert done.status == JobStatus.done and done.attempts == 2
    assert done.result_detail["included"] == 3 and done.progress_message == "3 of 3 sites"


def test_two_workers_never_run_the_same_work_twice(db, engine, cast, queue_data_dir):
    settings = worker_settings(engine, queue_data_dir)
    assessments = [small_assessment(db, cast.org_a, name=f"Site cycle {n}") for n in range(3)]
    started = [
        jobs.start(
            db,
            "report",
            params={"assessment_id": a.id, "papers": ["letter"]},
            user=cast.lead_a,
            settings=settings,
        )
        for a in assessments
    ]
    started.append(
        jobs.start(
            db,
            "report_batch",
            params={"assessment_ids": [a.id for a in assessments], "paper": "letter"},
            user=cast.lead_a,
            settings=settings,
        )
    )
    queue = get_queue(settings, engine)
    for job in started:  # every job's message delivered three times over
        queue.enqueue(job.id)
        queue.enqueue(job.id)
    assert queue.pending() == 12

    env = worker_env(settings)
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "app", "worker", "--burst"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        outputs = [w.communicate(timeout=180) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait(timeout=10)
    assert [w.returncode for w in workers] == [0, 0], [err[-2000:] for _, err in outputs]

    with Session(engine) as session:
        rows = session.exec(select(Job).order_by(Job.id)).all()
    assert [r.status for r in rows] == [JobStatus.done] * 4, [r.error for r in rows]
    assert [r.attempts for r in rows] == [1, 1, 1, 1]  # each job ran once, duplicates skipped
    renders = sum(len(r.result_detail["rendered"]) for r in rows[:3]) + rows[3].result_detail["rendered"]
    assert renders == 3  # each site's Letter PDF rendered once, whichever job got there first
    assert queue.pending() == 0
