"""Jobs from the command line, in-process through click on the test database and a real SQLite
queue file: `peerready report ... --job` (a zip of site reports) and `peerready portfolio pdf
--job` print a job id; `peerready jobs show/cancel/retry` follow and steer it; `peerready worker
--burst` runs it; cancel and retry are audited. Also the lock of one report PDF: parallel
`peerready report` renders and a job asking for the same PDF at once render it once."""

from __future__ import annotations

import re
import threading
import zipfile
from pathlib import Path

from click.testing import CliRunner, Result
from sqlmodel import select

from app.cli import cli
from app.db.models import AuditEvent, JobStatus
from app.reports import pdf as report_pdf
from tests.jobs.conftest import reload, small_assessment, worker_env, worker_settings


def _invoke(settings, *args: str) -> Result:
    env = {k: v for k, v in worker_env(settings).items() if k.startswith(("PEERREADY_", "DATABASE_URL"))}
    env["PEERREADY_QUEUE"] = "sqlite"
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def _job_id(result: Result) -> int:
    match = re.search(r"^Job (\d+): ", result.output, re.M)
    assert match, result.output
    return int(match.group(1))


def test_batch_and_portfolio_pdf_as_jobs_from_the_command_line(db, engine, cast, queue_data_dir):
    settings = worker_settings(engine, queue_data_dir, PEERREADY_QUEUE="sqlite")
    ids = [str(small_assessment(db, cast.org_a, name=f"Cycle {n}").id) for n in range(2)]

    refused = CliRunner().invoke(
        cli, ["report", *ids, "--job"], env={"PEERREADY_DATA_DIR": str(queue_data_dir)}
    )
    assert refused.exit_code == 2 and "--job needs --as EMAIL" in refused.output
    funder = _invoke(settings, "report", *ids, "--job", "--as", cast.funder_p.email)
    assert funder.exit_code == 1 and "Traceback" not in funder.output  # funders never get agencies' reports

    started = _invoke(settings, "report", *ids, "--job", "--as", cast.consultant_a.email)
    assert started.exit_code == 0, started.output
    batch = _job_id(started)
    assert "(queued)" in started.output and f"peerready jobs show {batch} --wait" in started.output
    shown = _invoke(settings, "jobs", "show", str(batch))
    assert "status: queued" in shown.output and "Waiting for a worker" in shown.output

    cancelled = _invoke(settings, "jobs", "cancel", str(batch))
    assert cancelled.exit_code == 0 and f"Job {batch} cancelled." in cancelled.output
    assert reload(engine, batch).progress_message == "Cancelled before it started"
    again = _invoke(settings, "jobs", "cancel", str(batch))
    assert again.exit_code == 1 and "nothing to cancel" in again.output
    retried = _invoke(settings, "jobs", "retry", str(batch))
    assert retried.exit_code == 0 and f"Job {batch} queued again" in retried.output

    pdf = _invoke(
        settings, "portfolio", "pdf", str(cast.portfolio_p.id), "--as", cast.funder_p.email, "--job"
    )
    assert pdf.exit_code == 0, pdf.output
    portfolio_job = _job_id(pdf)

    burst = _invoke(settings, "worker", "--burst")
    # three messages: the cancelled first start (skipped), the retry and the portfolio PDF
    assert burst.exit_code == 0 and "3 job message(s) handled" in burst.output, burst.output
    waited = _invoke(settings, "jobs", "show", str(batch), "--wait")
    assert waited.exit_code == 0 and "status: done" in waited.output and "2 of 2 sites" in waited.output
    zip_path = Path(re.search(r"file: (.+\.zip)", waited.output).group(1))
    with zipfile.ZipFile(zip_path) as archive:
        assert len([n for n in archive.namelist() if n.endswith(".pdf")]) == 2
    done = reload(engine, portfolio_job)
    assert done.status == JobStatus.done and done.result_filename.endswith(".pdf")
    listed = _invoke(settings, "jobs", "list")
    assert f"{batch:>6}  done" in listed.output and f"{portfolio_job:>6}  done" in listed.output

    missing = _invoke(settings, "jobs", "show", "999999")
    assert missing.exit_code == 1 and "No such job" in missing.output
    db.expire_all()
    actions = [(a.action, a.actor) for a in db.exec(select(AuditEvent).order_by(AuditEvent.id))]
    assert ("job.cancel", "command line") in actions and ("job.retry", "command line") in actions

    out = queue_data_dir / "portfolio.pdf"
    now = _invoke(
        settings, "portfolio", "pdf", str(cast.portfolio_p.id), "--as", cast.funder_p.email, "--out", str(out)
    )
    assert now.exit_code == 0 and out.read_bytes().startswith(b"%PDF")


def test_the_same_report_pdf_is_rendered_once_at_a_time(db, engine, cast, queue_data_dir, monkeypatch):
    """Three `peerready report` threads (each its own database connection) and the same PDF:
    one render under the `joblock` lease, the others read its file."""
    settings = worker_settings(engine, queue_data_dir)
    assessment = small_assessment(db, cast.org_a)
    renders: list[int] = []
    inside = threading.Semaphore(1)
    real = report_pdf.html_to_pdf

    def counted(*args, **kwargs):
        assert inside.acquire(blocking=False), "two renders of the same report at once"
        try:
            renders.append(1)
            return real(*args, **kwargs)
        finally:
            inside.release()

    monkeypatch.setattr(report_pdf, "html_to_pdf", counted)
    from app.cli.reports import write_report

    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            write_report(
                engine,
                assessment_id=assessment.id,
                paper="letter",
                out_dir=queue_data_dir / f"out-{n}",
                cache_dir=settings.report_cache_dir,
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(renders) == 1
    files = [next((queue_data_dir / f"out-{n}").glob("*.pdf")).read_bytes() for n in range(3)]
    assert files[0].startswith(b"%PDF") and files[0] == files[1] == files[2]
