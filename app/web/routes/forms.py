"""The questions before anyone answers them: a preview of an instrument as each respondent group
sees it (from "Start a cycle" and from a cycle's page), the printable paper form of a group (PDF)
and the blank CSV template for typing in paper answers (docs/csv-layout.md).

Nothing here creates a response or stores anything. Org leads, consultants and admins only; a
cycle's forms only for those who may see that cycle."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app import i18n
from app.errors import BadInput, NotFound
from app.i18n import gettext as _
from app.i18n import lazy_gettext
from app.instruments import catalog
from app.instruments.models import Instrument, text
from app.instruments.outline import outline
from app.reports.paper import PaperForm, paper_filename, render_paper_pdf
from app.scoring.csv_responses import blank_template
from app.services import access, instruments_store
from app.services import assessments as assessments_service
from app.web.deps import CurrentUser, SessionDep, SettingsDep
from app.web.routes.respond import offered_languages
from app.web.templating import page_locale, render

router = APIRouter()


def _group(instrument: Instrument, group: str | None, request: Request) -> str:
    if not group:
        return instrument.groups[0].id
    if not instrument.has_group(group):
        with i18n.use_locale(page_locale(request)):
            raise BadInput(_("Choose a respondent group from the list."))
    return group


def paper_language(instrument: Instrument, asked: str | None, user) -> str:
    """The paper form's language: `?lang=`, else the language chosen in the account, when the
    instrument has it (its questions are printed in the same language as the instructions); else
    the instrument's own first language."""
    offered = offered_languages(instrument)
    return i18n.negotiate([asked, getattr(user, "language", None)], offered) or offered[0]


def _attachment(body: bytes, media_type: str, filename: str) -> Response:
    return Response(
        content=body,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/instruments/{instrument_id}/preview", include_in_schema=False)
def preview_instrument(
    instrument_id: str,
    request: Request,
    user: CurrentUser,
    settings: SettingsDep,
    group: str | None = Query(None, max_length=64),
):
    access.require_org_role(user)
    loaded = catalog.find_instrument(instrument_id, settings.instruments_dir)
    if loaded is None:
        with i18n.use_locale(page_locale(request)):
            raise NotFound(_("No such instrument."))
    instrument = loaded.instrument
    chosen = _group(instrument, group, request)
    with i18n.use_locale(page_locale(request)) as lang:
        title = _("Preview: %(instrument)s") % {"instrument": text(instrument.title, lang)}
    return render(
        request,
        "forms/preview.html",
        instrument=instrument,
        outline=outline(instrument, chosen),
        group=instrument.group_by_id(chosen),
        base_path=f"/instruments/{instrument.id}/preview",
        assessment=None,
        breadcrumbs=[
            (lazy_gettext("Assessments"), "/assessments"),
            (lazy_gettext("Start a cycle"), "/assessments/new"),
            (title, None),
        ],
    )


@router.get("/assessments/{assessment_id}/preview", include_in_schema=False)
def preview_cycle(
    assessment_id: int,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    group: str | None = Query(None, max_length=64),
):
    assessment = access.get_assessment(session, user=user, assessment_id=assessment_id)
    organization = assessments_service.organization_of(session, assessment=assessment)
    instrument = instruments_store.instrument_for(session, assessment)
    chosen = _group(instrument, group, request)
    return render(
        request,
        "forms/preview.html",
        instrument=instrument,
        outline=outline(instrument, chosen),
        group=instrument.group_by_id(chosen),
        base_path=f"/assessments/{assessment.id}/preview",
        assessment=assessment,
        breadcrumbs=[
            (lazy_gettext("Assessments"), "/assessments"),
            (f"{organization.name}: {assessment.name}", f"/assessments/{assessment.id}"),
            (lazy_gettext("Preview and paper forms"), None),
        ],
    )


@router.get("/assessments/{assessment_id}/paper.pdf", include_in_schema=False)
def paper_form(
    assessment_id: int,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    group: str | None = Query(None, max_length=64),
    paper: Literal["letter", "a4"] = Query("letter"),
    lang: str | None = Query(None, max_length=35),
) -> Response:
    assessment = access.get_assessment(session, user=user, assessment_id=assessment_id)
    organization = assessments_service.organization_of(session, assessment=assessment)
    instrument = instruments_store.instrument_for(session, assessment)
    form = PaperForm(
        outline=outline(instrument, _group(instrument, group, request)),
        cycle=assessment.name,
        organization=organization.name,
        paper=paper,
        lang=paper_language(instrument, lang, user),
    )
    return _attachment(render_paper_pdf(form), "application/pdf", paper_filename(form))


@router.get("/assessments/{assessment_id}/paper-template.csv", include_in_schema=False)
def paper_template(
    assessment_id: int,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    group: str | None = Query(None, max_length=64),
) -> Response:
    assessment = access.get_assessment(session, user=user, assessment_id=assessment_id)
    instrument = instruments_store.instrument_for(session, assessment)
    chosen = _group(instrument, group, request) if group else None
    name = f"peerready-responses-{instrument.id}-{chosen or 'all-groups'}.csv".replace("_", "-")
    # A byte-order mark, so that spreadsheet programs open the file as UTF-8.
    body = ("\ufeff" + blank_template(instrument, chosen)).encode("utf-8")
    return _attachment(body, "text/csv; charset=utf-8", name)
