"""Action-plan PDF benchmark. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/report_bench.py [--batch 50] [--runs 5]

On a throwaway SQLite database with demo-like data (a follow-up cycle of ~30 respondents, a
baseline, a plan of 10 actions, a commentary) it measures:

1. building the report context (queries + cached instrument), p50/p95;
2. WeasyPrint rendering, warm (CSS and fonts already loaded), p50/p95 of --runs;
3. headless Chromium (Playwright, page.set_content + page.pdf on the same HTML with the CSS and
   chart inlined, warm page) when /usr/bin/chromium exists, and the WeasyPrint/Chromium ratio
   (target <= 2x). Like for like: WeasyPrint writes a tagged PDF (PDF/UA-1), so Chromium is asked
   for a tagged PDF too (`tagged=True`; Playwright's default is untagged, ~25% cheaper). The
   untagged figure is printed for reference only;
4. a repeat download of the unchanged report through the route (target <= 20 ms);
5. a batch of --batch reports through `peerready report --portfolio`'s code path with 2 worker
   processes (target < 60 s on 2 cores).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def show(label: str, samples: list[float], target: str = "") -> None:
    p50, p95 = percentiles(samples)
    print(f"{label:<48} p50 {p50 * 1000:8.1f} ms   p95 {p95 * 1000:8.1f} ms   (n={len(samples)}){target}")


def chromium_html(context) -> str:
    """The report's HTML with the stylesheet and the chart inlined, for Chromium's set_content."""
    from app.paths import REPORT_TEMPLATES_DIR
    from app.reports.pdf import PAGE_SIZES, chart_svg, render_report_html

    html = render_report_html(context)
    css = (REPORT_TEMPLATES_DIR / "report.css").read_text()
    css += f"\n@page {{ size: {PAGE_SIZES[context.paper]}; }}"
    chart = "data:image/svg+xml;base64," + base64.b64encode(chart_svg(context).encode()).decode()
    html = html.replace("peerready-asset:chart.svg", chart)
    return html.replace("</head>", f"<style>{css}</style></head>", 1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="peerready-report-bench-"))
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("PEERREADY_DATABASE_URL", None)

    from sqlmodel import Session

    from app.config import Settings
    from app.db import migrate
    from app.db.engine import make_engine
    from app.db.models import Membership, Portfolio, PortfolioSite, Role, User
    from app.reports.pdf import render_report_pdf
    from app.services.report_samples import create_sample_report_data
    from app.services.reports import build_report_context

    engine = make_engine(f"sqlite:///{workdir / 'bench.sqlite3'}")
    migrate.upgrade(engine)
    with Session(engine, expire_on_commit=False) as session:
        assessment = create_sample_report_data(session, organization_name="Riverside Family Services")
        session.commit()
        assessment_id = assessment.id
        organization_id = assessment.organization_id

    load = os.getloadavg()[0]
    print(f"PeerReady report benchmark ({os.cpu_count()} CPUs, load average {load:.1f} at start)")

    # 1. context
    timings = []
    with Session(engine) as session:
        build_report_context(session, assessment_id=assessment_id)  # parses the instrument once
        for _ in range(20):
            started = time.perf_counter()
            context = build_report_context(session, assessment_id=assessment_id)
            timings.append(time.perf_counter() - started)
    show("build_report_context (warm)", timings)

    # 2. WeasyPrint
    data = render_report_pdf(context)  # warm: CSS parsed, fonts configured
    from pypdf import PdfReader

    pages = len(PdfReader(io.BytesIO(data)).pages)
    timings, cpu = [], []
    for _ in range(args.runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        render_report_pdf(context)
        timings.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    show(f"WeasyPrint render ({pages} pages, {len(data) // 1024} KiB)", timings)
    # CPU time of this process: a figure that other load on the machine barely moves.
    show("WeasyPrint render, CPU time only", cpu)
    weasy_p50 = statistics.median(timings)

    # 3. Chromium
    if Path(CHROMIUM).exists():
        from playwright.sync_api import sync_playwright

        html = chromium_html(context)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page()

            def chromium_timings(tagged: bool) -> list[float]:
                page.set_content(html)
                page.pdf(format="Letter", prefer_css_page_size=True, tagged=tagged)  # warm
                timings = []
                for _ in range(args.runs):
                    started = time.perf_counter()
                    page.set_content(html)
                    page.pdf(format="Letter", prefer_css_page_size=True, tagged=tagged)
                    timings.append(time.perf_counter() - started)
                return timings

            untagged = chromium_timings(tagged=False)
            timings = chromium_timings(tagged=True)
            browser.close()
        show("Chromium, untagged PDF (reference only)", untagged)
        show("Chromium set_content + page.pdf, tagged (warm)", timings)
        ratio = weasy_p50 / statistics.median(timings)
        verdict = "met" if ratio <= 2 else "NOT met"
        print(f"{'WeasyPrint / Chromium tagged (p50)':<48} {ratio:8.2f}x   (target <= 2x: {verdict})")
    else:
        print(f"Chromium: {CHROMIUM} not found, comparison skipped")

    # 4. repeat download through the route
    from fastapi.testclient import TestClient

    from app.web.main import create_app

    # Immediate queue: the first download runs the report job inside the request.
    settings = Settings(PEERREADY_ENV="test", PEERREADY_DATA_DIR=workdir / "web", PEERREADY_QUEUE="immediate")
    with Session(engine, expire_on_commit=False) as session:
        lead = User(
            email="lead@example.org", name="Lee Lead", password_hash="bench-" + "x" * 40, role=Role.org_lead
        )
        session.add(lead)
        session.flush()
        session.add(Membership(user_id=lead.id, organization_id=organization_id))
        session.commit()
    app = create_app(settings=settings, engine=engine)
    with TestClient(app) as client:
        client.cookies.set("peerready_session", _session_cookie(settings.secret_key, lead, engine))
        url = f"/assessments/{assessment_id}/report.pdf"
        started = time.perf_counter()
        first = client.get(url)
        assert first.status_code == 200, first.status_code
        print(f"{'route, first download (renders)':<48} {(time.perf_counter() - started) * 1000:8.1f} ms")
        timings = []
        for _ in range(30):
            started = time.perf_counter()
            response = client.get(url)
            timings.append(time.perf_counter() - started)
            assert response.content == first.content
    p50, _ = percentiles(timings)
    verdict = "met" if p50 <= 0.02 else "NOT met"
    show("route, repeat download (cached)", timings, f"   (target <= 20 ms: {verdict})")

    # 5. batch of reports
    from app.cli.reports import BATCH_WORKERS, render_batch
    from app.services.reports import latest_assessment_ids_for_portfolio

    started = time.perf_counter()
    with Session(engine, expire_on_commit=False) as session:
        portfolio = Portfolio(name="Benchmark portfolio")
        session.add(portfolio)
        session.flush()
        for index in range(args.batch):
            site = create_sample_report_data(session, organization_name=f"Site {index:03d}", seed=100 + index)
            session.add(PortfolioSite(portfolio_id=portfolio.id, organization_id=site.organization_id))
        session.commit()
        ids = latest_assessment_ids_for_portfolio(session, portfolio_id=portfolio.id)
    print(f"(created {args.batch} sites' data in {time.perf_counter() - started:.1f} s)")
    started = time.perf_counter()
    results = render_batch(
        engine, ids, paper="letter", out_dir=workdir / "batch", cache_dir=workdir / "data" / "report-cache"
    )
    elapsed = time.perf_counter() - started
    written = sum(1 for _, path, _ in results if path)
    print(
        f"{f'batch of {written} reports, {BATCH_WORKERS} workers':<48} {elapsed:8.1f} s    "
        f"({elapsed / max(written, 1):.2f} s each; target < 60 s: {'met' if elapsed < 60 else 'NOT met'})"
    )
    engine.dispose()
    shutil.rmtree(workdir, ignore_errors=True)


def _session_cookie(secret_key: str, user, engine) -> str:
    """A signed session cookie for `user`, as the app's session middleware writes it, naming a
    server-side session row (app/services/sessions.py)."""
    from base64 import b64encode

    import itsdangerous

    from app.db.engine import session_scope
    from app.services import sessions
    from app.web.deps import SESSION_KEY

    with session_scope(engine) as session:
        token = sessions.start(session, user=user, max_age_seconds=3600)
    data = {SESSION_KEY: token, "csrf": "bench"}
    return itsdangerous.TimestampSigner(str(secret_key)).sign(b64encode(json.dumps(data).encode())).decode()


if __name__ == "__main__":
    main()
