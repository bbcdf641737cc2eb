"""Reports ready before the click. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/report_cache_bench.py [--changes 5] [--downloads 40]
        [--backends sqlite,postgres]

On a throwaway database (SQLite file; PostgreSQL database at --pg-admin-url, dropped after) with a
demo-like follow-up cycle (~30 respondents, a baseline, a plan, a commentary), through the real app
in-process and the real queue (SQLite queue file; huey's tables on PostgreSQL):

  for each of --changes rounds: a consultant changes the commentary (web form, so the change is
  committed by the app), a worker runs what is due (`peerready worker --burst`'s code path), then the
  lead downloads the report --downloads times (Letter and A4 alternately) from a real
  `peerready serve` process over HTTP on 127.0.0.1, reading the whole PDF.

It prints the time the job took after each change, and p50/p95 of every download made after a
change once its job ran. Target: p95 <= 50 ms. A download that is not a cache hit (202, "being
prepared") is counted and reported as a miss.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def start_server(settings, data_dir: Path) -> tuple[subprocess.Popen, str]:
    """`peerready serve` on a free loopback port with the benchmark's settings; waits until it answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "PEERREADY_ENV": "test",
        "PEERREADY_DATA_DIR": str(data_dir),
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": settings.secret_key,
        "PEERREADY_QUEUE": settings.queue,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base_url + "/healthz", timeout=2).status_code < 500:
                return server, base_url
        except httpx.HTTPError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("peerready serve did not start within 60 s")


def run(name: str, url: str, args: argparse.Namespace, data_dir: Path) -> None:
    import logging

    from fastapi.testclient import TestClient
    from sqlmodel import Session

    from app.config import Settings
    from app.db import migrate
    from app.db.engine import make_engine
    from app.db.models import Membership, Role, User
    from app.jobs.queue import get_queue
    from app.services.report_samples import create_sample_report_data
    from app.web.main import create_app
    from tests.helpers.auth import sign_in_as

    logging.getLogger("peerready.jobs").setLevel(logging.WARNING)
    engine = make_engine(url)
    migrate.upgrade(engine)
    with Session(engine, expire_on_commit=False) as session:
        assessment = create_sample_report_data(session)
        lead = User(email="lead@bench.example", name="Lee Lead", password_hash="x" * 60, role=Role.org_lead)
        consultant = User(
            email="consultant@bench.example",
            name="Cass Consultant",
            password_hash="y" * 60,
            role=Role.consultant,
        )
        session.add_all([lead, consultant])
        session.flush()
        for user in (lead, consultant):
            session.add(Membership(user_id=user.id, organization_id=assessment.organization_id))
        session.commit()
    settings = Settings(
        PEERREADY_ENV="test",
        PEERREADY_DATA_DIR=data_dir,
        DATABASE_URL=engine.url.render_as_string(hide_password=False),
    )
    queue = get_queue(settings, engine)
    queue.flush()
    app = create_app(settings=settings, engine=engine)
    report = f"/assessments/{assessment.id}/report.pdf"
    job_times: list[float] = []
    downloads: list[float] = []
    misses = 0
    # The lead downloads from a real `peerready serve` process over HTTP (what a person's browser
    # meets); the consultant's change goes through the app in-process.
    server, base_url = start_server(settings, data_dir)
    try:
        with TestClient(app) as consultant_client, httpx.Client(base_url=base_url, timeout=30) as lead_client:
            sign_in_as(lead_client, lead, secret_key=settings.secret_key, engine=engine)
            token = sign_in_as(consultant_client, consultant)
            for round_number in range(args.changes):
                saved = consultant_client.post(
                    f"/consultant/assessments/{assessment.id}/commentary",
                    data={"csrf_token": token, "text": f"Round {round_number}: {secrets.token_hex(8)}"},
                    follow_redirects=False,
                )
                assert saved.status_code == 303, saved.status_code
                started = time.perf_counter()
                queue.run_burst()
                job_times.append(time.perf_counter() - started)
                for index in range(args.downloads):
                    paper = "?paper=a4" if index % 2 else ""
                    started = time.perf_counter()
                    response = lead_client.get(report + paper)
                    elapsed = time.perf_counter() - started
                    if response.status_code == 200 and response.content.startswith(b"%PDF"):
                        downloads.append(elapsed)
                    else:
                        misses += 1
    finally:
        server.terminate()
        server.wait(timeout=20)
    queue.flush()
    engine.dispose()
    print(f"\n== {name} ({queue.mode} queue) ==")
    print(
        f"  job after a change (2 PDFs rendered)   p50 {statistics.median(job_times) * 1000:8.1f} ms"
        f"   (n={len(job_times)})"
    )
    if downloads:
        p50, p95 = percentiles(downloads)
        verdict = "met" if p95 <= 0.050 and not misses else "NOT met"
        print(
            f"  download after a change, job done      p50 {p50 * 1000:8.1f} ms   p95 {p95 * 1000:8.1f} ms"
            f"   (n={len(downloads)}, misses={misses})   target p95 <= 50 ms: {verdict}"
        )
    else:
        print(f"  no cache hit at all (misses={misses}): NOT met")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--changes", type=int, default=5)
    parser.add_argument("--downloads", type=int, default=40)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--pg-admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    for name in [n for n in os.environ if n.startswith("PEERREADY_") or n == "DATABASE_URL"]:
        os.environ.pop(name)
    with open("/proc/loadavg") as handle:
        print(f"load average before: {handle.read().strip()}")
    with tempfile.TemporaryDirectory(prefix="peerready-cache-bench-") as tmp:
        tmp_path = Path(tmp)
        if "sqlite" in args.backends:
            run("SQLite", f"sqlite:///{tmp_path / 'bench.sqlite3'}", args, tmp_path / "data-sqlite")
        if "postgres" in args.backends:
            from sqlalchemy import text

            from app.db.engine import make_engine

            admin = make_engine(args.pg_admin_url).execution_options(isolation_level="AUTOCOMMIT")
            database = f"peerready_cache_bench_{secrets.token_hex(4)}"
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{database}"'))
            try:
                run(
                    "PostgreSQL",
                    args.pg_admin_url.rsplit("/", 1)[0] + "/" + database,
                    args,
                    tmp_path / "data-pg",
                )
            finally:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            admin.dispose()
    with open("/proc/loadavg") as handle:
        print(f"load average after: {handle.read().strip()}")


if __name__ == "__main__":
    main()
