"""The action-plan PDF of one assessment: `GET /assessments/{id}/report.pdf[?paper=a4][&lang=es]`.

Org leads, consultants and admins of the assessment's organization only (funders never: the
report holds comments and the plan). Every export is written to the audit log.

No request renders a PDF: a `report` job renders it into the content-keyed cache (started when
what the report shows changes, app/services/report_prepare.py), and the download reads the file.
When the file of the current content is not there yet, this starts (or joins) that job and
answers 202 with a "being prepared" page that updates itself and then offers the download.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response

from app import i18n
from app.db.models import JobStatus
from app.services import job_store, jobs
from app.services.report_prepare import REPORT_KIND
from app.services.reports import cached_report_for_download
from app.web.deps import CurrentUser, SessionDep, SettingsDep
from app.web.routes.jobs import STATUS_LABELS
from app.web.templating import render

router = APIRouter()


@router.get("/assessments/{assessment_id}/report.pdf", include_in_schema=False)
def download_report(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    assessment_id: int,
    paper: Literal["letter", "a4"] = Query("letter"),
    lang: Literal["en", "es"] | None = Query(None),
) -> Response:
    # Without ?lang=, the language the user chose in their account (else the instrument's).
    lang = lang or i18n.normalize(getattr(user, "language", None))  # type: ignore[assignment]

    def lookup():
        return cached_report_for_download(
            session,
            user=user,
            assessment_id=assessment_id,
            paper=paper,
            cache_dir=settings.report_cache_dir,
            lang=lang,
        )

    download = lookup()
    if download.path is None:
        # Access was checked by the lookup; the job is PeerReady's own, seen by whoever may see
        # the organization. Both papers, as the job started after a change: the two join.
        job = jobs.start(
            session,
            REPORT_KIND,
            params={"assessment_id": download.assessment_id, **({"lang": lang} if lang else {})},
            user=None,
            settings=settings,
        )
        if job.status == JobStatus.done:  # the immediate queue ran it already
            download = lookup()
        if download.path is None:
            query = "&".join(
                part for part in ("paper=a4" if paper == "a4" else "", f"lang={lang}" if lang else "") if part
            )
            here = f"/assessments/{download.assessment_id}/report.pdf" + (f"?{query}" if query else "")
            starter = job_store.starter(session, job)
            page = render(
                request,
                "jobs/job.html",
                status_code=202,
                job=job,
                state=jobs.as_dict(job),
                status_labels=STATUS_LABELS,
                starter=starter.name if starter else None,
                then_url=here,
                breadcrumbs=[
                    (i18n.lazy_gettext("Results"), f"/assessments/{download.assessment_id}/results"),
                    (i18n.lazy_gettext("Report being prepared"), None),
                ],
            )
            page.headers["Cache-Control"] = "no-store"
            page.headers["Retry-After"] = "2"
            return page
    return FileResponse(
        download.path,
        media_type="application/pdf",
        filename=download.filename,
        headers={"Cache-Control": "private, no-store"},
    )
