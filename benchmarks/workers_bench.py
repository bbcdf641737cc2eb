"""Four web processes and a queue worker on PostgreSQL serve the same results. Prints figures;
exits 1 when what the processes stored or served disagrees.

    .venv/bin/python benchmarks/workers_bench.py [--workers 4] [--respondents 20] [--reads 200]
        [--pg-admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

On a throwaway PostgreSQL database (dropped afterwards) it makes one organization, its lead and a
new cycle of the full instrument with --respondents complete responses not yet submitted. Then it
starts `peerready serve --workers N` (real uvicorn worker processes sharing one port) and one
`peerready worker` (the job queue, huey on the same PostgreSQL database), and, through real HTTP
from many threads at once:

1. every respondent submits at the same moment (each changed scorecard queues the cycle's
   report job, which the queue worker renders);
2. once that job is done, the lead signs in once (the session lives in the database, so every
   process accepts its cookie) and reads the results page and downloads the report --reads times
   from 16 threads; each read also carries autosaves of another respondent still filling in the
   form.

Checks: every submit is accepted (or, on an overloaded machine, refused as busy with a 503 —
never a 500 or a half-save); the stored scorecard counts exactly the accepted submissions and
equals a fresh recompute; the queue worker finished the report job and none failed; every results
page read after the submits is the same page (byte for byte, once the CSRF token is set aside)
showing the same "N submitted" line, whichever process served it; every report download is the
same PDF (the one the queue worker rendered).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from app.db import migrate  # noqa: E402
from app.db.engine import make_engine  # noqa: E402
from app.db.models import (  # noqa: E402
    Answer,
    Assessment,
    AssessmentScore,
    Job,
    JobStatus,
    Membership,
    Organization,
    Response,
    Role,
    User,
)
from app.paths import INSTRUMENTS_DIR  # noqa: E402
from app.scoring import score_responses  # noqa: E402
from app.services import (  # noqa: E402
    accounts,
    instruments_store,
    invitations,
    releases,
    responses,
    scores,
)
from app.services import assessments as assessments_service  # noqa: E402
from app.services.report_prepare import REPORT_KIND  # noqa: E402
from app.web.security import respondent_csrf_for  # noqa: E402

PASSWORD = "workers-bench-password"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_VALUE = re.compile(rb'(name="csrf_token" value=")[^"]+(")')
REPORT_WAIT_SECONDS = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   (n={len(ordered)})"


def build(engine, n: int) -> tuple[int, list[str], str]:
    """A cycle with `n` complete responses not yet submitted, plus one being filled in.
    Returns (assessment id, personal tokens to submit, the filling-in respondent's token)."""
    with Session(engine, expire_on_commit=False) as db:
        organization = Organization(name="Workers Bench Agency")
        lead = User(
            email="lead@bench.example",
            name="Bench Lead",
            role=Role.org_lead,
            password_hash=accounts.hash_password(PASSWORD),
        )
        db.add_all([organization, lead])
        db.flush()
        db.add(Membership(user_id=lead.id, organization_id=organization.id))
        assessment = assessments_service.create_assessment(
            db,
            user=lead,
            organization_id=organization.id,
            name="Baseline",
            instrument_id="readiness_full",
            instruments_dir=INSTRUMENTS_DIR,
            previous=None,
        )
        instrument = instruments_store.instrument_for(db, assessment)
        groups = ["leadership", "clinical", "peer_staff"]
        tokens, rows = [], []
        for k in range(n + 1):
            group = groups[k % len(groups)]
            personal = invitations.new_token()
            response = Response(
                assessment_id=assessment.id, group=group, token_hash=invitations.hash_token(personal)
            )
            db.add(response)
            answers = {"pps_status": "employ"}
            shown = responses.visible_ids(instrument, group, answers)
            for item in instrument.items:
                if item.id in shown and item.id != "pps_status":
                    scale = instrument.scale_by_id(item.scale)
                    answers[item.id] = scale.options[k % len(scale.options)].value
            rows.append((response, answers if k < n else {}))
            tokens.append(personal)
        db.flush()
        db.add_all(Answer(response_id=r.id, item_id=i, value=v) for r, a in rows for i, v in a.items())
        db.commit()
        return assessment.id, tokens[:n], tokens[n]


def environment(url: str, port: int, data_dir: str, secret_key: str) -> dict[str, str]:
    """What the web processes and the queue worker share: one database, one secret, one folder."""
    return {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": secret_key,
        "PEERREADY_DATA_DIR": data_dir,
        "PEERREADY_ENV": "production",
        "PEERREADY_BASE_URL": f"http://127.0.0.1:{port}",
    }


def start_server(env: dict[str, str], port: int, workers: int) -> subprocess.Popen:
    peerready = Path(sys.executable).with_name("peerready")
    command = [str(peerready), "serve", "--port", str(port), "--workers", str(workers)]
    server = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    os.killpg(server.pid, signal.SIGTERM)
    raise SystemExit("the server did not start within 180 seconds")


def start_queue_worker(env: dict[str, str]) -> subprocess.Popen:
    peerready = Path(sys.executable).with_name("peerready")
    return subprocess.Popen(
        [str(peerready), "worker"],
        env=env,
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def report_jobs(engine, assessment_id: int) -> list[Job]:
    with Session(engine) as db:
        return [
            job
            for job in db.exec(select(Job).where(Job.kind == REPORT_KIND)).all()
            if job.params.get("assessment_id") == assessment_id
        ]


def wait_for_reports(engine, assessment_id: int, queue_worker: subprocess.Popen) -> tuple[list[Job], float]:
    """Wait until no report job of the cycle is queued or running (the queue worker's work)."""
    began = time.perf_counter()
    deadline = time.monotonic() + REPORT_WAIT_SECONDS
    while time.monotonic() < deadline and queue_worker.poll() is None:
        found = report_jobs(engine, assessment_id)
        if found and all(job.status not in (JobStatus.queued, JobStatus.running) for job in found):
            return found, time.perf_counter() - began
        time.sleep(0.5)
    return report_jobs(engine, assessment_id), time.perf_counter() - began


def stop(process: subprocess.Popen | None) -> None:
    if process is not None and process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--respondents", type=int, default=20)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get(
            "PEERREADY_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()

    name = f"peerready_workers_{secrets.token_hex(4)}"
    admin = make_engine(args.pg_admin_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = args.pg_admin_url.rsplit("/", 1)[0] + "/" + name
    problems: list[str] = []
    server = queue_worker = None
    try:
        engine = make_engine(url)
        migrate.upgrade(engine)
        assessment_id, tokens, filling = build(engine, args.respondents)
        port = free_port()
        with tempfile.TemporaryDirectory() as data_dir:
            secret = secrets.token_urlsafe(48)
            env = environment(url, port, data_dir, secret)
            server = start_server(env, port, args.workers)
            queue_worker = start_queue_worker(env)
            base = f"http://127.0.0.1:{port}"
            print(
                f"{args.workers} web workers + 1 queue worker on PostgreSQL, {args.respondents} "
                f"respondents; load {Path('/proc/loadavg').read_text().split()[:3]}"
            )

            start = threading.Barrier(len(tokens))

            def submit(token: str) -> tuple[int, float]:
                with httpx.Client(base_url=base, timeout=120) as client:
                    start.wait()
                    began = time.perf_counter()
                    response = client.post(
                        f"/respond/{token}/submit",
                        headers={"X-CSRF-Token": respondent_csrf_for(secret, token)},
                        follow_redirects=False,
                    )
                    return response.status_code, time.perf_counter() - began

            with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
                submitted = list(pool.map(submit, tokens))
            statuses = [s for s, _ in submitted]
            print(
                f"  {len(tokens)} simultaneous submits      {percentiles([t for _, t in submitted])}"
                f"   statuses {sorted(set(statuses))}"
            )
            accepted = statuses.count(303)
            if set(statuses) - {303, 503}:
                problems.append(
                    f"submits answered {sorted(set(statuses))}: only 303 (or 503, busy) may occur"
                )
            if accepted < len(tokens):
                print(f"  {len(tokens) - accepted} submits refused as busy (503: no free connection in time)")

            lead = httpx.Client(base_url=base, timeout=60)
            token = CSRF.search(lead.get("/login").text).group(1)  # type: ignore[union-attr]
            signed_in = lead.post(
                "/login",
                data={"email": "lead@bench.example", "password": PASSWORD, "csrf_token": token},
                follow_redirects=False,
            )
            if signed_in.status_code != 303:
                problems.append(f"sign-in answered {signed_in.status_code}")
            # Results are released when the cycle closes; it is opened again at once so that the
            # respondent still filling in the form can go on saving beside the reads below.
            token = CSRF.search(lead.get(f"/assessments/{assessment_id}").text).group(1)  # type: ignore[union-attr]
            for status in ("closed", "open"):
                changed = lead.post(
                    f"/assessments/{assessment_id}/status",
                    data={"status": status, "confirm": "yes", "csrf_token": token},
                    follow_redirects=False,
                )
                if changed.status_code != 303:
                    problems.append(f"setting the cycle {status} answered {changed.status_code}")
            found, waited = wait_for_reports(engine, assessment_id, queue_worker)
            states = sorted({job.status for job in found})
            print(f"  closed, released, reopened; report job(s) {states} {waited:.1f} s later (queue worker)")
            if not found or any(job.status != JobStatus.done for job in found):
                problems.append(f"the cycle's report jobs ended {states or 'never queued'}, not all done")
            cookies = lead.cookies
            respondent_csrf = respondent_csrf_for(secret, filling)
            expected = f"from {accepted} submitted responses"

            def read(k: int) -> tuple[int, float, bool, int, str, int, str]:
                with httpx.Client(base_url=base, timeout=60, cookies=cookies) as client:
                    saved = client.post(
                        f"/respond/{filling}/autosave",
                        json={"item_id": "pps_status", "value": ["employ", "planning"][k % 2]},
                        headers={"X-CSRF-Token": respondent_csrf, "Accept": "application/json"},
                    )
                    began = time.perf_counter()
                    page = client.get(f"/assessments/{assessment_id}/results")
                    took = time.perf_counter() - began
                    report = client.get(f"/assessments/{assessment_id}/report.pdf")
                    pdf = report.content if report.content.startswith(b"%PDF") else b"not a PDF"
                    return (
                        page.status_code,
                        took,
                        expected in page.text,
                        saved.status_code,
                        hashlib.sha256(CSRF_VALUE.sub(rb"\1\2", page.content)).hexdigest(),
                        report.status_code,
                        hashlib.sha256(pdf).hexdigest(),
                    )

            with ThreadPoolExecutor(max_workers=16) as pool:
                reads = list(pool.map(read, range(args.reads)))
            print(
                f"  results page, 16 readers        {percentiles([r[1] for r in reads])}"
                f"   statuses {sorted({r[0] for r in reads})}"
            )
            print(f"  autosaves beside them           statuses {sorted({r[3] for r in reads})}")
            print(f"  report downloads beside them    statuses {sorted({r[5] for r in reads})}")
            pages, pdfs = {r[4] for r in reads}, {r[6] for r in reads}
            print(
                f"  distinct results pages {len(pages)}, distinct report PDFs {len(pdfs)} (1 and 1 expected)"
            )
            if any(r[0] != 200 or r[3] != 200 or r[5] != 200 for r in reads):
                problems.append("a results page, an autosave or a report download was not answered with 200")
            inconsistent = sum(1 for r in reads if not r[2])
            if inconsistent:
                problems.append(f"{inconsistent} of {len(reads)} results pages did not say {expected!r}")
            if len(pages) != 1:
                problems.append(f"the processes served {len(pages)} different results pages")
            if len(pdfs) != 1:
                problems.append(f"the processes served {len(pdfs)} different report PDFs")

        with Session(engine) as db:
            release = releases.latest_release(db, assessment_id=assessment_id)
            if release is None or release.n_respondents != accepted:
                problems.append(
                    f"released n = {release.n_respondents if release else None}, accepted {accepted}"
                )
            stored = db.get(AssessmentScore, assessment_id)
            instrument = instruments_store.instrument_for(db, db.get(Assessment, assessment_id))
            counted = scores.counted_responses(db, assessment_id=assessment_id, instrument=instrument)
            fresh = score_responses(instrument, counted.inputs, privacy_threshold=3)
            if stored is None or stored.n_submitted != args.respondents:
                problems.append(
                    f"stored n = {stored.n_submitted if stored else None}, submitted {args.respondents}"
                )
            elif stored.scorecard != fresh.model_dump(mode="json"):
                problems.append("the stored scorecard differs from a fresh recompute")
        engine.dispose()
    finally:
        stop(server)
        stop(queue_worker)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    if problems:
        print("INCONSISTENT:\n  " + "\n  ".join(problems))
        return 1
    print(
        "Consistent: every submit counted once, the stored scorecard equals a recompute, the queue "
        "worker rendered the report, every process served the same results page and the same PDF."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
