"""Background job pages: `/jobs/{id}` (status and progress, updates itself), `/jobs/{id}.json`
(what the page polls), `/jobs/{id}/download` (the finished file), and cancel / retry.

Who may see a job is decided in app.jobs.service.check_access (app.services.access underneath):
admins, people who may see the organization or portfolio it concerns, and for a job spanning
organizations the person who started it. Starting jobs is up to the pages that offer the work.
"""

from __future__ import annotations

from typing import Literal

from babel.support import LazyProxy
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse

from app.i18n import gettext, lazy_gettext
from app.services import job_store, jobs
from app.web.deps import CurrentUser, SessionDep
from app.web.templating import render

router = APIRouter()

STATUS_LABELS = {
    "queued": lazy_gettext("Waiting to start"),
    "running": lazy_gettext("Running"),
    "done": lazy_gettext("Done"),
    "failed": lazy_gettext("Failed"),
    "cancelled": lazy_gettext("Cancelled"),
}


# Registered before /jobs/{job_id}, which would otherwise take "12.json" as its id.
@router.get("/jobs/{job_id}.json", include_in_schema=False)
def job_json(session: SessionDep, user: CurrentUser, job_id: int) -> JSONResponse:
    job = jobs.get(session, job_id, user=user)
    return JSONResponse(jobs.as_dict(job), headers={"Cache-Control": "no-store"})


@router.get("/jobs/{job_id}", include_in_schema=False)
def job_page(request: Request, session: SessionDep, user: CurrentUser, job_id: int):
    job = jobs.get(session, job_id, user=user)
    starter = job_store.starter(session, job)
    return render(
        request,
        "jobs/job.html",
        job=job,
        state=jobs.as_dict(job),
        status_labels=STATUS_LABELS,
        starter=starter.name if starter else None,
        breadcrumbs=[
            (lazy_gettext("Background jobs"), None),
            (LazyProxy(lambda: gettext("Job %(id)s") % {"id": job.id}, enable_cache=False), None),
        ],
    )


@router.get("/jobs/{job_id}/download", include_in_schema=False)
def job_download(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    job_id: int,
    paper: Literal["letter", "a4"] | None = Query(None),
) -> FileResponse:
    path, filename, media_type = jobs.result_file(
        session, job_id, user=user, settings=request.app.state.settings, paper=paper
    )
    return FileResponse(
        path,
        media_type=media_type,
        filename=filename,
        headers={"Cache-Control": "private, no-store"},
    )


@router.post("/jobs/{job_id}/cancel", include_in_schema=False)
def job_cancel(session: SessionDep, user: CurrentUser, job_id: int) -> RedirectResponse:
    job = jobs.cancel(session, job_id, user=user)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.post("/jobs/{job_id}/retry", include_in_schema=False)
def job_retry(request: Request, session: SessionDep, user: CurrentUser, job_id: int) -> RedirectResponse:
    job = jobs.retry(session, job_id, user=user, settings=request.app.state.settings)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)
