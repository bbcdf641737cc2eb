"""Four web processes on PostgreSQL serve consistent results. Prints figures; exits 1 when what
the processes stored or served disagrees.

    .venv/bin/python benchmarks/workers_bench.py [--workers 4] [--respondents 20] [--reads 200]
        [--pg-admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

On a throwaway PostgreSQL database (dropped afterwards) it makes one organization, its lead and a
new cycle of the full instrument with --respondents complete responses not yet submitted. Then it
starts `peerready serve --workers N` (real uvicorn worker processes sharing one port) and, through
real HTTP from many threads at once:

1. every respondent submits at the same moment;
2. the lead signs in once (the session lives in the database, so every process accepts its
   cookie) and reads the results page --reads times from 16 threads; each read also carries
   autosaves of another respondent still filling in the form.

Checks: every submit is accepted (or, on an overloaded machine, refused as busy with a 503 —
never a 500 or a half-save); the stored scorecard counts exactly the accepted submissions and equals a fresh
recompute; every results page read after the submits shows the same "N submitted" line.
"""

from __future__ import annotations

import argparse
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
from sqlmodel import Session  # noqa: E402

from app.db import migrate  # noqa: E402
from app.db.engine import make_engine  # noqa: E402
from app.db.models import Answer, Assessment, AssessmentScore, Membership, Organization, Response, Role, User  # noqa: E402
from app.paths import INSTRUMENTS_DIR  # noqa: E402
from app.scoring import score_responses  # noqa: E402
from app.services import accounts, instruments_store, invitations, responses, scores  # noqa: E402
from app.services import assessments as assessments_service  # noqa: E402
from app.web.security import respondent_csrf_for  # noqa: E402

PASSWORD = "workers-bench-password"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


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


def start_server(url: str, port: int, workers: int, data_dir: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PEERREADY_DATA_DIR": data_dir,
        "PEERREADY_ENV": "production",
        "PEERREADY_BASE_URL": f"http://127.0.0.1:{port}",
    }
    peerready = Path(sys.executable).with_name("peerready")
    command = [str(peerready), "serve", "--port", str(port), "--workers", str(workers)]
    server = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                server.secret_key = env["SECRET_KEY"]  # type: ignore[attr-defined]
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    os.killpg(server.pid, signal.SIGTERM)
    raise SystemExit("the server did not start within 180 seconds")


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
    server = None
    try:
        engine = make_engine(url)
        migrate.upgrade(engine)
        assessment_id, tokens, filling = build(engine, args.respondents)
        port = free_port()
        with tempfile.TemporaryDirectory() as data_dir:
            server = start_server(url, port, args.workers, data_dir)
            base = f"http://127.0.0.1:{port}"
            secret = server.secret_key  # type: ignore[attr-defined]
            print(
                f"{args.workers} workers on PostgreSQL, {args.respondents} respondents; "
                f"load {Path('/proc/loadavg').read_text().split()[:3]}"
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
            token = CSRF.search(lead.get("/login").text).group(1)
            signed_in = lead.post(
                "/login",
                data={"email": "lead@bench.example", "password": PASSWORD, "csrf_token": token},
                follow_redirects=False,
            )
            if signed_in.status_code != 303:
                problems.append(f"sign-in answered {signed_in.status_code}")
            cookies = lead.cookies
            respondent_csrf = respondent_csrf_for(secret, filling)
            expected = f"{accepted} submitted"

            def read(k: int) -> tuple[int, float, bool, int]:
                with httpx.Client(base_url=base, timeout=60, cookies=cookies) as client:
                    saved = client.post(
                        f"/respond/{filling}/autosave",
                        json={"item_id": "pps_status", "value": ["employ", "planning"][k % 2]},
                        headers={"X-CSRF-Token": respondent_csrf, "Accept": "application/json"},
                    )
                    began = time.perf_counter()
                    page = client.get(f"/assessments/{assessment_id}/results")
                    return (
                        page.status_code,
                        time.perf_counter() - began,
                        expected in page.text,
                        saved.status_code,
                    )

            with ThreadPoolExecutor(max_workers=16) as pool:
                reads = list(pool.map(read, range(args.reads)))
            print(
                f"  results page, 16 readers        {percentiles([t for _, t, _, _ in reads])}"
                f"   statuses {sorted({s for s, *_ in reads})}"
            )
            print(f"  autosaves beside them           statuses {sorted({r[3] for r in reads})}")
            if any(s != 200 for s, *_ in reads) or any(r[3] != 200 for r in reads):
                problems.append("a results page or an autosave was not answered with 200")
            inconsistent = sum(1 for _, _, ok, _ in reads if not ok)
            if inconsistent:
                problems.append(f"{inconsistent} of {len(reads)} results pages did not say {expected!r}")

        with Session(engine) as db:
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
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    if problems:
        print("INCONSISTENT:\n  " + "\n  ".join(problems))
        return 1
    print(
        "Consistent: every submit counted once, the stored scorecard equals a recompute, "
        "every process served the same results."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
