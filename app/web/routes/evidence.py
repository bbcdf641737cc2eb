"""Evidence downloads: the research file of one cycle (`GET /assessments/{id}/research.xlsx` and
`research.zip`, the CSV with its codebook). Who may download it, and when, is decided in
`app.services.evidence.research_download`; what is in it in `app.scoring.research`."""

from __future__ import annotations

import io
import zipfile

from fastapi import APIRouter
from fastapi.responses import Response

from app.scoring.research import research_csv, research_xlsx
from app.services.evidence import ResearchExport, research_download
from app.web.deps import CurrentUser, SessionDep, SettingsDep

router = APIRouter()

NO_STORE = "private, no-store"


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
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
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
