"""Consultant workspace: client overview, commentary on a cycle, and CSV import of paper responses
(preview first, then confirm)."""

from __future__ import annotations

from typing import Annotated, Literal

from babel.support import LazyProxy
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse

from app import i18n
from app.errors import BadInput, TooLarge
from app.i18n import gettext as _
from app.i18n import lazy_gettext
from app.services import access, commentary, imports, instruments_store, jobs
from app.services.workspace import client_overview, require_workspace_role
from app.web.deps import CurrentUser, SessionDep, SettingsDep
from app.web.templating import page_locale, render

router = APIRouter(prefix="/consultant", include_in_schema=False)


def _cycle_crumbs(assessment, organization, last: str | LazyProxy) -> list:
    return [
        (lazy_gettext("Clients"), "/consultant"),
        (f"{organization.name}: {assessment.name}", f"/assessments/{assessment.id}/results"),
        (last, None),
    ]


@router.get("")
def workspace(request: Request, session: SessionDep, user: CurrentUser):
    clients = client_overview(session, user=user)
    return render(
        request, "consultant/index.html", clients=clients, breadcrumbs=[(lazy_gettext("Clients"), None)]
    )


@router.post("/reports.zip")
def reports_zip(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    paper: Annotated[Literal["letter", "a4"], Form()] = "letter",
):
    """A zip of the newest cycle's report of every client agency, made by a background job
    (progress, cancel and the download on the job page). Consultants and admins only: funders
    get the portfolio PDF, never agencies' action-plan reports."""
    require_workspace_role(user)
    clients = client_overview(session, user=user)
    ids = [client.cycles[0].assessment.id for client in clients if client.cycles]
    if not ids:
        with i18n.use_locale(page_locale(request)):
            raise BadInput(_("None of your client agencies has an assessment cycle yet."))
    job = jobs.start(
        session, "report_batch", params={"assessment_ids": ids, "paper": paper}, user=user, settings=settings
    )
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


# --- commentary ---------------------------------------------------------------------------------


@router.get("/assessments/{assessment_id}/commentary")
def commentary_form(
    request: Request, session: SessionDep, user: CurrentUser, assessment_id: int, saved: int = 0
):
    require_workspace_role(user)
    assessment, current = commentary.get_commentary(session, user=user, assessment_id=assessment_id)
    organization = access.get_organization(session, user=user, organization_id=assessment.organization_id)
    return render(
        request,
        "consultant/commentary.html",
        assessment=assessment,
        organization=organization,
        commentary=current,
        text=current.text if current else "",
        max_chars=commentary.MAX_COMMENTARY_CHARS,
        flashes=[
            (
                "ok",
                lazy_gettext(
                    "Commentary saved. It will appear on the results page and in this cycle's PDF report."
                ),
            )
        ]
        if saved
        else [],
        breadcrumbs=_cycle_crumbs(assessment, organization, lazy_gettext("Commentary")),
    )


@router.post("/assessments/{assessment_id}/commentary")
def commentary_save(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    assessment_id: int,
    text: Annotated[str, Form(max_length=commentary.MAX_COMMENTARY_CHARS + 2_000)] = "",
):
    require_workspace_role(user)
    with i18n.use_locale(page_locale(request)):  # its errors in the page's language
        commentary.save_commentary(session, user=user, assessment_id=assessment_id, text=text)
    return RedirectResponse(f"/consultant/assessments/{assessment_id}/commentary?saved=1", status_code=303)


# --- CSV import ---------------------------------------------------------------------------------


def _import_page(request: Request, session, user, assessment_id: int, **context):
    require_workspace_role(user)
    assessment = access.get_assessment(session, user=user, assessment_id=assessment_id)
    organization = access.get_organization(session, user=user, organization_id=assessment.organization_id)
    instrument = instruments_store.instrument_for(session, assessment)
    return render(
        request,
        "consultant/import.html",
        assessment=assessment,
        organization=organization,
        instrument=instrument,
        breadcrumbs=_cycle_crumbs(assessment, organization, lazy_gettext("Import paper responses")),
        **context,
    )


@router.get("/assessments/{assessment_id}/import")
def import_form(request: Request, session: SessionDep, user: CurrentUser, assessment_id: int):
    return _import_page(request, session, user, assessment_id, preview=None, result=None)


@router.post("/assessments/{assessment_id}/import/preview")
async def import_preview(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    assessment_id: int,
    file: Annotated[UploadFile, File()],
    settings: SettingsDep,
):
    require_workspace_role(user)
    content = await file.read(imports.MAX_IMPORT_BYTES + 1)
    # The file's problems are listed in the page's language (the CLI prints them in English).
    with i18n.use_locale(page_locale(request)):
        if len(content) > imports.MAX_IMPORT_BYTES:
            raise TooLarge(
                _("The file is larger than %(num)s kB.") % {"num": imports.MAX_IMPORT_BYTES // 1000}
            )
        if not content.strip():
            raise BadInput(_("Choose a CSV file to upload; the file was empty."))
        preview = imports.preview_import(
            session,
            user=user,
            assessment_id=assessment_id,
            content=content,
            filename=file.filename or "upload.csv",
            data_dir=settings.data_dir,
        )
    status = 200 if preview.ok else 422
    return _import_page(
        request, session, user, assessment_id, preview=preview, result=None, status_code=status
    )


@router.post("/assessments/{assessment_id}/import/confirm")
def import_confirm(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    assessment_id: int,
    import_id: Annotated[str, Form(max_length=64)],
    settings: SettingsDep,
):
    require_workspace_role(user)
    with i18n.use_locale(page_locale(request)):
        result = imports.confirm_import(
            session,
            user=user,
            assessment_id=assessment_id,
            import_id=import_id,
            data_dir=settings.data_dir,
            privacy_threshold=settings.privacy_threshold,
        )
    return _import_page(request, session, user, assessment_id, preview=None, result=result)
