"""Portfolio benchmark at national scale. Prints figures next to their targets; asserts nothing.

    .venv/bin/python benchmarks/portfolio_bench.py [--sizes 500,2000,5000] [--respondents 10]
        [--runs 15] [--backends sqlite,postgres]
        [--pg-admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

For each backend (a throwaway SQLite file; a throwaway PostgreSQL database, dropped after) it grows
one portfolio to each size in turn and measures it there: every site has a closed follow-up cycle
of --respondents respondents, every other site also a closed baseline (so change is computed).
Stored scores are real scorecards computed with the rules module (`score_responses`) from synthetic
respondents: 40 distinct scored cycles are computed and reused round robin, stored the way
`refresh_scores` stores them, with --respondents response rows per cycle (no answer rows: the
portfolio reads stored scores only, never answers).

Measured through the real app in-process (routing, access checks, queries, templates): the
portfolio page (first page of the site table, sorted by a condition, searched), the JSON API
(/sites first page, /summary), the CSV and XLSX exports (whole portfolio, streamed).
Targets at 5,000 sites: page and JSON API p50 <= 150 ms, CSV <= 2 s, XLSX <= 10 s, and cost
growing no faster than linearly with sites (the last column: cost per 1,000 sites relative to the
smallest size; <= 1.0 is linear or better).
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


DISTINCT_CYCLES = 40


def setup(engine) -> tuple[int, int, int]:
    """The instrument snapshot, an empty portfolio and its funder: (portfolio, funder, version) ids."""
    from sqlmodel import Session

    from app.db.models import Portfolio, PortfolioMembership, Role, User
    from app.instruments.loader import load_instrument_file
    from app.paths import INSTRUMENTS_DIR
    from app.services import instruments_store
    from app.services.accounts import hash_password

    loaded = load_instrument_file(INSTRUMENTS_DIR / "readiness-full.yaml")
    with Session(engine) as session:
        version = instruments_store.snapshot(session, loaded=loaded)
        portfolio = Portfolio(name="Benchmark portfolio")
        funder = User(
            email="funder@bench.example",
            name="Bench Funder",
            role=Role.funder,
            password_hash=hash_password("bench-password-123"),
        )
        session.add_all([portfolio, funder])
        session.flush()
        session.add(PortfolioMembership(user_id=funder.id, portfolio_id=portfolio.id))
        session.commit()
        return portfolio.id, funder.id, version.id


def scored_cycles(respondents: int) -> list:
    """DISTINCT_CYCLES scorecards computed by the rules from synthetic respondents."""
    from app.instruments.loader import load_instrument_file
    from app.paths import INSTRUMENTS_DIR
    from app.portfolio.sample import synthetic_responses
    from app.scoring import score_responses

    instrument = load_instrument_file(INSTRUMENTS_DIR / "readiness-full.yaml").instrument
    cards = []
    for seed in range(DISTINCT_CYCLES):
        lean = 2.0 + (seed % 10) * 0.3
        inputs = synthetic_responses(instrument, n=respondents, seed=seed, lean=lean)
        cards.append((score_responses(instrument, inputs, privacy_threshold=THRESHOLD), inputs))
    return cards


def grow(
    engine, *, portfolio_id: int, version_id: int, start: int, stop: int, respondents: int, cards
) -> None:
    """Add sites start..stop-1 to the portfolio with their cycles, responses and stored scores."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert
    from sqlmodel import Session, select

    from app.db.models import Assessment, AssessmentScore, DomainScore, Organization, PortfolioSite, Response

    regions = ["North", "South", "East", "West", "Central"]
    base_time = datetime(2027, 1, 1, tzinfo=UTC)
    with Session(engine) as session:
        session.execute(
            insert(Organization),
            [
                {
                    "name": f"Site {i:05d}",
                    "region": regions[i % 5],
                    "cohort": str(2026 + i % 3),
                    "created_at": datetime.now(UTC),
                }
                for i in range(start, stop)
            ],
        )
        org_ids = list(
            session.exec(
                select(Organization.id)
                .where(Organization.name >= f"Site {start:05d}", Organization.name < f"Site {stop:05d}")
                .order_by(Organization.id)
            )
        )
        session.execute(
            insert(PortfolioSite), [{"portfolio_id": portfolio_id, "organization_id": oid} for oid in org_ids]
        )
        cycles = []
        for offset, oid in enumerate(org_ids):
            index = start + offset
            if index % 2 == 0:
                cycles.append((oid, "Baseline 2027", base_time, index))
            cycles.append((oid, "Follow-up 2028", base_time + timedelta(days=365), index + 7))
        for chunk in range(0, len(cycles), 1000):
            part = cycles[chunk : chunk + 1000]
            rows = session.execute(
                insert(Assessment).returning(Assessment.id),
                [
                    {
                        "organization_id": oid,
                        "instrument_version_id": version_id,
                        "name": name,
                        "status": "closed",
                        "created_at": when,
                        "closed_at": when + timedelta(days=30),
                        "expected_respondents": respondents + 2,
                    }
                    for oid, name, when, _ in part
                ],
            ).all()
            ids = [row[0] for row in rows]
            score_rows, domain_rows, response_rows = [], [], []
            for aid, (_, _, when, seed) in zip(ids, part, strict=True):
                card, inputs = cards[seed % len(cards)]
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
                response_rows += [
                    {
                        "assessment_id": aid,
                        "group": r.group,
                        "status": "submitted",
                        "source": "import",
                        "token_hash": secrets.token_hex(16),
                        "last_page": 0,
                        "created_at": when,
                        "updated_at": when,
                        "submitted_at": when,
                    }
                    for r in inputs
                ]
            session.execute(insert(AssessmentScore), score_rows)
            session.execute(insert(DomainScore), domain_rows)
            session.execute(insert(Response), response_rows)
        session.commit()
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()  # uncommitted, its statistics are rolled back with the transaction


def measure(engine, *, portfolio_id: int, runs: int, data_dir: Path) -> dict[str, float]:
    """p50 of each page (seconds); one timed run of each export after a warm-up."""
    from fastapi.testclient import TestClient

    from app.config import Settings
    from app.web.main import create_app

    settings = Settings(PEERREADY_ENV="test", PEERREADY_DATA_DIR=data_dir, PEERREADY_PREPARE_REPORTS="false")
    app = create_app(settings=settings, engine=engine)
    figures: dict[str, float] = {}
    with TestClient(app, base_url="http://testserver") as client:
        form = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        signed = client.post(
            "/login",
            data={"email": "funder@bench.example", "password": "bench-password-123", "csrf_token": token},
            follow_redirects=False,
        )
        assert signed.status_code == 303, signed.text[:300]

        def timed(path: str, n: int, params: dict | None = None) -> float:
            samples = []
            for _ in range(n):
                t0 = time.perf_counter()
                response = client.get(path, params=params)
                if path.endswith((".csv", ".xlsx")):
                    response.read()
                samples.append(time.perf_counter() - t0)
                assert response.status_code == 200, (path, response.status_code, response.text[:300])
            return percentiles(samples)[0]

        base = f"/portfolio/{portfolio_id}"
        api = f"/api/v1/portfolios/{portfolio_id}"
        timed(base, 2)  # warm: parse the instrument snapshot once, fill caches
        figures["page"] = timed(base, runs)
        figures["page sorted -score_purpose"] = timed(base, runs, {"sort": "-score_purpose"})
        figures["page search 'Site 001'"] = timed(base, runs, {"q": "Site 001"})
        figures["page 3, region North"] = timed(base, runs, {"region": "North", "page": "3"})
        figures["JSON /sites (first page)"] = timed(f"{api}/sites", runs)
        figures["JSON /summary"] = timed(f"{api}/summary", runs)
        timed(f"{base}/export.csv", 1)
        figures["CSV export"] = timed(f"{base}/export.csv", 2)
        figures["XLSX export"] = timed(f"{base}/export.xlsx", 1)
    return figures


TARGETS = {
    "page": 0.150,
    "page sorted -score_purpose": 0.150,
    "page search 'Site 001'": 0.150,
    "page 3, region North": 0.150,
    "JSON /sites (first page)": 0.150,
    "JSON /summary": 0.150,
    "CSV export": 2.0,
    "XLSX export": 10.0,
}


def query_count(engine, portfolio_id: int, funder_id: int, page=None) -> int:
    """SQL statements of one portfolio view (constant in the number of sites: no N+1): the
    first page of the site table with the summary (`page`), or every site (None: downloads)."""
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
            portfolio_view(
                session, user=funder, portfolio_id=portfolio_id, privacy_threshold=THRESHOLD, page=page
            )
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(statements)


def run_backend(name: str, url: str, args, data_dir: Path) -> None:
    from app.db import migrate
    from app.db.engine import make_engine

    sizes = [int(x) for x in args.sizes.split(",")]
    print(f"\n== {name}: {args.sizes} sites x {args.respondents} respondents, full instrument ==")
    engine = make_engine(url)
    results: dict[int, dict[str, float]] = {}
    try:
        migrate.upgrade(engine)
        portfolio_id, funder_id, version_id = setup(engine)
        cards = scored_cycles(args.respondents)
        done = 0
        for size in sizes:
            started = time.perf_counter()
            grow(
                engine,
                portfolio_id=portfolio_id,
                version_id=version_id,
                start=done,
                stop=size,
                respondents=args.respondents,
                cards=cards,
            )
            done = size
            print(f"  grown to {size} sites in {time.perf_counter() - started:.1f} s", flush=True)
            results[size] = measure(engine, portfolio_id=portfolio_id, runs=args.runs, data_dir=data_dir)
            from app.portfolio.params import SitePage

            results[size]["_queries"] = query_count(engine, portfolio_id, funder_id, SitePage())
            results[size]["_queries_all"] = query_count(engine, portfolio_id, funder_id)
            with open("/proc/loadavg") as handle:
                print(f"  measured at {size} sites; load average {handle.read().strip()}", flush=True)
    finally:
        engine.dispose()
    first, last = sizes[0], sizes[-1]
    header = f"  {'(p50)':<30}" + "".join(f"{f'{n:,} sites':>14}" for n in sizes)
    print(header + f"{'target':>12}{'met':>6}{'growth':>9}")
    for label, target in TARGETS.items():
        cells = "".join(f"{results[n][label] * 1000:>11.1f} ms" for n in sizes)
        met = "yes" if results[last][label] <= target else "NO"
        # Cost per site at the largest size relative to the smallest: <= 1.0 is linear or better.
        growth = (results[last][label] / last) / (results[first][label] / first)
        shown = f"{target * 1000:.0f} ms" if target < 1 else f"{target:.0f} s"
        print(f"  {label:<30}{cells}{shown:>12}{met:>6}{growth:>9.2f}")
    print(f"  {'SQL statements, page view':<30}" + "".join(f"{results[n]['_queries']:>14}" for n in sizes))
    print(
        f"  {'SQL statements, download view':<30}"
        + "".join(f"{results[n]['_queries_all']:>14}" for n in sizes)
    )


def _uptime() -> str:
    """`uptime` (its load averages say how busy the machine was), or /proc/loadavg without it."""
    import subprocess

    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        with open("/proc/loadavg") as handle:
            return "load average " + handle.read().strip()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="500,2000,5000")
    parser.add_argument("--respondents", type=int, default=10)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--pg-admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    import logging
    import os

    for name in [n for n in os.environ if n.startswith("PEERREADY_") or n == "DATABASE_URL"]:
        os.environ.pop(name)
    logging.getLogger("peerready.scores").setLevel(logging.ERROR)
    print(f"uptime before: {_uptime()}")
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
    print(f"uptime after: {_uptime()}")


if __name__ == "__main__":
    main()
