"""Evidence pages and downloads: the research file of one cycle (`/assessments/{id}/research.xlsx`
and `research.zip`), ICC(1)/ICC(2) across a portfolio's sites (`/portfolio/{id}/reliability`,
funders and admins) and alpha per instrument version (`/psychometrics`, admins and consultants).
Who may see what is decided in `app.services.evidence`; the figures in `app.scoring.evidence`."""

from __future__ import annotations

import io
import zipfile
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from app.db.models import Role
from app.i18n import lazy_gettext
from app.portfolio import wording
from app.scoring.agreement import MIN_SITES_FOR_ICC
from app.scoring.numbers import format_index
from app.scoring.research import research_csv, research_xlsx
from app.services.evidence import (
    ResearchExport,
    portfolio_iccs,
    psychometrics_for,
    question_download,
    research_download,
    used_instruments,
)
from app.services.results_language import index_reading
from app.web.deps import CurrentUser, SessionDep, SettingsDep, require_roles
from app.web.templating import page_locale, render

router = APIRouter()
_authors = require_roles(Role.admin, Role.consultant)

NO_STORE = "private, no-store"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _name(export: ResearchExport, suffix: str) -> str:
    return f"peerready-research-{export.table.instrument_id}-assessment-{export.assessment.id}.{suffix}"


@router.get("/assessments/{assessment_id}/research.xlsx", include_in_schema=False)
def research_workbook(
    session: SessionDep, user: CurrentUser, settings: SettingsDep, assessment_id: int
) -> Response:
    export = research_download(
        session, user=user, assessment_id=assessment_id, privacy_threshold=settings.privacy_threshold
    )
    return Response(
        content=research_xlsx(export.table, export.instrument),
        media_type=XLSX,
        headers={
            "Content-Disposition": f'attachment; filename="{_name(export, "xlsx")}"',
            "Cache-Control": NO_STORE,
        },
    )


@router.get("/assessments/{assessment_id}/research.zip", include_in_schema=False)
def research_csv_zip(
    session: SessionDep, user: CurrentUser, settings: SettingsDep, assessment_id: int
) -> Response:
    export = research_download(
        session, user=user, assessment_id=assessment_id, privacy_threshold=settings.privacy_threshold
    )
    responses, codebook, notes = research_csv(export.table, export.instrument)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("responses.csv", responses)
        archive.writestr("codebook.csv", codebook)
        archive.writestr("notes.csv", notes)
    return Response(
        content=buffer.getvalue(),
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{_name(export, "zip")}"',
            "Cache-Control": NO_STORE,
        },
    )


@router.get("/assessments/{assessment_id}/questions.{fmt}", include_in_schema=False)
def question_table(
    session: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    assessment_id: int,
    fmt: Literal["csv", "xlsx"],
) -> Response:
    body, filename = question_download(
        session, user=user, assessment_id=assessment_id, privacy_threshold=settings.privacy_threshold, fmt=fmt
    )
    media = "text/csv; charset=utf-8" if fmt == "csv" else XLSX
    return Response(
        content=body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": NO_STORE},
    )


@router.get("/portfolio/{portfolio_id}/reliability", include_in_schema=False)
def portfolio_reliability(
    request: Request, session: SessionDep, user: CurrentUser, settings: SettingsDep, portfolio_id: int
):
    portfolio, tables = portfolio_iccs(
        session,
        user=user,
        portfolio_id=portfolio_id,
        privacy_threshold=settings.privacy_threshold,
        lang=page_locale(request),
    )
    return render(
        request,
        "portfolio/reliability.html",
        portfolio=portfolio,
        tables=tables,
        min_sites=MIN_SITES_FOR_ICC,
        privacy_threshold=settings.privacy_threshold,
        icc_reading=wording.icc_reading,  # the English readings, in the page's language
        breadcrumbs=[
            (lazy_gettext("Portfolios"), "/portfolio"),
            (portfolio.name, f"/portfolio/{portfolio.id}"),
            (lazy_gettext("Do sites differ?"), None),
        ],
    )


@router.get("/psychometrics", include_in_schema=False)
def psychometrics_index(request: Request, session: SessionDep, user: CurrentUser):
    _authors(user)
    return render(
        request,
        "evidence/psychometrics_index.html",
        instruments=used_instruments(session, lang=page_locale(request)),
        breadcrumbs=[(lazy_gettext("Instrument reliability"), None)],
    )


@router.get("/psychometrics/{instrument_id}", include_in_schema=False)
def psychometrics_page(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    instrument_id: Annotated[str, Path(max_length=64)],
):
    versions = psychometrics_for(session, user=user, instrument_id=instrument_id, lang=page_locale(request))
    return render(
        request,
        "evidence/psychometrics.html",
        instrument_id=instrument_id,
        versions=versions,
        # the readings are written again in the page's language (app.services.results_language)
        index_reading=index_reading,
        format_index=format_index,
        breadcrumbs=[(lazy_gettext("Instrument reliability"), "/psychometrics"), (instrument_id, None)],
    )
