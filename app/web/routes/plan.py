"""The action plan of an organization: proposals from the latest results, people's own actions,
owner / due date / status / notes. Every edit is audited (app.services.plan)."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from app import i18n
from app.db.models import PlanStatus
from app.errors import BadInput
from app.i18n import gettext as _
from app.i18n import lazy_gettext
from app.services import access, instruments_store
from app.services import assessments as assessments_service
from app.services import plan as plan_service
from app.web.deps import CurrentUser, SessionDep
from app.web.routes.assessments import parse_date
from app.web.templating import page_locale, render

router = APIRouter()

_FLASHES = {
    "saved": lazy_gettext("Saved."),
    "added": lazy_gettext("Your action is added to the plan."),
    "accepted": lazy_gettext("Accepted: the action is now part of your plan."),
    "dismissed": lazy_gettext("Dismissed. You can bring it back by changing its status."),
}


def _status(value: str) -> PlanStatus:
    try:
        return PlanStatus(value)
    except ValueError as exc:
        raise BadInput(_("Choose a status from the list.")) from exc


@router.get("/plan", include_in_schema=False)
def my_plan(request: Request, session: SessionDep, user: CurrentUser):
    """The nav's "Action plan": straight to the plan when the user has one organization."""
    organizations = assessments_service.organizations_for(session, user=user)
    if len(organizations) == 1:
        return RedirectResponse(f"/organizations/{organizations[0].id}/plan", status_code=303)
    return render(
        request,
        "plan/choose.html",
        organizations=organizations,
        breadcrumbs=[(lazy_gettext("Action plans"), None)],
    )


@router.get("/organizations/{organization_id}/plan", include_in_schema=False)
def plan_page(organization_id: int, request: Request, session: SessionDep, user: CurrentUser):
    organization = access.get_organization(session, user=user, organization_id=organization_id)
    latest = plan_service.latest_scored_assessment(session, organization_id=organization.id)
    instrument = None
    changes = None
    if latest is not None:
        plan_service.sync_recommendations(session, assessment=latest)
        instrument = instruments_store.instrument_for(session, latest)
        changes = plan_service.changes_since_previous(session, assessment=latest)
    open_cycle = plan_service.open_cycle_after(session, organization_id=organization.id, latest=latest)
    items = plan_service.plan_items(session, organization_id=organization.id)
    # Titles in every language the instrument has; the page writes them in its own (`|t`).
    domain_titles = {d.id: d.title for d in instrument.domains} if instrument is not None else {}
    flash = request.query_params.get("done")
    # The confirmation sits on the item that changed (the page scrolls there), not at the top.
    flash_item = request.query_params.get("item", "")
    item_flash = (int(flash_item), _FLASHES[flash]) if flash in _FLASHES and flash_item.isdigit() else None
    return render(
        request,
        "plan/plan.html",
        organization=organization,
        latest=latest,
        open_cycle=open_cycle,
        instrument=instrument,
        changes=changes,
        items=items,
        domain_titles=domain_titles,
        statuses=plan_service.STATUS_LABELS,
        breadcrumbs=[
            (lazy_gettext("Assessments"), "/assessments"),
            (_plan_crumb(request, organization.name), None),
        ],
        item_flash=item_flash,
        flashes=[("ok", _FLASHES[flash])] if flash in _FLASHES and item_flash is None else [],
    )


def _plan_crumb(request: Request, organization: str) -> str:
    with i18n.use_locale(page_locale(request)):
        return _("%(organization)s: action plan") % {"organization": organization}


@router.post("/organizations/{organization_id}/plan/items/{item_id}", include_in_schema=False)
def update_item(
    organization_id: int,
    item_id: int,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    status: str = Form(max_length=20),
    owner: str = Form("", max_length=500),
    due_date: str = Form("", max_length=20),
    notes: str = Form("", max_length=10000),
):
    organization = access.get_organization(session, user=user, organization_id=organization_id)
    with i18n.use_locale(page_locale(request)):  # form errors in the page's language
        plan_service.update_item(
            session,
            user=user,
            organization_id=organization.id,
            item_id=item_id,
            status=_status(status),
            owner=owner,
            due_date=parse_date(due_date, _("due date")),
            notes=notes,
        )
    return RedirectResponse(
        f"/organizations/{organization.id}/plan?done=saved&item={item_id}#item-{item_id}", status_code=303
    )


@router.post("/organizations/{organization_id}/plan/items/{item_id}/status", include_in_schema=False)
def quick_status(
    organization_id: int,
    item_id: int,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    status: str = Form(max_length=20),
):
    """Accept or dismiss a proposal with one button."""
    organization = access.get_organization(session, user=user, organization_id=organization_id)
    with i18n.use_locale(page_locale(request)):
        new_status = _status(status)
        plan_service.set_status(
            session, user=user, organization_id=organization.id, item_id=item_id, status=new_status
        )
    flash = {"accepted": "accepted", "dismissed": "dismissed"}.get(new_status.value, "saved")
    return RedirectResponse(
        f"/organizations/{organization.id}/plan?done={flash}&item={item_id}#item-{item_id}", status_code=303
    )


@router.post("/organizations/{organization_id}/plan/items", include_in_schema=False)
def add_item(
    organization_id: int,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    title: str = Form("", max_length=1000),
    domain_id: str = Form("", max_length=64),
    owner: str = Form("", max_length=500),
    due_date: str = Form("", max_length=20),
    notes: str = Form("", max_length=10000),
):
    organization = access.get_organization(session, user=user, organization_id=organization_id)
    latest = plan_service.latest_scored_assessment(session, organization_id=organization.id)
    instrument = instruments_store.instrument_for(session, latest) if latest else None
    with i18n.use_locale(page_locale(request)):
        item = plan_service.add_custom_item(
            session,
            user=user,
            organization_id=organization.id,
            title=title,
            domain_id=domain_id or None,
            instrument=instrument,
            owner=owner,
            due_date=parse_date(due_date, _("due date")),
            notes=notes,
        )
    return RedirectResponse(
        f"/organizations/{organization.id}/plan?done=added&item={item.id}#item-{item.id}", status_code=303
    )
