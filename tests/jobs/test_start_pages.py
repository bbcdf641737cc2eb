"""Starting the long work from the pages: the consultant's zip of client reports and the funder's
portfolio PDF run as jobs, with the job page showing progress and the download when done."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.db.models import Job, JobStatus
from app.jobs.queue import get_queue
from app.web.main import create_app
from tests.helpers.auth import sign_in_as
from tests.helpers.html import parse
from tests.jobs.conftest import small_assessment, worker_settings


def test_consultant_zip_of_client_reports_runs_as_a_job(client, db, engine, cast):
    small_assessment(db, cast.org_a, name="Spring")
    newest = small_assessment(db, cast.org_a, name="Autumn")
    token = sign_in_as(client, cast.consultant_a)
    page = parse(client.get("/consultant").text)
    assert page.has("form#reports-zip button")

    started = client.post(
        "/consultant/reports.zip", data={"csrf_token": token, "paper": "a4"}, follow_redirects=False
    )
    assert started.status_code == 303 and started.headers["location"].startswith("/jobs/")
    job_page = parse(client.get(started.headers["location"]).text)
    assert job_page.text("#job-status") == "Done"
    download = client.get(job_page.one("#job-download-link").get("href"))
    names = zipfile.ZipFile(io.BytesIO(download.content)).namelist()
    assert len(names) == 1 and names[0].startswith(f"{newest.id}-")  # the newest cycle of each client

    # Funders never get agencies' action-plan reports, not even as a zip.
    funder_token = sign_in_as(client, cast.funder_p)
    refused = client.post(
        "/consultant/reports.zip", data={"csrf_token": funder_token}, follow_redirects=False
    )
    assert refused.status_code == 403
    with Session(engine) as session:
        assert len(session.exec(select(Job)).all()) == 1


def test_portfolio_pdf_is_a_job_with_progress_on_the_real_queue(db, engine, cast, queue_data_dir: Path):
    small_assessment(db, cast.org_a)
    settings = worker_settings(engine, queue_data_dir)
    with TestClient(create_app(settings=settings, engine=engine)) as client:
        sign_in_as(client, cast.funder_p)
        url = f"/portfolio/{cast.portfolio_p.id}/report.pdf"
        started = client.get(url, follow_redirects=False)
        assert started.status_code == 303
        job_url = started.headers["location"]
        waiting = parse(client.get(job_url).text)
        assert waiting.text("#job-status") == "Waiting to start"
        assert client.get(url, follow_redirects=False).headers["location"] == job_url  # joined

        get_queue(settings, engine).run_burst()
        state = client.get(job_url + ".json").json()
        assert state["status"] == JobStatus.done and state["progress"]["percent"] == 100
        pdf = client.get(state["download_url"])
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
