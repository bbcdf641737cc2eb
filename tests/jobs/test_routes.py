"""The job pages: /jobs/{id} (progress bar that updates itself, no inline script or style),
/jobs/{id}.json, /jobs/{id}/download, cancel and retry; refusals are clear 4xx, never a 500."""

from __future__ import annotations

import re

from sqlmodel import select

from app.db.models import AuditEvent, JobStatus
from app.services import jobs
from tests.helpers.auth import login
from tests.jobs.conftest import reload, small_assessment

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


def _queued_settings(settings):
    return settings.model_copy(update={"queue": "sqlite"})  # nothing runs it: it stays queued


def test_a_waiting_job_page_updates_itself_without_inline_code(
    client, db, engine, cast, settings, steps_kind
):
    job = jobs.start(
        db,
        "test_steps",
        params={"organization_id": cast.org_a.id},
        user=cast.lead_a,
        settings=_queued_settings(settings),
    )
    login(client, cast.lead_a.email)
    page = client.get(f"/jobs/{job.id}")
    assert page.status_code == 200
    html = page.text
    # the bar has a text equivalent and points at the live status line that announces each change
    assert (
        '<progress id="job-progress" max="100" value="0" aria-describedby="job-message"'
        ' aria-valuetext="Waiting for a worker (0%)">'
    ) in html
    assert 'id="job-message" role="status" aria-live="polite" aria-atomic="true"' in html
    assert '<label for="job-progress"' in html and 'role="status"' in html
    assert f'data-job-url="/jobs/{job.id}.json"' in html and 'data-job-finished="false"' in html
    assert '<script src="/static/jobs.js" defer></script>' in html
    assert not INLINE_SCRIPT.search(html) and " style=" not in html
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in html
    assert "Waiting to start" in html and ">Waiting for a worker</p>" in html
    assert f'action="/jobs/{job.id}/cancel"' in html

    state = client.get(f"/jobs/{job.id}.json").json()
    assert state["status"] == "queued" and state["finished"] is False
    assert state["progress"] == {"done": 0, "total": 3, "percent": 0, "message": "Waiting for a worker"}
    assert state["download_url"] is None and "result_path" not in state and "params" not in state
    assert client.get("/static/jobs.js").status_code == 200

    download = client.get(f"/jobs/{job.id}/download")
    assert download.status_code == 409 and "no file to download yet" in download.text


def test_a_finished_report_job_downloads_from_the_page(client, db, engine, cast, settings):
    assessment = small_assessment(db, cast.org_a)
    job = jobs.start(
        db, "report", params={"assessment_id": assessment.id}, user=cast.lead_a, settings=settings
    )
    assert job.status == JobStatus.done, job.error
    login(client, cast.consultant_a.email)  # not the starter, same agency
    html = client.get(f"/jobs/{job.id}").text
    assert "noscript" not in html and 'data-job-finished="true"' in html
    assert f'href="/jobs/{job.id}/download"' in html and f'href="/jobs/{job.id}/download?paper=a4"' in html
    letter = client.get(f"/jobs/{job.id}/download")
    assert letter.status_code == 200 and letter.content.startswith(b"%PDF")
    assert letter.headers["content-type"] == "application/pdf"
    assert 'attachment; filename="peerready-' in letter.headers["content-disposition"]
    assert letter.headers["cache-control"] == "no-store"
    a4 = client.get(f"/jobs/{job.id}/download?paper=a4")
    assert a4.status_code == 200 and a4.content.startswith(b"%PDF") and a4.content != letter.content
    assert client.get(f"/jobs/{job.id}/download?paper=a3").status_code == 422
    audit = db.exec(select(AuditEvent).where(AuditEvent.action == "report.export")).all()
    assert [(a.target, a.detail.get("paper")) for a in audit] == [
        (f"job:{job.id}", None),
        (f"job:{job.id}", "a4"),
    ]
    assert client.get(f"/jobs/{job.id}.json").json()["download_url"] == f"/jobs/{job.id}/download"


def test_cancel_and_retry_from_the_page(client, db, engine, cast, settings, steps_kind):
    job = jobs.start(
        db,
        "test_steps",
        params={"organization_id": cast.org_a.id},
        user=cast.lead_a,
        settings=_queued_settings(settings),
    )
    token = login(client, cast.lead_a.email)
    cancelled = client.post(f"/jobs/{job.id}/cancel", data={"csrf_token": token}, follow_redirects=False)
    assert cancelled.status_code == 303 and cancelled.headers["location"] == f"/jobs/{job.id}"
    assert reload(engine, job.id).status == JobStatus.cancelled
    again = client.post(f"/jobs/{job.id}/cancel", data={"csrf_token": token})
    assert again.status_code == 409 and "nothing to cancel" in again.text
    page = client.get(f"/jobs/{job.id}").text
    assert f'action="/jobs/{job.id}/retry"' in page and "Cancelled" in page

    retried = client.post(f"/jobs/{job.id}/retry", data={"csrf_token": token}, follow_redirects=False)
    assert retried.status_code == 303  # immediate mode: it ran in the request
    assert reload(engine, job.id).status == JobStatus.done
    assert client.post(f"/jobs/{job.id}/retry", data={"csrf_token": token}).status_code == 409
    assert client.post(f"/jobs/{job.id}/cancel", data={}).status_code == 403  # no CSRF token


def test_a_failed_job_shows_its_error_and_a_retry_button(client, db, engine, cast, settings, steps_kind):
    steps_kind.fail_times = 1
    job = jobs.start(
        db, "test_steps", params={"organization_id": cast.org_a.id}, user=cast.lead_a, settings=settings
    )
    login(client, cast.lead_a.email)
    html = client.get(f"/jobs/{job.id}").text
    assert "Failed" in html and "RuntimeError: disk on fire (run 1)" in html
    retry_form = re.search(r'<form id="job-retry"[^>]*>', html)
    assert retry_form and f'action="/jobs/{job.id}/retry"' in retry_form.group(0)
    assert "hidden" not in retry_form.group(0)
    assert client.get(f"/jobs/{job.id}.json").json()["error"].startswith("Failed after 1 attempt(s)")


def test_refusals_are_clear_and_reveal_nothing(client, db, engine, cast, settings, steps_kind):
    job = jobs.start(
        db, "test_steps", params={"organization_id": cast.org_a.id}, user=cast.lead_a, settings=settings
    )
    assert client.get(f"/jobs/{job.id}", follow_redirects=False).status_code == 303  # sign in first
    login(client, cast.lead_b.email)
    for url in (f"/jobs/{job.id}", f"/jobs/{job.id}/download", "/jobs/999999", f"/jobs/{2**40}"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "Alder" not in response.text and "Traceback" not in response.text
    as_json = client.get(f"/jobs/{job.id}.json", headers={"Accept": "application/json"})
    assert as_json.status_code == 404 and as_json.json() == {"detail": "No such job."}
    for url in ("/jobs/abc", "/jobs/abc.json", "/jobs/-1", "/jobs/1%00"):
        assert client.get(url).status_code in (400, 404, 422), url  # a NUL is refused at the input boundary
    login(client, cast.funder_p.email)
    assert client.get(f"/jobs/{job.id}").status_code == 403
