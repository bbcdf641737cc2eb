"""Email pages: a cycle's invitations by email and its send log (lead, consultant, admin), the
personal link and its opt-out page (respondents), and the outbox (administrators)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from babel.support import LazyProxy
from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse

from app import i18n
from app.errors import BadInput
from app.i18n import gettext as _
from app.i18n import lazy_gettext, ngettext
from app.services import access, email_invitations, instruments_store, jobs, mail
from app.services import assessments as assessments_service
from app.web.deps import CurrentUser, SessionDep, SettingsDep, require_admin
from app.web.templating import page_locale, render

router = APIRouter()
admin_router = APIRouter(prefix="/admin", dependencies=[Depends(require_admin)])

STATUS_LABELS = {
    "queued": lazy_gettext("Waiting to be sent"),
    "sending": lazy_gettext("Being sent"),
    "sent": lazy_gettext("Sent"),
    "failed": lazy_gettext("Failed"),
    "opted_out": lazy_gettext("Opted out"),
    "bounced": lazy_gettext("Bounced"),
}
_DONE = {
    "resent": lazy_gettext("The invitation will be sent again now."),
    "bounced": lazy_gettext(
        "Marked as bounced: nothing more is sent to this address unless you send it again."
    ),
    "schedule": lazy_gettext("The reminder schedule is saved."),
}


def parse_send_at(value: str | None) -> datetime | None:
    """An ISO date and time; without an offset it is read as UTC (the form says so)."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadInput(_("The send time is not a date and time (use YYYY-MM-DD HH:MM).")) from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _page(request, session, settings, assessment, *, status_code: int = 200, **extra):
    organization = assessments_service.organization_of(session, assessment=assessment)
    instrument = instruments_store.instrument_for(session, assessment)
    rows = email_invitations.send_log(session, assessment_id=assessment.id)
    context = {
        "assessment": assessment,
        "organization": organization,
        "instrument": instrument,
        "rows": rows,
        "counts": email_invitations.count_by_status(rows),
        "not_submitted": sum(1 for r in rows if not r.submitted),
        "schedule": email_invitations.schedule_of(session, assessment_id=assessment.id),
        "status_labels": STATUS_LABELS,
        "languages": email_invitations.LANGUAGES,
        "max_reminders": email_invitations.MAX_REMINDERS,
        "accepting": assessments_service.is_accepting_answers(assessment),
        "outbox_mode": not settings.smtp_host,
        "values": {},
        "breadcrumbs": [
            (lazy_gettext("Assessments"), "/assessments"),
            (f"{organization.name}: {assessment.name}", f"/assessments/{assessment.id}"),
            (lazy_gettext("Email invitations"), None),
        ],
        **extra,
    }
    response = render(request, "assessments/email.html", status_code=status_code, **context)
    response.headers["cache-control"] = "no-store"
    return response


@router.get("/assessments/{assessment_id}/email", include_in_schema=False)
def email_page(
    assessment_id: int, request: Request, session: SessionDep, user: CurrentUser, settings: SettingsDep
):
    assessment = access.get_assessment(session, user=user, assessment_id=assessment_id)
    flashes: list[tuple[str, str | LazyProxy]] = []
    if (done := request.query_params.get("done")) in _DONE:
        flashes.append(("ok", _DONE[done]))
    if (added := request.query_params.get("added", "")).isdigit():
        with i18n.use_locale(page_locale(request)):
            flashes.append(
                (
                    "ok",
                    ngettext(
                        "%(num)s person added. Their invitations go out at the chosen time.",
                        "%(num)s people added. Their invitations go out at the chosen time.",
                        int(added),
                    )
                    % {"num": int(added)},
                )
            )
    return _page(request, session, settings, assessment, flashes=flashes)


@router.post("/assessments/{assessment_id}/email", include_in_schema=False)
def invite(
    assessment_id: int,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    group: Annotated[str, Form(max_length=64)] = "",
    addresses: Annotated[str, Form(max_length=200_000)] = "",
    language: Annotated[str, Form(max_length=16)] = "en",
    send_at: Annotated[str, Form(max_length=40)] = "",
    address_file: Annotated[UploadFile | None, File()] = None,
):
    assessment = access.get_assessment(session, user=user, assessment_id=assessment_id)
    instrument = instruments_store.instrument_for(session, assessment)
    values = {"group": group, "addresses": addresses, "language": language, "send_at": send_at}
    try:
        # Form errors in the page's language (the service's messages too).
        with i18n.use_locale(page_locale(request)):
            parsed = email_invitations.parse_pasted(addresses)
            if address_file is not None and address_file.filename:
                from_file = email_invitations.parse_csv(
                    address_file.file.read(email_invitations.MAX_CSV_BYTES + 1)
                )
                parsed.addresses += from_file.addresses
                parsed.invalid += from_file.invalid
            result = email_invitations.add_recipients(
                session,
                actor=user,
                assessment=assessment,
                instrument=instrument,
                group=group,
                parsed=parsed,
                send_at=parse_send_at(send_at),
                language=language,
                secret_key=settings.secret_key,
            )
        if result.due_now:
            jobs.start_after_commit(
                session, "email", params={"assessment_id": assessment.id}, user=None, settings=settings
            )
        session.commit()
    except BadInput as exc:
        session.rollback()
        return _page(
            request, session, settings, assessment, status_code=400, error=exc.message, values=values
        )
    with i18n.use_locale(page_locale(request)):
        flashes = [("ok", _added_message(result))]
    return _page(request, session, settings, assessment, flashes=flashes, problems=result.invalid)


def _added_message(result: email_invitations.AddResult) -> str:
    """In the current language (the caller sets the page's)."""
    parts = [ngettext("%(num)s person added", "%(num)s people added", result.added) % {"num": result.added}]
    if result.already_listed:
        parts.append(_("%(num)s already on the list") % {"num": result.already_listed})
    if result.opted_out:
        parts.append(_("%(num)s left out because they opted out") % {"num": result.opted_out})
    if result.invalid:
        parts.append(_("%(num)s not understood (listed below)") % {"num": len(result.invalid)})
    when = " " + _("Their invitations are being sent now.") if result.due_now else ""
    return "; ".join(parts) + "." + when


@router.post("/assessments/{assessment_id}/email/schedule", include_in_schema=False)
def save_schedule(
    assessment_id: int,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    reminder_days: Annotated[str, Form(max_length=6)] = "",
    max_reminders: Annotated[str, Form(max_length=6)] = "",
):
    assessment = access.get_assessment(session, user=user, assessment_id=assessment_id)
    try:
        with i18n.use_locale(page_locale(request)):
            days = _whole(reminder_days, _("number of days"))
            count = _whole(max_reminders, _("number of reminders"))
            email_invitations.set_schedule(
                session, actor=user, assessment=assessment, reminder_days=days, max_reminders=count
            )
    except BadInput as exc:
        session.rollback()
        return _page(request, session, settings, assessment, status_code=400, schedule_error=exc.message)
    return RedirectResponse(f"/assessments/{assessment.id}/email?done=schedule", status_code=303)


def _whole(value: str, what: str) -> int:
    value = value.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 4:
        raise BadInput(_("The %(what)s must be a whole number.") % {"what": what})
    return int(value)


@router.post("/assessments/{assessment_id}/email/{recipient_id}/resend", include_in_schema=False)
def resend(
    assessment_id: int, recipient_id: int, session: SessionDep, user: CurrentUser, settings: SettingsDep
):
    assessment = access.get_assessment(session, user=user, assessment_id=assessment_id)
    email_invitations.resend(session, actor=user, assessment=assessment, recipient_id=recipient_id)
    jobs.start_after_commit(
        session, "email", params={"assessment_id": assessment.id}, user=None, settings=settings
    )
    session.commit()
    return RedirectResponse(f"/assessments/{assessment.id}/email?done=resent", status_code=303)


@router.post("/assessments/{assessment_id}/email/{recipient_id}/bounced", include_in_schema=False)
def bounced(assessment_id: int, recipient_id: int, session: SessionDep, user: CurrentUser):
    assessment = access.get_assessment(session, user=user, assessment_id=assessment_id)
    email_invitations.mark_bounced(session, actor=user, assessment=assessment, recipient_id=recipient_id)
    return RedirectResponse(f"/assessments/{assessment.id}/email?done=bounced", status_code=303)


# --- respondents ------------------------------------------------------------------------------


def _no_store(response):
    response.headers["cache-control"] = "no-store"
    return response


@router.get("/i/{token}", include_in_schema=False)
def open_link(token: str, request: Request, session: SessionDep):
    personal = email_invitations.open_personal_link(session, token=token, client_ip=_client_ip(request))
    return _no_store(RedirectResponse(f"/respond/{personal}", status_code=303))


@router.get("/i/{token}/opt-out", include_in_schema=False)
def opt_out_page(token: str, request: Request, session: SessionDep):
    view = email_invitations.opt_out_view(session, token=token, client_ip=_client_ip(request))
    return _no_store(render(request, "respond/opt_out.html", token=token, view=view, done=False))


@router.post("/i/{token}/opt-out", include_in_schema=False)
def opt_out(token: str, request: Request, session: SessionDep):
    """The page's button, and one-click unsubscribe from mail programs (RFC 8058)."""
    view = email_invitations.opt_out(session, token=token, client_ip=_client_ip(request))
    return _no_store(render(request, "respond/opt_out.html", token=token, view=view, done=True))


# --- administrators: the outbox ------------------------------------------------------------------


@admin_router.get("/outbox", include_in_schema=False)
def outbox(request: Request, session: SessionDep, settings: SettingsDep):
    return render(
        request,
        "admin/outbox.html",
        messages=mail.outbox(session),
        outbox_mode=not settings.smtp_host,
        breadcrumbs=[("Administration", "/admin"), ("Email outbox", None)],
    )


@admin_router.get("/outbox/{message_id}", include_in_schema=False)
def outbox_message(message_id: int, request: Request, session: SessionDep):
    message = mail.outbox_message(session, message_id=message_id)
    return _no_store(
        render(
            request,
            "admin/outbox_message.html",
            message=message,
            breadcrumbs=[
                ("Administration", "/admin"),
                ("Email outbox", "/admin/outbox"),
                (message.subject, None),
            ],
        )
    )
