"""The job page in real Chromium: it updates itself from /jobs/{id}.json under the app's CSP
(no inline script), the progress bar and status follow the job, the download appears when it is
done, and axe-core finds no serious or critical violation.

The second test runs the whole way with a real `peerready worker` process on the SQLite queue: a
funder starts the portfolio PDF from the portfolio page and a consultant a 50-site zip from the
consultant page; both follow the progress bar and download the result."""

from __future__ import annotations

import random
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from sqlalchemy import update
from sqlmodel import Session, select

from app.db.models import Job, JobStatus, User, utcnow
from app.jobs.runner import hold_lease, report_pdf_lease_key
from app.reports.pdf import cache_key, render_report_pdf
from app.services.report_samples import sample_respondents, snapshot_instrument, store_assessment
from app.services.reports import build_report_context
from app.services.workspace import client_overview
from tests.helpers.auth import DEFAULT_PASSWORD, make_organization, make_portfolio, make_user
from tests.helpers.browser import LiveServer, login, serve_app
from tests.jobs.conftest import QUICK_CHECK, worker_process

pytestmark = pytest.mark.browser

SITES = 50
HELD = 12  # the batch waits at this site while the test holds its report's lock


def _serious(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def test_job_page_follows_the_job_until_its_download(live_server, browser_page):
    page = browser_page
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    with live_server.session() as session:
        organization = make_organization(session, live_server.unique("Juniper Agency"))
        lead = make_user(
            session,
            role="org_lead",
            email=f"{live_server.unique('lead').replace(' ', '-')}@example.org",
            organizations=[organization],
        )
        job = Job(
            kind="report",
            status=JobStatus.running,
            title="Report PDFs for Juniper",
            params={"assessment_id": 1, "papers": ["letter"]},
            created_by_id=lead.id,
            organization_id=organization.id,
            progress_done=1,
            progress_total=4,
            progress_message="1 of 4 sites",
            started_at=utcnow(),
            heartbeat_at=utcnow(),
        )
        session.add(job)
        session.flush()
        job_id, email = job.id, lead.email

    login(page, live_server, email, DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/jobs/{job_id}")
    assert page.locator("#job-status").inner_text() == "Running"
    assert page.locator("#job-progress").get_attribute("value") == "25"
    assert page.locator("#job-download").is_hidden()
    assert _serious(page) == []

    folder = live_server.settings.data_dir / "jobs" / str(job_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.pdf").write_bytes(b"%PDF-1.7 browser test")
    with live_server.session() as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(
                status=JobStatus.done,
                progress_done=4,
                progress_message="4 of 4 sites",
                result_path=f"jobs/{job_id}/report.pdf",
                result_filename="report.pdf",
                result_media_type="application/pdf",
                finished_at=utcnow(),
            )
        )
    page.locator("#job-download").wait_for(state="visible", timeout=15_000)
    assert page.locator("#job-status").inner_text() == "Done"
    assert page.locator("#job-progress").get_attribute("value") == "100"
    assert page.locator("#job-message").inner_text() == "4 of 4 sites"
    assert page.locator("#job-cancel").is_hidden()
    link = page.locator("#job-download-link")
    assert link.get_attribute("href") == f"/jobs/{job_id}/download"
    for _ in range(20):  # reachable by keyboard
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "job-download-link":
            break
    else:
        raise AssertionError("the download link is not reachable with Tab")
    assert _serious(page) == []
    assert not [e for e in errors if "Content Security Policy" in e], errors


@pytest.fixture(scope="module")
def queued_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A live server whose jobs wait in the SQLite queue for a real worker (not the immediate
    queue of the shared live server); reports are not prepared ahead, so only the test's jobs run."""
    data_dir = tmp_path_factory.mktemp("queued")
    with serve_app(
        data_dir=data_dir,
        DATABASE_URL=f"sqlite:///{data_dir / 'live.sqlite3'}",
        PEERREADY_QUEUE="sqlite",
        PEERREADY_PREPARE_REPORTS="false",
    ) as server:
        yield server


def _download(page, selector: str) -> bytes:
    with page.expect_download() as info:
        page.locator(selector).click()
    return Path(info.value.path()).read_bytes()


def test_portfolio_pdf_and_a_50_site_zip_with_a_real_worker(queued_server, browser):
    server = queued_server
    with server.session() as db:
        version, instrument = snapshot_instrument(db, QUICK_CHECK)
        sites = []
        for n in range(SITES):
            site = make_organization(db, f"Site {n:02d}")
            respondents = sample_respondents(instrument, random.Random(n), 4, lean=0.6)
            store_assessment(
                db,
                organization=site,
                version=version,
                instrument=instrument,
                name="Spring",
                respondents=respondents,
            )
            sites.append(site)
        portfolio = make_portfolio(db, "National portfolio", sites)
        funder = make_user(db, role="funder", email="national-funder@example.org", portfolios=[portfolio])
        consultant = make_user(
            db, role="consultant", email="national-consultant@example.org", organizations=sites
        )
        portfolio_id, consultant_id = portfolio.id, consultant.id

    # The batch reads what "reports ready before the click" leaves in the report cache. To keep
    # this test in seconds, one PDF is rendered here and its bytes stand in for the other sites'
    # cached files (each under its own content key); the held site is rendered by the worker.
    cache = server.settings.report_cache_dir
    with Session(server.engine) as db:
        clients = client_overview(db, user=db.get(User, consultant_id))
        ids = [client.cycles[0].assessment.id for client in clients if client.cycles]
        contexts = [build_report_context(db, assessment_id=i, paper="letter") for i in ids]
        db.commit()
    assert len(ids) == SITES
    body = render_report_pdf(contexts[0], cache_dir=cache)
    for index, context in enumerate(contexts[1:], start=1):
        if index != HELD:
            (cache / f"{cache_key(context)}.pdf").write_bytes(body)

    pages = []
    with worker_process(server.settings) as worker:
        # A funder: the portfolio page's PDF link starts the job and opens its page.
        funder_page = browser.new_context().new_page()
        pages.append(funder_page)
        login(funder_page, server, funder.email, DEFAULT_PASSWORD)
        funder_page.goto(f"{server.url}/portfolio/{portfolio_id}")
        with funder_page.expect_navigation(url=re.compile(r"/jobs/\d+$")):
            funder_page.locator('#downloads a[href*="/report.pdf"]').click()
        funder_page.locator("#job-download").wait_for(state="visible", timeout=90_000)
        assert funder_page.locator("#job-status").inner_text() == "Done"
        assert funder_page.locator("#job-progress").get_attribute("value") == "100"
        assert _download(funder_page, "#job-download-link").startswith(b"%PDF-")

        # A consultant: "Prepare the zip of reports" for 50 client agencies. The test holds the lock
        # of site 13's report, so the worker waits there, at "12 of 50 sites", until it lets go.
        page = browser.new_context().new_page()
        pages.append(page)
        login(page, server, consultant.email, DEFAULT_PASSWORD)
        page.goto(f"{server.url}/consultant")
        with hold_lease(server.engine, report_pdf_lease_key(cache_key(contexts[HELD]))):
            with page.expect_navigation(url=re.compile(r"/jobs/\d+$")):
                page.locator("#reports-zip button[type=submit]").click()
            expect(page.locator("#job-message")).to_have_text("12 of 50 sites", timeout=90_000)
            bar = page.locator("#job-progress")
            assert bar.get_attribute("value") == "24"
            assert bar.get_attribute("aria-valuetext") == "12 of 50 sites (24%)"  # its text equivalent
            message = page.locator("#job-message")
            assert (
                message.get_attribute("aria-live") == "polite" and message.get_attribute("role") == "status"
            )
            assert page.locator("#job-status").inner_text() == "Running"
            assert page.locator("#job-cancel").is_visible()
            assert _serious(page) == []
        page.locator("#job-download").wait_for(state="visible", timeout=90_000)
        assert page.locator("#job-message").inner_text() == "50 of 50 sites"
        assert page.locator("#job-progress").get_attribute("aria-valuetext") == "50 of 50 sites (100%)"
        assert _serious(page) == []
        archive = Path(server.settings.data_dir) / "download.zip"
        archive.write_bytes(_download(page, "#job-download-link"))
        assert worker.poll() is None
    with zipfile.ZipFile(archive) as zipped:
        names = [n for n in zipped.namelist() if n.endswith(".pdf")]
    assert len(names) == SITES and {n.split("-", 1)[0] for n in names} == {str(i) for i in ids}
    with Session(server.engine) as db:
        batch = db.exec(select(Job).where(Job.kind == "report_batch")).one()
    assert batch.status == JobStatus.done and batch.attempts == 1
    assert batch.result_detail["rendered"] == 1  # the held site; the other 49 came from the cache
    for opened in pages:
        opened.context.close()
