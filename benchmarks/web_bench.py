"""Server time of the respondent form, one autosave and the results page, on SQLite and PostgreSQL.

An assessment of the full instrument with 40 submitted respondents, plus one respondent filling
in the form. Requests go in-process through httpx's ASGI transport (no network, no test-client
thread), timed over ITERATIONS runs after a warm-up. PostgreSQL: a throwaway database at
PEERREADY_TEST_PG_URL (or
postgres@127.0.0.1:5432), dropped afterwards; skipped with a note when there is no server.

    .venv/bin/python benchmarks/web_bench.py

Targets: form page p50 <= 20 ms, autosave p50 <= 10 ms, results p50 <= 50 ms.
"""

from __future__ import annotations

import os
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncio  # noqa: E402

import httpx  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from app.config import Settings  # noqa: E402
from app.db import migrate  # noqa: E402
from app.db.engine import make_engine  # noqa: E402
from app.db.models import Answer, Membership, Organization, Response, ResponseStatus, Role, User  # noqa: E402
from app.paths import INSTRUMENTS_DIR  # noqa: E402
from app.services import accounts, instruments_store, invitations, responses, scores  # noqa: E402
from app.services import assessments as assessments_service  # noqa: E402

ITERATIONS = 60
WARMUP = 5
RESPONDENTS = 40
PASSWORD = "benchmark-password"
PG_ADMIN_URL = os.environ.get(
    "PEERREADY_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
GROUPS = ["leadership", "clinical", "clinical", "peer_staff", "admin_hr", "family_advisory"]


def build(engine) -> dict:
    rng = random.Random(7)
    with Session(engine, expire_on_commit=False) as db:
        organization = Organization(name="Benchmark Agency")
        db.add(organization)
        db.flush()
        lead = User(
            email="lead@bench.example",
            name="Lead",
            role=Role.org_lead,
            password_hash=accounts.hash_password(PASSWORD),
        )
        db.add(lead)
        db.flush()
        db.add(Membership(user_id=lead.id, organization_id=organization.id))
        db.flush()
        assessment = assessments_service.create_assessment(
            db,
            user=lead,
            organization_id=organization.id,
            name="Bench",
            instrument_id="readiness_full",
            instruments_dir=INSTRUMENTS_DIR,
        )
        instrument = instruments_store.instrument_for(db, assessment)
        for index in range(RESPONDENTS):
            group = GROUPS[index % len(GROUPS)]
            response = Response(
                assessment_id=assessment.id,
                group=group,
                status=ResponseStatus.submitted,
                token_hash=invitations.hash_token(secrets.token_urlsafe(32)),
            )
            db.add(response)
            db.flush()
            answers = {"pps_status": "employ"}
            visible = responses.visible_ids(instrument, group, answers)
            for item in instrument.items:
                if item.id in visible and item.id != "pps_status":
                    answers[item.id] = rng.choice(["1", "2", "3", "4", "5", "5", "4", "dk"])
            db.add_all(Answer(response_id=response.id, item_id=k, value=v) for k, v in answers.items())
            if index % 3 == 0:
                from app.db.models import Comment

                db.add(Comment(response_id=response.id, domain_id="purpose", text=f"Comment {index}"))
        scores.refresh_scores(db, assessment_id=assessment.id, instrument=instrument, privacy_threshold=3)
        _, token = invitations.create_invitation(
            db, user=lead, assessment=assessment, instrument=instrument, group="clinical"
        )
        db.commit()
        pages = responses.form_pages(instrument, "clinical")
        longest = max(pages, key=lambda p: len(p.items))
        return {
            "assessment_id": assessment.id,
            "token": token,
            "longest_page": longest.number,
            "longest_items": len(longest.items),
            "lead": lead.email,
        }


async def timed(call, iterations=ITERATIONS) -> tuple[float, float]:
    for _ in range(WARMUP):
        await call()
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def run(backend: str, engine, data_dir: Path) -> None:
    migrate.upgrade(engine)
    data = build(engine)
    app = __import__("app.web.main", fromlist=["create_app"]).create_app(
        settings=Settings(PEERREADY_ENV="test", PEERREADY_DATA_DIR=data_dir), engine=engine
    )
    async with client(app) as respondent, client(app) as lead:
        opened = await respondent.get(f"/r/{data['token']}")
        personal = re.match(r"/respond/([^/]+)", opened.headers["location"]).group(1)
        page_url = f"/respond/{personal}/page/{data['longest_page']}"
        page = await respondent.get(page_url)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        await respondent.post(
            f"/respond/{personal}/autosave",
            json={"item_id": "pps_status", "value": "employ"},
            headers={"X-CSRF-Token": csrf},
        )

        async def form_page():
            assert (await respondent.get(page_url)).status_code == 200

        values = iter(["1", "2", "3", "4", "5"] * 1000)

        async def autosave():
            response = await respondent.post(
                f"/respond/{personal}/autosave",
                json={"item_id": "purpose_leaders_support", "value": next(values), "page": 1},
                headers={"X-CSRF-Token": csrf, "Accept": "application/json"},
            )
            assert response.status_code == 200, response.text

        login_page = await lead.get("/login")
        lead_csrf = re.search(r'name="csrf_token" value="([^"]+)"', login_page.text).group(1)
        signed_in = await lead.post(
            "/login", data={"email": data["lead"], "password": PASSWORD, "csrf_token": lead_csrf}
        )
        assert signed_in.status_code == 303, signed_in.text
        results_url = f"/assessments/{data['assessment_id']}/results"

        async def results():
            response = await lead.get(results_url)
            assert response.status_code == 200 and "40 submitted" in response.text

        print(
            f"\n{backend}: {RESPONDENTS} submitted respondents, longest form page has "
            f"{data['longest_items']} questions; {ITERATIONS} iterations each (httpx ASGI transport)"
        )
        for name, call, target in (
            ("form page", form_page, 20),
            ("autosave", autosave, 10),
            ("results page", results, 50),
        ):
            p50, p95 = await timed(call)
            verdict = "ok" if p50 <= target else "OVER TARGET"
            print(
                f"  {name:<13} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   (target p50 <= {target} ms: {verdict})"
            )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.sqlite3")
        asyncio.run(run("SQLite", engine, Path(tmp)))
        engine.dispose()

        name = f"peerready_bench_{os.getpid()}_{secrets.token_hex(4)}"
        try:
            admin = make_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:  # no PostgreSQL here: say so and stop
            print(
                f"\nPostgreSQL: skipped ({exc.__class__.__name__}: "
                f"not reachable at {PG_ADMIN_URL.split('@')[-1]})"
            )
            return
        try:
            engine = make_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
            asyncio.run(run("PostgreSQL", engine, Path(tmp)))
            engine.dispose()
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
