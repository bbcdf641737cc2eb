"""Org-lead pages: the cycles of one's organizations, starting a cycle, invitation links,
response status (never individual answers) and live results."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time
from pathlib import Path

from babel.support import LazyProxy
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app import i18n
from app.config import Settings
from app.db.models import AssessmentStatus, Organization, Role, User
from app.disclosure.view import more_needed_text
from app.errors import BadInput, NotFound
from app.i18n import gettext as _
from app.i18n import lazy_gettext
from app.instruments import catalog
from app.services import access, instruments_store, invitations, releases, results_language, scores
from app.services import assessments as assessments_service
from app.services import commentary as commentary_service
from app.services import evidence as evidence_service
from app.services import imports as imports_service
from app.services import plan as plan_service
from app.web.deps import CurrentUser, SessionDep, SettingsDep
from app.web.templating import page_locale, render

router = APIRouter()


def parse_date(value: str | None, what: str) -> date | None:
    """`what` names the field in a sentence, in the current language (the caller translates it)."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise BadInput(_("The %(what)s is not a date (use YYYY-MM-DD).") % {"what": what}) from exc


def parse_int(value: str | None, what: str) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    # isascii: "²" and other Unicode digits pass isdigit() but int() refuses them (a 500).
    if not (value.isascii() and value.isdigit()) or len(value) > 6:
        raise BadInput(_("The %(what)s must be a whole number.") % {"what": what})
    return int(value)


@router.get("/assessments", include_in_schema=False)
def list_page(request: Request, session: SessionDep, user: CurrentUser):
    rows = assessments_service.list_assessments(session, user=user)
    organizations = assessments_service.organizations_for(session, user=user)
    return render(
        request,
        "assessments/list.html",
        rows=rows,
        organizations=organizations,
        breadcrumbs=[(lazy_gettext("Assessments"), None)],
    )


def _problem_lines(user: User, offered: catalog.FolderScan) -> list[str]:
    """Files the catalog cannot offer, for the people who can get them fixed: `file:line: path:
    message [code]` as `peerready validate` prints it, with the file named inside the folder."""
    if user.role not in (Role.admin, Role.org_lead):
        return []
    return [
        str(dataclasses.replace(error, file=Path(error.file).name))
        for problem in offered.problems
        for error in problem.errors
    ]


def _new_form_context(session, user, settings: Settings, **extra) -> dict:
    organizations = assessments_service.organizations_for(session, user=user)
    previous = {
        o.id: assessments_service.assessments_of(session, organization_id=o.id) for o in organizations
    }
    offered = catalog.scan_folder(settings.instruments_dir)
    return {
        "organizations": organizations,
        "previous": previous,
        "instruments": offered.instruments,
        "instrument_problems": _problem_lines(user, offered),
        # The server's folder means something to an administrator only.
        "instruments_folder": settings.instruments_dir if user.role == Role.admin else None,
        "breadcrumbs": [(lazy_gettext("Assessments"), "/assessments"), (lazy_gettext("Start a cycle"), None)],
        "values": {},
        **extra,
    }


@router.get("/assessments/new", include_in_schema=False)
def new_page(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    organization_id: int | None = None,
):
    access.require_org_role(user)
    context = _new_form_context(session, user, settings)
    context["values"] = {"organization_id": organization_id}
    return render(request, "assessments/new.html", **context)


@router.post("/assessments", include_in_schema=False)
def create(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    organization_id: int = Form(),
    name: str = Form("", max_length=500),
    instrument_id: str = Form("", max_length=64),
    close_date: str = Form("", max_length=20),
    expected_respondents: str = Form("", max_length=10),
    previous: str = Form(assessments_service.LATEST, max_length=20),
):
    values = {
        "organization_id": organization_id,
        "name": name,
        "instrument_id": instrument_id,
        "close_date": close_date,
        "expected_respondents": expected_respondents,
        "previous": previous,
    }
    try:
        # Form errors in the page's language (the services' messages too).
        with i18n.use_locale(page_locale(request)):
            assessment = assessments_service.create_assessment(
                session,
                user=user,
                organization_id=organization_id,
                name=name,
                instrument_id=instrument_id,
                close_date=parse_date(close_date, _("close date")),
                expected_respondents=parse_int(expected_respondents, _("number of expected respondents")),
                previous=None if previous == "none" else previous,
                instruments_dir=settings.instruments_dir,
            )
    except BadInput as exc:
        session.rollback()
        context = _new_form_context(session, user, settings, values=values, error=exc.message)
        return render(request, "assessments/new.html", status_code=400, **context)
    return RedirectResponse(f"/assessments/{assessment.id}/invitations?created=1", status_code=303)


def _crumbs(assessment, organization: Organization, page: str | LazyProxy | None = None) -> list:
    crumbs = [
        (lazy_gettext("Assessments"), "/assessments"),
        (f"{organization.name}: {assessment.name}", f"/assessments/{assessment.id}" if page else None),
    ]
    if page:
        crumbs.append((page, None))
    return crumbs


@router.get("/assessments/{assessment_id}", include_in_schema=False)
def detail(
    assessment_id: int, request: Request, session: SessionDep, user: CurrentUser, settings: SettingsDep
):
    assessment = access.get_assessment(session, user=user, assessment_id=assessment_id)
    organization = assessments_service.organization_of(session, assessment=assessment)
    instrument = instruments_store.instrument_for(session, assessment)
    counts = assessments_service.response_counts(session, assessment_id=assessment.id)
    previous = assessments_service.previous_of(session, assessment=assessment)
    return render(
        request,
        "assessments/detail.html",
        assessment=assessment,
        organization=organization,
        instrument=instrument,
        counts=counts,
        previous=previous,
        threshold=settings.privacy_threshold,
        import_batches=_import_batches(request, session, assessment, instrument),
        may_decide_imports=user.role in (Role.org_lead, Role.admin),
        accepting=assessments_service.is_accepting_answers(assessment),
        breadcrumbs=_crumbs(assessment, organization),
        flashes=[("ok", _DONE_MESSAGES[done])]
        if (done := request.query_params.get("done")) in _DONE_MESSAGES
        else [],
    )


def _import_batches(request: Request, session, assessment, instrument) -> list:
    with i18n.use_locale(page_locale(request)):  # the group labels in the page's language
        return imports_service.import_batches(session, assessment=assessment, instrument=instrument)


_DONE_MESSAGES = {
    "closed": lazy_gettext("The cycle is closed. No more answers can be given."),
    "import_approve": lazy_gettext("The import is approved: its responses now count."),
    "import_reject": lazy_gettext("The import is rejected: its responses will not count."),
    "open": lazy_gettext("The cycle is open again."),
}


@router.post("/assessments/{assessment_id}/imports/{batch_id}", include_in_schema=False)
def decide_import(
    assessment_id: int,
    batch_id: int,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    decision: str = Form(max_length=10),
):
    assessment = access.get_assessment(session, user=user, assessment_id=assessment_id)
    with i18n.use_locale(page_locale(request)):
        if decision not in ("approve", "reject"):
            raise BadInput(_("Choose approve or reject."))
        imports_service.decide_import(
            session,
            user=user,
            assessment=assessment,
            batch_id=batch_id,
            approve=decision == "approve",
            privacy_threshold=settings.privacy_threshold,
        )
    return RedirectResponse(f"/assessments/{assessment.id}?done=import_{decision}", status_code=303)


@router.post("/assessments/{assessment_id}/status", include_in_schema=False)
def change_status(
    assessment_id: int,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    status: str = Form(max_length=10),
    confirm: str = Form("", max_length=10),
):
    assessment = access.get_assessment(session, user=user, assessment_id=assessment_id)
    with i18n.use_locale(page_locale(request)):
        if status not in ("open", "closed"):
            raise BadInput(_("Choose open or closed."))
        # Closing ends answering for everyone, and answers still in progress never count.
        if status == "closed" and assessment.status != AssessmentStatus.closed and confirm != "yes":
            raise BadInput(
                _("Tick the box to confirm that you want to close the cycle, then press the button again.")
            )
        assessments_service.set_status(
            session,
            user=user,
            assessment=assessment,
            status=AssessmentStatus(status),
            privacy_threshold=settings.privacy_threshold,
        )
    return RedirectResponse(f"/assessments/{assessment.id}?done={status}", status_code=303)


def _invitations_page(request, session, user, assessment, status_code=200, **extra):
    organization = assessments_service.organization_of(session, assessment=assessment)
    instrument = instruments_store.instrument_for(session, assessment)
    rows = [
        (invitation, count, invitations.invitation_state(invitation))
        for invitation, count in invitations.list_invitations(session, assessment_id=assessment.id)
    ]
    response = render(
        request,
        "assessments/invitations.html",
        status_code=status_code,
        assessment=assessment,
        organization=organization,
        instrument=instrument,
        rows=rows,
        base_url=str(request.base_url).rstrip("/"),
        breadcrumbs=_crumbs(assessment, organization, lazy_gettext("Invitation links")),
        **extra,
    )
    response.headers["cache-control"] = "no-store"
    return response


# A new link's address travels from the POST to the page it redirects to in a signed, short-lived
# cookie scoped to that page (post/redirect/get: reloading the page cannot create a second link).
# It is read once and deleted, so the address is still shown only once; it is never in a URL.
NEW_LINK_COOKIE = "peerready_new_link"
NEW_LINK_MAX_AGE = 300


def _new_link_signer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="peerready.new-invitation-link")


def _invitations_path(assessment_id: int) -> str:
    return f"/assessments/{assessment_id}/invitations"


@router.get("/assessments/{assessment_id}/invitations", include_in_schema=False)
def invitations_page(
    assessment_id: int, request: Request, session: SessionDep, user: CurrentUser, settings: SettingsDep
):
    assessment = access.get_assessment(session, user=user, assessment_id=assessment_id)
    new_invitation, new_token = None, None
    carried = request.cookies.get(NEW_LINK_COOKIE)
    if carried:
        try:
            invitation_id, token = _new_link_signer(settings).loads(carried, max_age=NEW_LINK_MAX_AGE)
            candidate = invitations.get_invitation(
                session, assessment=assessment, invitation_id=int(invitation_id)
            )
            if invitations.same_token(str(token), candidate.token_hash):
                new_invitation, new_token = candidate, str(token)
        except (BadSignature, NotFound, ValueError, TypeError):
            pass  # expired, tampered with or for another cycle: show the page without it
    flashes = []
    if request.query_params.get("created"):
        flashes.append(
            (
                "ok",
                lazy_gettext(
                    "The cycle is started. Now create a link for each group of people you want to ask."
                ),
            )
        )
    if request.query_params.get("revoked"):
        flashes.append(
            ("ok", lazy_gettext("The link is switched off. Responses already started from it are kept."))
        )
    if request.query_params.get("restored"):
        flashes.append(("ok", lazy_gettext("The link is switched back on: the same address works again.")))
    response = _invitations_page(
        request,
        session,
        user,
        assessment,
        flashes=flashes,
        new_invitation=new_invitation,
        new_token=new_token,
    )
    if carried:
        response.delete_cookie(NEW_LINK_COOKIE, path=_invitations_path(assessment.id))
    return response


@router.post("/assessments/{assessment_id}/invitations", include_in_schema=False)
def create_invitation(
    assessment_id: int,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    group: str = Form("", max_length=64),
    label: str = Form("", max_length=500),
    expires_on: str = Form("", max_length=20),
    kiosk: str = Form("", max_length=10),
):
    assessment = access.get_assessment(session, user=user, assessment_id=assessment_id)
    instrument = instruments_store.instrument_for(session, assessment)
    try:
        with i18n.use_locale(page_locale(request)):
            expiry = parse_date(expires_on, _("expiry date"))
            invitation, token = invitations.create_invitation(
                session,
                user=user,
                assessment=assessment,
                instrument=instrument,
                group=group,
                label=label,
                expires_at=datetime.combine(expiry, time(23, 59, 59), tzinfo=UTC) if expiry else None,
                kiosk=kiosk == "yes",
            )
    except BadInput as exc:
        session.rollback()
        return _invitations_page(
            request,
            session,
            user,
            assessment,
            status_code=400,
            error=exc.message,
            values={"group": group, "label": label, "expires_on": expires_on, "kiosk": kiosk == "yes"},
        )
    # Shown once, on the page this redirects to: the token is never stored and never in a URL.
    response = RedirectResponse(_invitations_path(assessment.id) + "#new-link", status_code=303)
    response.set_cookie(
        NEW_LINK_COOKIE,
        _new_link_signer(settings).dumps([invitation.id, token]),
        max_age=NEW_LINK_MAX_AGE,
        path=_invitations_path(assessment.id),
        httponly=True,
        samesite="strict",
        secure=settings.base_url.startswith("https://"),
    )
    return response


@router.post("/assessments/{assessment_id}/invitations/{invitation_id}/revoke", include_in_schema=False)
def revoke_invitation(assessment_id: int, invitation_id: int, session: SessionDep, user: CurrentUser):
    assessment = access.get_assessment(session, user=user, assessment_id=assessment_id)
    invitations.revoke_invitation(session, user=user, assessment=assessment, invitation_id=invitation_id)
    return RedirectResponse(f"/assessments/{assessment.id}/invitations?revoked=1", status_code=303)


@router.post("/assessments/{assessment_id}/invitations/{invitation_id}/restore", include_in_schema=False)
def restore_invitation(assessment_id: int, invitation_id: int, session: SessionDep, user: CurrentUser):
    assessment = access.get_assessment(session, user=user, assessment_id=assessment_id)
    invitations.restore_invitation(session, user=user, assessment=assessment, invitation_id=invitation_id)
    return RedirectResponse(f"/assessments/{assessment.id}/invitations?restored=1", status_code=303)


@router.get("/assessments/{assessment_id}/results", include_in_schema=False)
def results(
    assessment_id: int, request: Request, session: SessionDep, user: CurrentUser, settings: SettingsDep
):
    assessment = access.get_assessment(session, user=user, assessment_id=assessment_id)
    organization = assessments_service.organization_of(session, assessment=assessment)
    instrument = instruments_store.instrument_for(session, assessment)
    releases.ensure_released(session, assessment=assessment, privacy_threshold=settings.privacy_threshold)
    released = releases.released_scorecard(session, assessment_id=assessment.id)
    counts = assessments_service.response_counts(session, assessment_id=assessment.id)
    state = releases.release_state(
        session, assessment=assessment, privacy_threshold=settings.privacy_threshold
    )
    context: dict = {
        "assessment": assessment,
        "organization": organization,
        "instrument": instrument,
        "counts": counts,
        "state": state,
        "threshold": settings.privacy_threshold,
        "counting_rule": scores.COUNTING_RULE,
        "breadcrumbs": _crumbs(assessment, organization, lazy_gettext("Results")),
    }
    if released is None:
        # An open cycle shows progress only: results appear when the cycle closes.
        return render(request, "assessments/progress.html", **context)
    scorecard, release = released
    # The instrument's words in the page's language (English where the instrument has no
    # translation), as the PDF report writes them; the figures are the stored ones.
    lang = page_locale(request)
    comments = scores.comments_for_results(release.comments)
    changes = plan_service.changes_since_previous(session, assessment=assessment)
    with i18n.use_locale(lang):  # the words written while the rows are built
        questions = evidence_service.question_rows(
            session,
            assessment=assessment,
            instrument=instrument,
            scorecard=scorecard,
            lang=lang,
            released_members=release.members,
        )
        shown = results_language.scorecard_in_language(scorecard, instrument, lang)
        comments = results_language.comments_in_language(comments, instrument, lang)
        changes = results_language.changes_in_language(changes, instrument, lang)
    return render(
        request,
        "assessments/results.html",
        scorecard=shown,
        release=release,
        comments=comments,
        changes=changes,
        more_needed=more_needed_text,
        agreement_label=results_language.agreement_label,
        index_reading=results_language.index_reading,
        commentary=commentary_service.commentary_text(session, assessment_id=assessment.id),
        research_sharing=organization.research_sharing,
        agreement=evidence_service.agreement_rows(
            session,
            assessment=assessment,
            instrument=instrument,
            scorecard=scorecard,
            released_members=release.members,
            lang=lang,
        ),
        questions={c.domain_id: c for c in questions},
        **context,
    )


@router.get("/assessments/{assessment_id}/plan", include_in_schema=False)
def plan_redirect(assessment_id: int, session: SessionDep, user: CurrentUser):
    assessment = access.get_assessment(session, user=user, assessment_id=assessment_id)
    return RedirectResponse(f"/organizations/{assessment.organization_id}/plan", status_code=303)
