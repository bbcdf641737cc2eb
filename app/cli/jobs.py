"""`peerready worker`: the background-job consumer (app/jobs); `peerready jobs list|show|cancel|
retry`: follow and steer jobs from the command line; `start_job` starts one for another command
(`peerready report ... --job`, `peerready portfolio pdf ... --job`)."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

import click

# `peerready jobs show --wait`: how often it reads the job, and its exit codes.
WAIT_POLL_SECONDS = 1.0
EXIT_FAILED = 1
EXIT_CANCELLED = 3


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # WeasyPrint and fontTools report every layout step at INFO; the job lines say what matters.
    for noisy in ("weasyprint", "weasyprint.progress", "fontTools"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run every job that is due, then exit (tests, cron, scripts).")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 32),
    help="Jobs run at once in this process (threads). Run more processes to use more cores.",
)
def worker(burst: bool, workers: int) -> None:
    """Run background jobs (report PDFs, portfolio PDFs, batches) until stopped with Ctrl+C or
    SIGTERM; running jobs are handed back at their next step, for the next worker to finish."""
    from app.cli.common import ready_engine
    from app.config import load_settings_or_exit
    from app.jobs.queue import get_queue, queue_mode

    settings = load_settings_or_exit()
    if queue_mode(settings) == "immediate":
        raise click.UsageError(
            "PEERREADY_QUEUE=immediate runs each job where it is started; a worker has nothing to do."
        )
    engine = ready_engine(settings)
    _configure_logging()
    queue = get_queue(settings, engine)
    if burst:
        handled = queue.run_burst()
        click.echo(
            f"Burst done: {handled} job message(s) handled; {queue.pending()} waiting, "
            f"{queue.scheduled()} scheduled for later (retries)."
        )
        return
    click.echo(f"PeerReady worker: {workers} thread(s), {queue.mode} queue. Stop with Ctrl+C.", err=True)
    queue.run_consumer(workers=workers)


# --- starting a job from another command -------------------------------------------------------


def start_job(kind: str, params: dict[str, Any], *, as_email: str | None, person_needed: bool) -> None:
    """Start (or join) a job of `kind` as the account `as_email` and print its id and how to
    follow it. Exits 1 with the reason when the job cannot start (bad input, no access)."""
    from app.cli.common import ready_engine
    from app.config import load_settings_or_exit
    from app.db.engine import session_scope
    from app.db.models import JobStatus
    from app.errors import PeerReadyError
    from app.services import accounts, jobs

    if person_needed and not as_email:
        raise click.UsageError(
            "--job needs --as EMAIL: the account the job runs as (what it may see applies, and it "
            "can follow and download the job at /jobs/ID)."
        )
    settings = load_settings_or_exit()
    engine = ready_engine(settings)
    try:
        with session_scope(engine) as session:
            user = None
            if as_email:
                user = accounts.find_user_by_email(session, email=as_email)
                if user is None or not user.is_active:
                    raise click.ClickException(f"No active account with the email {as_email!r}.")
            job = jobs.start(session, kind, params=params, user=user, settings=settings)
    except PeerReadyError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Job {job.id}: {job.title} ({job.status}).")
    if job.status == JobStatus.done:
        click.echo(f"File: {_file_of(settings, job)}")
        return
    click.echo(f"Follow it with `peerready jobs show {job.id} --wait`, or at /jobs/{job.id} in the browser.")
    if job.status == JobStatus.queued:
        click.echo("A running `peerready worker` takes it (or run `peerready worker --burst`).")


def _file_of(settings: Any, job: Any) -> str | None:
    if not job.result_path:
        return None
    return str((settings.data_dir / job.result_path).resolve())


# --- following and steering jobs ------------------------------------------------------------------


@click.group("jobs")
def jobs_group() -> None:
    """Follow, cancel and retry background jobs (as the operator: every job of the instance)."""


def _echo_job(settings: Any, job: Any) -> None:
    from app.services import jobs

    state = jobs.as_dict(job)
    progress = state["progress"]
    click.echo(f"Job {job.id}: {job.title}")
    click.echo(f"  kind: {job.kind}   status: {job.status}   attempts: {job.attempts}")
    counted = f"{progress['done']} of {progress['total']}" if progress["total"] else ""
    percent = f" ({progress['percent']}%)" if progress["percent"] is not None else ""
    click.echo(f"  progress: {progress['message'] or counted}{percent}")
    if job.cancel_requested and not state["finished"]:
        click.echo("  cancelling: it stops at its next step")
    if job.error:
        click.echo(f"  error: {job.error}")
    if state["download_url"]:
        click.echo(f"  file: {_file_of(settings, job)}")


def _job_or_exit(session: Any, job_id: int) -> Any:
    from app.errors import PeerReadyError
    from app.services import jobs

    try:
        return jobs.get(session, job_id, user=None)
    except PeerReadyError as exc:
        raise click.ClickException(f"Job {job_id}: {exc.message}") from None


@jobs_group.command("list")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
def jobs_list(limit: int) -> None:
    """The newest jobs: id, status, progress, title."""
    from app.cli.common import ready_engine
    from app.config import load_settings_or_exit
    from app.db.engine import session_scope
    from app.services import jobs

    with session_scope(ready_engine(load_settings_or_exit())) as session:
        rows = jobs.recent(session, limit=limit)
        if not rows:
            click.echo("No jobs yet.")
        for job in rows:
            counted = f"{job.progress_done}/{job.progress_total}" if job.progress_total else "-"
            click.echo(f"{job.id:>6}  {job.status:<9}  {counted:>9}  {job.title}")


@jobs_group.command("show")
@click.argument("job_id", type=int)
@click.option("--wait", is_flag=True, help="Print each change of progress until the job has finished.")
@click.option("--json", "as_json", is_flag=True, help="Print the job as JSON (what /jobs/ID.json shows).")
def jobs_show(job_id: int, wait: bool, as_json: bool) -> None:
    """Status, progress ("12 of 50 sites"), error and file of job JOB_ID. With --wait, exits 0
    when it is done, 1 when it failed and 3 when it was cancelled."""
    from app.cli.common import ready_engine
    from app.config import load_settings_or_exit
    from app.db.engine import session_scope
    from app.db.models import ACTIVE_STATUSES, JobStatus
    from app.services import jobs

    settings = load_settings_or_exit()
    engine = ready_engine(settings)
    last: tuple[Any, ...] | None = None
    while True:
        with session_scope(engine) as session:
            job = _job_or_exit(session, job_id)
        seen = (job.status, job.progress_done, job.progress_message, job.error)
        if seen != last:
            if as_json:
                click.echo(json.dumps(jobs.as_dict(job)))
            else:
                _echo_job(settings, job)
            last = seen
        if not wait or job.status not in ACTIVE_STATUSES:
            break
        time.sleep(WAIT_POLL_SECONDS)
    if wait and job.status == JobStatus.failed:
        sys.exit(EXIT_FAILED)
    if wait and job.status == JobStatus.cancelled:
        sys.exit(EXIT_CANCELLED)


@jobs_group.command("cancel")
@click.argument("job_id", type=int)
def jobs_cancel(job_id: int) -> None:
    """Cancel job JOB_ID: a queued job at once, a running one at its next step (a batch between
    two sites). Recorded in the audit log."""
    from app.cli.common import ready_engine
    from app.config import load_settings_or_exit
    from app.db.engine import session_scope
    from app.errors import PeerReadyError
    from app.services import jobs

    with session_scope(ready_engine(load_settings_or_exit())) as session:
        try:
            job = jobs.cancel(session, job_id, user=None)
        except PeerReadyError as exc:
            raise click.ClickException(f"Job {job_id}: {exc.message}") from None
    if job.status == "cancelled":
        click.echo(f"Job {job.id} cancelled.")
    else:
        click.echo(f"Job {job.id} is asked to stop; it does so at its next step.")


@jobs_group.command("retry")
@click.argument("job_id", type=int)
def jobs_retry(job_id: int) -> None:
    """Queue failed or cancelled job JOB_ID again (the same job; a worker runs it). Recorded in the
    audit log."""
    from app.cli.common import ready_engine
    from app.config import load_settings_or_exit
    from app.db.engine import session_scope
    from app.errors import PeerReadyError
    from app.services import jobs

    settings = load_settings_or_exit()
    with session_scope(ready_engine(settings)) as session:
        try:
            job = jobs.retry(session, job_id, user=None, settings=settings)
        except PeerReadyError as exc:
            raise click.ClickException(f"Job {job_id}: {exc.message}") from None
    if job.id != job_id:
        click.echo(f"The same work is already job {job.id} ({job.status}).")
    else:
        click.echo(f"Job {job.id} queued again ({job.status}).")


def register(cli: click.Group) -> None:
    """Add this module's commands to the `peerready` group."""
    cli.add_command(worker)
    cli.add_command(jobs_group)
