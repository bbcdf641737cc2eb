"""The action-plan PDF of one assessment: `GET /assessments/{id}/report.pdf[?paper=a4][&lang=es]`.

Org leads, consultants and admins of the assessment's organization only (funders never: the
report holds comments and the plan). Every export is written to the audit log. Repeat downloads
of an unchanged report come from the content-keyed cache under data_dir/report-cache.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from app.services.reports import report_pdf_for_download
from app.web.deps import CurrentUser, SessionDep, SettingsDep

router = APIRouter()


@router.get("/assessments/{assessment_id}/report.pdf", include_in_schema=False)
def download_report(
    session: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    assessment_id: int,
    paper: Literal["letter", "a4"] = Query("letter"),
    lang: Literal["en", "es"] | None = Query(None),
) -> Response:
    """`lang`: the report's language (default: the instrument's first language)."""
    body, filename = report_pdf_for_download(
        session,
        user=user,
        assessment_id=assessment_id,
        paper=paper,
        cache_dir=settings.report_cache_dir,
        lang=lang,
    )
    return Response(
        content=body,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )
