"""Portfolio benchmark. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/portfolio_bench.py [--sites 500] [--respondents 30] [--runs 20]
        [--backends sqlite,postgres] [--pg-admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

For each backend (a throwaway SQLite file; a throwaway PostgreSQL database, dropped after) it builds
one portfolio of --sites sites. Every site has a closed follow-up cycle of --respondents synthetic
respondents on the full instrument; every other site also has a closed baseline cycle (so change
is computed). Responses and answers are bulk-inserted, and stored scores are computed with the
rules module (`score_responses`) and bulk-inserted the way `refresh_scores` stores them.

It then measures, through the real app in-process (routing, access checks, queries, templates):
the portfolio page, the CSV export, the XLSX export and the JSON API (sites and summary), p50/p95.
Targets: portfolio page p50 <= 300 ms; an export <= 2 s.
"""

from __future__ import annotations

import argparse
import re
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

THRESHOLD = 3


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def show(label: str, samples: list[float], target: float | None = None) -> None:
    p50, p95 = percentiles(samples)
    verdict = ""
    if target is not None:
        verdict = f"   target p50 <= {target * 1000:.0f} ms: {'met' if p50 <= target else 'NOT met'}"
    print(f"  {label:<34} p50 {p50 * 1000:8.1f} ms   p95 {p95 * 1000:8.1f} ms   (n={len(samples)}){verdict}")


def build_data(engine, *, sites: int, respondents: int) -> tuple[int, int]:
    """Insert the portfolio; returns (portfolio id, funder user id)."""
    import random
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert
    from sqlmodel import Session, select

    from app.db.models import (
        Answer,
        Assessment,
        AssessmentScore,
        DomainScore,
        Organization,
        Portfolio,
        PortfolioMembership,
        PortfolioSite,
        Response,
        Role,
        User,
    )
    from app.instruments.loader import load_instrument_file
    from app.paths import INSTRUMENTS_DIR
    from app.portfolio.sample import synthetic_responses
    from app.scoring import score_responses
    from app.services import instruments_store
    from app.services.accounts import hash_password

    loaded = load_instrument_file(INSTRUMENTS_DIR / "readiness-full.yaml")
    instrument = loaded.instrument
    rng = random.Random(2027)
    started = time.perf_counter()
    with Session(engine) as session:
        version = instruments_store.snapshot(session, loaded=loaded)
        portfolio = Portfolio(name="Benchmark portfolio")
        session.add(portfolio)
        funder = User(
            email="funder@bench.example",
            name="Bench Funder",
            role=Role.funder,
            password_hash=hash_password("bench-password-123"),
        )
        session.add(funder)
        session.flush()
        session.add(PortfolioMembership(user_id=funder.id, portfolio_id=portfolio.id))
        regions = ["North", "South", "East", "West", "Central"]
        session.execute(
            insert(Organization),
            [
                {
                    "name": f"Site {i:04d}",
                    "region": regions[i % 5],
                    "cohort": str(2026 + i % 3),
                    "created_at": datetime.now(UTC),
                }
                for i in range(sites)
            ],
        )
        org_ids = list(session.exec(select(Organization.id).order_by(Organization.id)))
        session.execute(
            insert(PortfolioSite), [{"portfolio_id": portfolio.id, "organization_id": oid} for oid in org_ids]
        )
        # Cycles: a baseline for every other site, a follow-up for every site.
        cycles = []
        base_time = datetime(2027, 1, 1, tzinfo=UTC)
        for index, oid in enumerate(org_ids):
            if index % 2 == 0:
                cycles.append((oid, "Baseline 2027", base_time, 2.0 + rng.random() * 2))
            cycles.append((oid, "Follow-up 2028", base_time + timedelta(days=365), 2.5 + rng.random() * 2.5))
        session.execute(
            insert(Assessment),
            [
                {
                    "organization_id": oid,
                    "instrument_version_id": version.id,
                    "name": name,
                    "status": "closed",
                    "created_at": when,
                    "closed_at": when + timedelta(days=30),
                    "expected_respondents": respondents + 10,
                }
                for oid, name, when, _ in cycles
            ],
        )
        assessment_ids = list(session.exec(select(Assessment.id).order_by(Assessment.id)))
        session.commit()
        print(
            f"  sites, cycles inserted in {time.perf_counter() - started:.1f} s "
            f"({len(assessment_ids)} closed cycles)"
        )

        generated = scored = inserted = 0.0
        for batch_start in range(0, len(cycles), 50):
            response_rows, answer_rows, score_rows, domain_rows = [], [], [], []
            batch = list(zip(assessment_ids, cycles, strict=True))[batch_start : batch_start + 50]
            t0 = time.perf_counter()
            per_cycle = [
                synthetic_responses(instrument, n=respondents, seed=aid, lean=lean)
                for aid, (_, _, _, lean) in batch
            ]
            t1 = time.perf_counter()
            for (aid, (_, _, when, _)), inputs in zip(batch, per_cycle, strict=True):
                card = score_responses(instrument, inputs, privacy_threshold=THRESHOLD)
                score_rows.append(
                    {
                        "assessment_id": aid,
                        "scorecard": card.model_dump(mode="json"),
                        "n_respondents": len(inputs),
                        "n_submitted": len(inputs),
                        "computed_at": when,
                    }
                )
                domain_rows += [
                    {
                        "assessment_id": aid,
                        "domain_id": d.domain_id,
                        "score": d.score,
                        "level_id": d.level_id,
                        "n": d.n,
                        "sd": d.sd,
                    }
                    for d in card.domains
                ]
                for r in inputs:
                    token = secrets.token_hex(16)
                    response_rows.append(
                        {
                            "assessment_id": aid,
                            "group": r.group,
                            "status": "submitted",
                            "source": "import",
                            "token_hash": token,
                            "last_page": 0,
                            "created_at": when,
                            "updated_at": when,
                            "submitted_at": when,
                        }
                    )
            t2 = time.perf_counter()
            session.execute(insert(Response), response_rows)
            ids = dict(
                session.exec(
                    select(Response.token_hash, Response.id).where(
                        Response.assessment_id.in_([a for a, _ in batch])
                    )
                ).all()
            )
            for row, r in zip(response_rows, (r for inputs in per_cycle for r in inputs), strict=True):
                rid = ids[row["token_hash"]]
                answer_rows += [
                    {"response_id": rid, "item_id": k, "value": v, "updated_at": row["created_at"]}
                    for k, v in r.answers.items()
                ]
            session.execute(insert(Answer), answer_rows)
            session.execute(insert(AssessmentScore), score_rows)
            session.execute(insert(DomainScore), domain_rows)
            session.commit()
            t3 = time.perf_counter()
            generated, scored, inserted = generated + t1 - t0, scored + t2 - t1, inserted + t3 - t2
        print(
            f"  responses generated {generated:.1f} s, scored with the rules module {scored:.1f} s, "
            f"bulk-inserted {inserted:.1f} s"
        )
        return portfolio.id, funder.id


def measure(engine, *, portfolio_id: int, runs: int, data_dir: Path) -> None:
    from fastapi.testclient import TestClient

    from app.config import Settings
    from app.web.main import create_app

    settings = Settings(PEERREADY_ENV="test", PEERREADY_DATA_DIR=data_dir)
    app = create_app(settings=settings, engine=engine)
    with TestClient(app, base_url="http://testserver") as client:
        form = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        signed = client.post(
            "/login",
            data={"email": "funder@bench.example", "password": "bench-password-123", "csrf_token": token},
            follow_redirects=False,
        )
        assert signed.status_code == 303, signed.text[:300]

        def timed(path: str, n: int, params: dict | None = None) -> list[float]:
            samples = []
            for _ in range(n):
                t0 = time.perf_counter()
                response = client.get(path, params=params)
                samples.append(time.perf_counter() - t0)
                assert response.status_code == 200, (path, response.status_code, response.text[:300])
            return samples

        base = f"/portfolio/{portfolio_id}"
        timed(base, 2)  # warm: parse the instrument snapshot once, fill caches
        page = client.get(base)
        sites = client.get(f"/api/v1/portfolios/{portfolio_id}/sites").json()
        scored = sum(1 for s in sites["sites"] if s["status"] == "scored")
        changed = sum(1 for s in sites["sites"] if s["changes"])
        print(
            f"  page {len(page.content) / 1024:.0f} KiB; {len(sites['sites'])} sites, {scored} scored, "
            f"{changed} with a change from baseline"
        )
        show("portfolio page", timed(base, runs), target=0.300)
        show(
            "portfolio page sorted -score_purpose",
            timed(base, runs, {"sort": "-score_purpose"}),
            target=0.300,
        )
        show("portfolio page filtered region", timed(base, runs, {"region": "North"}))
        show("CSV export", timed(f"{base}/export.csv", max(5, runs // 2)), target=2.0)
        show("XLSX export", timed(f"{base}/export.xlsx", max(5, runs // 2)), target=2.0)
        show("JSON API /sites", timed(f"/api/v1/portfolios/{portfolio_id}/sites", runs))
        show("JSON API /summary", timed(f"/api/v1/portfolios/{portfolio_id}/summary", runs))
        pdf = timed(f"{base}/report.pdf", 2)
        show("PDF export (2 runs)", pdf)


def query_plan_note(engine, portfolio_id: int, funder_id: int) -> None:
    """Counts the SQL statements of one portfolio view (no N+1: constant in the number of sites)."""
    from sqlalchemy import event
    from sqlmodel import Session

    from app.db.models import User
    from app.services.portfolio import portfolio_view

    statements = []

    def count(*_args) -> None:
        statements.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with Session(engine) as session:
            funder = session.get(User, funder_id)
            statements.clear()
            portfolio_view(session, user=funder, portfolio_id=portfolio_id, privacy_threshold=THRESHOLD)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    print(f"  SQL statements per portfolio view: {len(statements)}")


def run_backend(name: str, url: str, args, data_dir: Path) -> None:
    from app.db import migrate
    from app.db.engine import make_engine

    print(f"\n== {name}: {args.sites} sites x {args.respondents} respondents, full instrument ==")
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        portfolio_id, funder_id = build_data(engine, sites=args.sites, respondents=args.respondents)
        query_plan_note(engine, portfolio_id, funder_id)
        measure(engine, portfolio_id=portfolio_id, runs=args.runs, data_dir=data_dir)
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sites", type=int, default=500)
    parser.add_argument("--respondents", type=int, default=30)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--pg-admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    import logging

    logging.getLogger("peerready.scores").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="peerready-bench-") as tmp:
        tmp_path = Path(tmp)
        if "sqlite" in args.backends:
            run_backend("SQLite", f"sqlite:///{tmp_path / 'bench.sqlite3'}", args, tmp_path / "data-sqlite")
        if "postgres" in args.backends:
            from sqlalchemy import text

            from app.db.engine import make_engine

            admin = make_engine(args.pg_admin_url).execution_options(isolation_level="AUTOCOMMIT")
            database = f"peerready_bench_{secrets.token_hex(4)}"
            try:
                with admin.connect() as connection:
                    connection.execute(text(f'CREATE DATABASE "{database}"'))
            except Exception as error:  # noqa: BLE001 - report and carry on with what we have
                print(f"\n== PostgreSQL: skipped ({error.__class__.__name__}: not reachable) ==")
            else:
                try:
                    url = args.pg_admin_url.rsplit("/", 1)[0] + "/" + database
                    run_backend("PostgreSQL", url, args, tmp_path / "data-pg")
                finally:
                    with admin.connect() as connection:
                        connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
                    print(f"  (throwaway database {database} dropped)")
            admin.dispose()


if __name__ == "__main__":
    main()
