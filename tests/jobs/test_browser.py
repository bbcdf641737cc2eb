"""The job page in real Chromium: it updates itself from /jobs/{id}.json under the app's CSP
(no inline script), the progress bar and status follow the job, the download appears when it is
done, and axe-core finds no serious or critical violation."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from sqlalchemy import update

from app.db.models import Job, JobStatus, utcnow
from tests.helpers.auth import DEFAULT_PASSWORD, make_organization, make_user
from tests.helpers.browser import login

pytestmark = pytest.mark.browser


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
