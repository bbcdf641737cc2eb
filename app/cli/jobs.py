"""`peerready worker`: the background-job consumer (app/jobs)."""

from __future__ import annotations

import logging
import sys

import click


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


def register(cli: click.Group) -> None:
    """Add this module's commands to the `peerready` group."""
    cli.add_command(worker)
