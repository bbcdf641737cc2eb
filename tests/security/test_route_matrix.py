"""Every route of the app × every role × own and other organization: the status each SHOULD get,
and nothing a role may not see in any body.

MATRIX below has one entry per "METHOD /path" of the app (walked from `app.routes`). A route
without an entry fails `test_every_route_has_a_matrix_entry`: adding a route means adding one
line here with the status each role should get. The roles are relative to the organization the
URL points at ("own" side): the same table is checked with URLs pointing at org A and at org B.

    anonymous         no session
    respondent        no account; has opened its own invitation link (token routes use it)
    admin
    consultant        consultant of the URL's organization;  consultant_other: of the other one
    org_lead          org lead of the URL's organization;     org_lead_other:   of the other one
    funder            funder whose portfolio holds the URL's organization; funder_other: the other

Besides the status, every response must carry the security headers, show no traceback, and
contain none of the markers its viewer may not see (another organization's name or comment text;
for funders, respondents and anonymous visitors any comment text at all).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.db.models import (
    ImportBatch,
    Invitation,
    Membership,
    Organization,
    PortfolioMembership,
    PortfolioSite,
    Role,
    User,
    utcnow,
)
from app.services import invitations as invitations_service
from app.services import responses as responses_service
from tests.helpers.auth import make_user, sign_in_as
from tests.security.conftest import Side, World

ROLES = (
    "anonymous",
    "respondent",
    "admin",
    "consultant",
    "consultant_other",
    "org_lead",
    "org_lead_other",
    "funder",
    "funder_other",
)
SIDES = ("A", "B")
LOGIN = 303  # HTML pages send anonymous visitors to /login
_numbers = itertools.count(1)


# --- how to express what each role should get -----------------------------------------------


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


def signed_in(status: int, *, anonymous: int = LOGIN) -> dict[str, int]:
    return {**everyone(status), "anonymous": anonymous, "respondent": anonymous}


def admin_only(status: int = 200) -> dict[str, int]:
    return {**signed_in(403), "admin": status}


def org_scoped(status: int = 200, *, funder: int = 403, **overrides: int) -> dict[str, int]:
    """Organization data: its members and admins; members of another organization get 404 (ids do
    not reveal what exists); funders never open organization pages."""
    table = {
        **signed_in(status),
        "consultant_other": 404,
        "org_lead_other": 404,
        "funder": funder,
        "funder_other": funder,
    }
    table.update(overrides)
    return table


def portfolio_scoped(status: int = 200, *, anonymous: int = LOGIN) -> dict[str, int]:
    """Funder aggregates: the portfolio's funders and admins; other funders 404; organization roles 403."""
    return {
        **signed_in(403, anonymous=anonymous),
        "admin": status,
        "funder": status,
        "funder_other": 404,
    }


@dataclass
class Ctx:
    """What a request needs: the world, the side the URL points at, a database session."""

    world: World
    side: Side
    other: Side
    db: Session
    scratch: dict[str, Any] = field(default_factory=dict)
    app: Any = None


@dataclass
class Rule:
    expect: dict[str, int]
    # Form fields (callable gets Ctx), JSON body, or files for the request; csrf_token is added.
    data: dict[str, Any] | Callable[[Ctx], dict[str, Any]] | None = None
    json: dict[str, Any] | None = None
    files: Callable[[Ctx], dict[str, Any]] | None = None
    # Path parameters beyond the defaults (callable may create fresh rows for this one request).
    params: Callable[[Ctx], dict[str, Any]] | None = None
    query: str = ""
    # Token routes: the viewer is whoever holds the link, so bodies are checked as the respondent's.
    token_route: bool = False
    notes: str = ""


# --- fresh rows for routes that consume what they act on ------------------------------------


def _fresh_personal_token(ctx: Ctx) -> dict[str, Any]:
    """A new respondent of the side's invitation, so submitting one does not change the next call."""
    _, personal, _ = responses_service.start_or_resume(
        ctx.db, token=ctx.side.invitation_token, remembered=None, client_ip="matrix-setup"
    )
    ctx.db.commit()
    return {"token": personal}


def _fresh_import_batch(ctx: Ctx) -> dict[str, Any]:
    """A pending paper import of the side's cycle, so each allowed caller decides a new one."""
    batch = ImportBatch(assessment_id=ctx.side.assessment_id, n_rows=0, by_group={})
    ctx.db.add(batch)
    ctx.db.commit()
    return {"batch_id": batch.id}


def _fresh_invitation(ctx: Ctx) -> dict[str, Any]:
    token = invitations_service.new_token()
    invitation = Invitation(
        assessment_id=ctx.side.assessment_id,
        group="clinical",
        token_hash=invitations_service.hash_token(token),
    )
    ctx.db.add(invitation)
    ctx.db.commit()
    return {"invitation_id": invitation.id}


def _switched_off_invitation(ctx: Ctx) -> dict[str, Any]:
    params = _fresh_invitation(ctx)
    invitation = ctx.db.get(Invitation, params["invitation_id"])
    invitation.revoked_at = utcnow()
    ctx.db.add(invitation)
    ctx.db.commit()
    return params


def _spare_user(ctx: Ctx, role: Role = Role.consultant) -> User:
    return make_user(ctx.db, role=role, email=f"spare-{next(_numbers)}@example.org")


def _fresh_site(ctx: Ctx) -> dict[str, Any]:
    organization = Organization(name=f"Spare agency {next(_numbers)}")
    ctx.db.add(organization)
    ctx.db.flush()
    site = PortfolioSite(portfolio_id=ctx.side.portfolio_id, organization_id=organization.id)
    ctx.db.add(site)
    ctx.db.commit()
    return {"site_id": site.id}


def _fresh_membership(ctx: Ctx) -> dict[str, Any]:
    user = _spare_user(ctx)
    ctx.db.add(Membership(user_id=user.id, organization_id=ctx.side.organization_id))
    ctx.db.commit()
    return {"user_id": user.id}


def _fresh_portfolio_membership(ctx: Ctx) -> dict[str, Any]:
    user = _spare_user(ctx, Role.funder)
    ctx.db.add(PortfolioMembership(user_id=user.id, portfolio_id=ctx.side.portfolio_id))
    ctx.db.commit()
    return {"user_id": user.id}


def _sharing_on(ctx: Ctx) -> dict[str, Any]:
    organization = ctx.db.get(Organization, ctx.side.organization_id)
    organization.research_sharing = True
    ctx.db.add(organization)
    ctx.db.commit()
    return {}


def _fresh_job(ctx: Ctx, status: str = "running", *, with_file: bool = False) -> dict[str, Any]:
    """A report job of the side's organization, started by its lead, in the given state."""
    from app.db.models import Job

    side = ctx.side
    lead = ctx.world.cast.lead_a if side is ctx.world.a else ctx.world.cast.lead_b
    job = Job(
        kind="report",
        status=status,
        title=f"Report PDFs for {side.markers['organization']}",
        params={"assessment_id": side.assessment_id, "papers": ["letter"]},
        created_by_id=lead.id,
        organization_id=side.organization_id,
        error="It broke." if status == "failed" else None,
    )
    ctx.db.add(job)
    ctx.db.commit()
    if with_file:
        folder = ctx.app.state.settings.data_dir / "jobs" / str(job.id)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "report.pdf").write_bytes(b"%PDF-1.7 matrix")
        job.result_path = f"jobs/{job.id}/report.pdf"
        job.result_filename = "report.pdf"
        job.result_media_type = "application/pdf"
        ctx.db.add(job)
        ctx.db.commit()
    return {"job_id": job.id}


def _fresh_recipient(ctx: Ctx) -> dict[str, Any]:
    """A person invited by email to the side's cycle (their link's token too)."""
    from app.db.models import EmailRecipient
    from app.services import email_invitations

    secret = ctx.app.state.settings.secret_key
    nonce = f"matrix-nonce-{next(_numbers)}"
    token = email_invitations.link_token(nonce, secret_key=secret)
    recipient = EmailRecipient(
        assessment_id=ctx.side.assessment_id,
        group="clinical",
        email=f"invited-{next(_numbers)}@example.org",
        email_hash=email_invitations.address_hash(f"invited-{next(_numbers)}", secret_key=secret),
        link_nonce=nonce,
        token_hash=invitations_service.hash_token(token),
        status="sent",
    )
    ctx.db.add(recipient)
    ctx.db.commit()
    return {"recipient_id": recipient.id, "token": token}


def _fresh_outbox_message(ctx: Ctx) -> dict[str, Any]:
    from app.db.models import EmailMessage

    message = EmailMessage(
        kind="invitation", to_address="someone@example.org", subject="Hello", status="outbox"
    )
    ctx.db.add(message)
    ctx.db.commit()
    return {"message_id": message.id}


def _fresh_reset(ctx: Ctx) -> dict[str, Any]:
    """A working password-reset link of a spare account (each use spends one)."""
    from app.db.models import PasswordReset
    from app.services import password_resets

    nonce = f"matrix-reset-{next(_numbers)}"
    reset = PasswordReset(
        user_id=_spare_user(ctx).id,
        link_nonce=nonce,
        token_hash=invitations_service.hash_token(
            password_resets.reset_token(nonce, secret_key=ctx.app.state.settings.secret_key)
        ),
        expires_at=utcnow() + timedelta(hours=1),
    )
    ctx.db.add(reset)
    ctx.db.commit()
    return {"token": password_resets.reset_token(nonce, secret_key=ctx.app.state.settings.secret_key)}


def _unique(prefix: str) -> str:
    return f"{prefix} {next(_numbers)}"


def _csv_file(ctx: Ctx) -> dict[str, Any]:
    return {"file": ("paper.csv", b"group,pps_status\npeer_staff,employ\n", "text/csv")}


# --- THE MATRIX: one entry per route ----------------------------------------------------------

MATRIX: dict[str, Rule] = {
    # Framework and public routes
    "GET /api/openapi.json": Rule(everyone(200)),
    "GET /api/docs": Rule(everyone(200)),
    "GET /static": Rule(everyone(200), notes="the mount; requested as /static/app.css"),
    "GET /healthz": Rule(everyone(200)),
    "GET /": Rule(signed_in(303, anonymous=303)),  # everyone is sent to their start page
    # Accounts
    "GET /login": Rule({**everyone(303), "anonymous": 200, "respondent": 200}),
    "POST /login": Rule(everyone(400), data={"email": "nobody@example.org", "password": "wrong password"}),
    "POST /logout": Rule(everyone(303)),
    "GET /account/password": Rule(signed_in(200)),
    "POST /account/password": Rule(
        signed_in(400),
        data={"current_password": "not-the-password", "new_password": "x" * 12, "repeat_password": "x" * 12},
    ),
    "POST /account/language": Rule(signed_in(303), data={"language": "es"}),
    # Administration
    "GET /admin": Rule(admin_only()),
    "GET /admin/organizations": Rule(admin_only()),
    "POST /admin/organizations": Rule(admin_only(303), data=lambda ctx: {"name": _unique("New agency")}),
    "GET /admin/organizations/{organization_id}": Rule(admin_only()),
    "POST /admin/organizations/{organization_id}": Rule(
        admin_only(303),
        data=lambda ctx: {
            "name": ctx.side.markers["organization"],
            "region": "North" if ctx.side is ctx.world.a else "South",
            "cohort": "2027" if ctx.side is ctx.world.a else "2026",
        },
    ),
    "POST /admin/organizations/{organization_id}/research-sharing": Rule(
        admin_only(303), data={"enabled": "on"}
    ),
    "GET /admin/portfolios": Rule(admin_only()),
    "POST /admin/portfolios": Rule(admin_only(303), data=lambda ctx: {"name": _unique("New portfolio")}),
    "GET /admin/portfolios/{portfolio_id}": Rule(admin_only()),
    "POST /admin/portfolios/{portfolio_id}": Rule(
        admin_only(303),
        data=lambda ctx: {"name": "Portfolio P" if ctx.side is ctx.world.a else "Portfolio Q"},
    ),
    "POST /admin/portfolios/{portfolio_id}/sites": Rule(
        admin_only(303),
        data=lambda ctx: {"organization_id": _fresh_site_org(ctx)},
    ),
    "POST /admin/portfolios/{portfolio_id}/sites/{site_id}": Rule(
        admin_only(303),
        data={"region": "North", "cohort": "2027"},
        params=_fresh_site,
    ),
    "POST /admin/portfolios/{portfolio_id}/sites/{site_id}/remove": Rule(admin_only(303), params=_fresh_site),
    "GET /admin/users": Rule(admin_only()),
    "POST /admin/users": Rule(
        admin_only(303),
        data=lambda ctx: {
            "email": f"new-{next(_numbers)}@example.org",
            "name": "New person",
            "role": "org_lead",
            "temporary_password": "temporary-password-1",
        },
    ),
    "GET /admin/users/{user_id}": Rule(admin_only()),
    "POST /admin/users/{user_id}": Rule(
        admin_only(303),
        data=lambda ctx: {
            "email": ctx.db.get(User, ctx.scratch["user_id"]).email,
            "name": "Spare",
            "role": "consultant",
            "is_active": "true",
        },
        params=lambda ctx: {"user_id": _remember_spare(ctx)},
    ),
    "POST /admin/users/{user_id}/sessions/end": Rule(
        admin_only(303), params=lambda ctx: {"user_id": _spare_user(ctx).id}
    ),
    "POST /admin/users/{user_id}/password": Rule(
        admin_only(303),
        data={"temporary_password": "temporary-password-2"},
        params=lambda ctx: {"user_id": _spare_user(ctx).id},
    ),
    "POST /admin/users/{user_id}/memberships": Rule(
        admin_only(303),
        data=lambda ctx: {"organization_id": ctx.side.organization_id},
        params=lambda ctx: {"user_id": _spare_user(ctx).id},
    ),
    "POST /admin/users/{user_id}/memberships/{organization_id}/remove": Rule(
        admin_only(303),
        params=_fresh_membership,
    ),
    "POST /admin/users/{user_id}/portfolios": Rule(
        admin_only(303),
        data=lambda ctx: {"portfolio_id": ctx.side.portfolio_id},
        params=lambda ctx: {"user_id": _spare_user(ctx, Role.funder).id},
    ),
    "POST /admin/users/{user_id}/portfolios/{portfolio_id}/remove": Rule(
        admin_only(303),
        params=_fresh_portfolio_membership,
    ),
    "GET /admin/audit": Rule(admin_only()),
    # Assessment cycles, invitations, results (org leads, consultants, admins of the organization)
    "GET /assessments": Rule(org_scoped(consultant_other=200, org_lead_other=200)),
    "GET /assessments/new": Rule(org_scoped(consultant_other=200, org_lead_other=200)),
    "POST /assessments": Rule(
        org_scoped(303),
        data=lambda ctx: {
            "organization_id": ctx.side.organization_id,
            "name": _unique("Follow-up"),
            "instrument_id": "quick_check",
        },
    ),
    "GET /assessments/{assessment_id}": Rule(org_scoped()),
    "POST /assessments/{assessment_id}/status": Rule(org_scoped(303), data={"status": "open"}),
    # Only the agency's lead (or an admin) approves a paper import (docs/privacy.md)
    "POST /assessments/{assessment_id}/imports/{batch_id}": Rule(
        org_scoped(303, consultant=403), params=_fresh_import_batch, data={"decision": "approve"}
    ),
    "GET /assessments/{assessment_id}/invitations": Rule(org_scoped()),
    "POST /assessments/{assessment_id}/invitations": Rule(org_scoped(303), data={"group": "clinical"}),
    "POST /assessments/{assessment_id}/invitations/{invitation_id}/revoke": Rule(
        org_scoped(303), params=_fresh_invitation
    ),
    "POST /assessments/{assessment_id}/invitations/{invitation_id}/restore": Rule(
        org_scoped(303), params=_switched_off_invitation
    ),
    "GET /assessments/{assessment_id}/results": Rule(org_scoped()),
    "GET /assessments/{assessment_id}/plan": Rule(org_scoped(303)),
    "GET /assessments/{assessment_id}/report.pdf": Rule(org_scoped()),
    # The matrix's cycle is open: members get 409 "Results appear when the cycle closes" (the
    # download reads the release); other agencies still 404 and funders 403.
    "GET /assessments/{assessment_id}/questions.{fmt}": Rule(
        org_scoped(409), params=lambda ctx: {"fmt": "csv"}
    ),
    # Preview and paper forms: the questions only, never an answer
    "GET /instruments/{instrument_id}/preview": Rule(
        org_scoped(consultant_other=200, org_lead_other=200),
        params=lambda ctx: {"instrument_id": "quick_check"},
    ),
    "GET /assessments/{assessment_id}/preview": Rule(org_scoped()),
    "GET /assessments/{assessment_id}/paper.pdf": Rule(org_scoped()),
    "GET /assessments/{assessment_id}/paper-template.csv": Rule(org_scoped()),
    # The research file: admins and the agency's consultants, once research sharing is on
    "GET /assessments/{assessment_id}/research.xlsx": Rule(org_scoped(org_lead=403), params=_sharing_on),
    "GET /assessments/{assessment_id}/research.zip": Rule(org_scoped(org_lead=403), params=_sharing_on),
    # Respondent form: whoever holds the link (no account); never another respondent's comments
    "GET /r/{token}": Rule(everyone(303), token_route=True),
    "GET /respond/{token}": Rule(everyone(303), token_route=True),
    "GET /respond/{token}/page/{number}": Rule(everyone(200), token_route=True),
    "POST /respond/{token}/page/{number}": Rule(everyone(303), token_route=True, data={"nav": "next"}),
    "POST /respond/{token}/autosave": Rule(
        everyone(200), token_route=True, json={"item_id": "pps_status", "value": "employ"}
    ),
    "GET /respond/{token}/review": Rule(everyone(200), token_route=True),
    "POST /respond/{token}/submit": Rule(
        everyone(400), token_route=True, params=_fresh_personal_token, notes="400: nothing answered yet"
    ),
    "GET /respond/{token}/done": Rule(everyone(303), token_route=True),
    # Only the holder of the personal link can reopen their own response (docs/privacy.md)
    "POST /respond/{token}/change": Rule(everyone(303), token_route=True),
    "GET /respond/{token}/next": Rule(everyone(303), token_route=True, notes="303: not submitted yet"),
    "POST /respond/{token}/another": Rule(everyone(409), token_route=True, notes="409: not submitted yet"),
    # Action plan
    "GET /plan": Rule(org_scoped(303, consultant_other=303, org_lead_other=303, admin=200)),
    "GET /organizations/{organization_id}/plan": Rule(org_scoped()),
    "POST /organizations/{organization_id}/plan/items/{item_id}": Rule(
        org_scoped(303), data={"status": "accepted", "owner": "Program manager"}
    ),
    "POST /organizations/{organization_id}/plan/items/{item_id}/status": Rule(
        org_scoped(303), data={"status": "accepted"}
    ),
    "POST /organizations/{organization_id}/plan/items": Rule(
        org_scoped(303), data=lambda ctx: {"title": _unique("Our own action")}
    ),
    # Consultant workspace (consultants and admins; org leads have their own pages)
    "GET /consultant": Rule(org_scoped(consultant_other=200, org_lead=403, org_lead_other=403)),
    "POST /consultant/reports.zip": Rule(
        org_scoped(303, consultant_other=303, org_lead=403, org_lead_other=403)
    ),
    "GET /consultant/assessments/{assessment_id}/commentary": Rule(
        org_scoped(org_lead=403, org_lead_other=403)
    ),
    "POST /consultant/assessments/{assessment_id}/commentary": Rule(
        org_scoped(303, org_lead=403, org_lead_other=403), data={"text": "Strong leadership support."}
    ),
    "GET /consultant/assessments/{assessment_id}/import": Rule(org_scoped(org_lead=403, org_lead_other=403)),
    "POST /consultant/assessments/{assessment_id}/import/preview": Rule(
        org_scoped(422, org_lead=403, org_lead_other=403),
        files=_csv_file,
        notes="422: a CSV preview with errors",
    ),
    "POST /consultant/assessments/{assessment_id}/import/confirm": Rule(
        org_scoped(410, org_lead=403, org_lead_other=403), data={"import_id": "no-such-import"}
    ),
    # Funder portfolio pages and exports (aggregates only)
    "GET /portfolio": Rule({**portfolio_scoped(303), "admin": 200, "funder_other": 303}),
    "GET /portfolio/{portfolio_id}": Rule(portfolio_scoped()),
    "GET /portfolio/{portfolio_id}/exports": Rule(portfolio_scoped()),
    "GET /portfolio/{portfolio_id}/export.csv": Rule(portfolio_scoped()),
    "GET /portfolio/{portfolio_id}/export.xlsx": Rule(portfolio_scoped()),
    "GET /portfolio/{portfolio_id}/report.pdf": Rule(portfolio_scoped(303)),  # to its job page
    "GET /portfolio/{portfolio_id}/reliability": Rule(portfolio_scoped()),
    # Instrument reliability for authors: administrators and consultants (pooled over agencies)
    "GET /psychometrics": Rule({**signed_in(403), "admin": 200, "consultant": 200, "consultant_other": 200}),
    "GET /psychometrics/{instrument_id}": Rule(
        {**signed_in(403), "admin": 200, "consultant": 200, "consultant_other": 200},
        params=lambda ctx: {"instrument_id": "readiness_full"},
    ),
    # Background jobs: whoever may see the organization (or portfolio) the job concerns
    "GET /jobs/{job_id}": Rule(org_scoped(), params=_fresh_job),
    "GET /jobs/{job_id}.json": Rule(org_scoped(), params=_fresh_job),
    "GET /jobs/{job_id}/download": Rule(
        org_scoped(), params=lambda ctx: _fresh_job(ctx, "done", with_file=True)
    ),
    "POST /jobs/{job_id}/cancel": Rule(org_scoped(303), params=_fresh_job),
    "POST /jobs/{job_id}/retry": Rule(org_scoped(303), params=lambda ctx: _fresh_job(ctx, "failed")),
    # Email invitations (app/web/routes/email.py) and password reset by email
    "GET /assessments/{assessment_id}/email": Rule(org_scoped()),
    "POST /assessments/{assessment_id}/email": Rule(
        org_scoped(200), data={"group": "clinical", "addresses": "matrix@example.org"}
    ),
    "POST /assessments/{assessment_id}/email/schedule": Rule(
        org_scoped(303), data={"reminder_days": "7", "max_reminders": "2"}
    ),
    "POST /assessments/{assessment_id}/email/{recipient_id}/resend": Rule(
        org_scoped(303), params=_fresh_recipient
    ),
    "POST /assessments/{assessment_id}/email/{recipient_id}/bounced": Rule(
        org_scoped(303), params=_fresh_recipient
    ),
    "GET /i/{token}": Rule(everyone(303), token_route=True, params=_fresh_recipient),
    "GET /i/{token}/opt-out": Rule(everyone(200), token_route=True, params=_fresh_recipient),
    "POST /i/{token}/opt-out": Rule(everyone(200), token_route=True, params=_fresh_recipient),
    "GET /admin/outbox": Rule(admin_only()),
    "GET /admin/outbox/{message_id}": Rule(admin_only(), params=_fresh_outbox_message),
    "GET /password/forgot": Rule(everyone(200)),
    "POST /password/forgot": Rule(everyone(200), data={"email": "nobody@example.org"}),
    "GET /password/reset/{token}": Rule(everyone(200), params=_fresh_reset),
    "POST /password/reset/{token}": Rule(
        everyone(303), data={"new_password": "x" * 12, "repeat_password": "x" * 12}, params=_fresh_reset
    ),
    # JSON API (read-only; funders and admins)
    "GET /api/v1/portfolios": Rule({**portfolio_scoped(200, anonymous=401), "funder_other": 200}),
    "GET /api/v1/portfolios/{portfolio_id}/sites": Rule(portfolio_scoped(200, anonymous=401)),
    "GET /api/v1/portfolios/{portfolio_id}/summary": Rule(portfolio_scoped(200, anonymous=401)),
}


def _fresh_site_org(ctx: Ctx) -> int:
    organization = Organization(name=f"Candidate agency {next(_numbers)}")
    ctx.db.add(organization)
    ctx.db.commit()
    return organization.id


def _remember_spare(ctx: Ctx) -> int:
    user = _spare_user(ctx)
    ctx.scratch["user_id"] = user.id
    return user.id


# --- the machinery ----------------------------------------------------------------------------

_PARAM = re.compile(r"{(\w+)(?::\w+)?}")
REQUIRED_HEADERS = {
    "content-security-policy": "frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def app_routes(app) -> set[str]:
    """Every "METHOD /path" the app answers (HEAD and mounts' inner routes aside)."""
    keys = set()
    for route in iter_route_contexts(app.routes):
        methods = getattr(route, "methods", None) or {"GET"}
        for method in methods - {"HEAD"}:
            keys.add(f"{method} {route.path}")
    return keys


def _users_for(world: World, side_name: str) -> dict[str, User | None]:
    cast = world.cast
    a_side = side_name == "A"
    return {
        "anonymous": None,
        "respondent": None,
        "admin": cast.admin,
        "consultant": cast.consultant_a if a_side else cast.consultant_b,
        "consultant_other": cast.consultant_b if a_side else cast.consultant_a,
        "org_lead": cast.lead_a if a_side else cast.lead_b,
        "org_lead_other": cast.lead_b if a_side else cast.lead_a,
        "funder": cast.funder_p if a_side else cast.funder_q,
        "funder_other": cast.funder_q if a_side else cast.funder_p,
    }


def forbidden_markers(world: World, user: User | None, *, token_side: Side | None) -> list[str]:
    """Texts this viewer must never receive."""
    cast = world.cast
    everything = [
        world.a.markers["organization"],
        world.b.markers["organization"],
        world.a.markers["comment"],
        world.b.markers["comment"],
    ]
    if user is None:
        if token_side is None:
            return everything
        other = world.b if token_side is world.a else world.a
        # A respondent sees their own agency's name, never anyone's comment, nothing of the other agency.
        return [other.markers["organization"], world.a.markers["comment"], world.b.markers["comment"]]
    if user.role == Role.admin:
        return []
    comments = [world.a.markers["comment"], world.b.markers["comment"]]
    if user.id in (cast.consultant_a.id, cast.lead_a.id):
        return [world.b.markers["organization"], world.b.markers["comment"]]
    if user.id in (cast.consultant_b.id, cast.lead_b.id):
        return [world.a.markers["organization"], world.a.markers["comment"]]
    if user.id == cast.funder_p.id:
        return [world.b.markers["organization"], *comments]
    if user.id == cast.funder_q.id:
        return [world.a.markers["organization"], *comments]
    return everything


def _default_params(ctx: Ctx, *, invitation_route: bool) -> dict[str, Any]:
    side = ctx.side
    return {
        "organization_id": side.organization_id,
        "assessment_id": side.assessment_id,
        "portfolio_id": side.portfolio_id,
        "site_id": side.site_id,
        "invitation_id": side.invitation_id,
        "response_id": side.response_id,
        "item_id": side.plan_item_id,
        "user_id": ctx.world.cast.consultant_a.id if side is ctx.world.a else ctx.world.cast.consultant_b.id,
        "token": side.invitation_token if invitation_route else side.personal_token,
        "number": 1,
    }


def _url(key: str, rule: Rule, ctx: Ctx) -> str:
    path = key.split(" ", 1)[1]
    if path == "/static":
        return "/static/app.css"
    params = _default_params(ctx, invitation_route=path.startswith("/r/"))
    if rule.params:
        params.update(rule.params(ctx))
    url = _PARAM.sub(lambda m: str(params[m.group(1)]), path)
    return url + (f"?{rule.query}" if rule.query else "")


def _client_for(app, role: str, user: User | None, ctx: Ctx) -> tuple[TestClient, str]:
    client = TestClient(app, base_url="http://testserver")
    if user is not None:
        ctx.db.refresh(user)
        return client, sign_in_as(client, user)
    if role == "respondent":
        # Opened their own link: holds the resume cookie, still no account.
        client.get(f"/r/{ctx.side.invitation_token}", follow_redirects=False)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    return client, token.group(1) if token else ""


@dataclass
class Outcome:
    key: str
    side: str
    role: str
    status: int
    problems: list[str]


def run_matrix(app, db: Session, world: World, keys: list[str]) -> list[Outcome]:
    outcomes = []
    for key in keys:
        rule = MATRIX[key]
        method = key.split(" ", 1)[0]
        for side_name in SIDES:
            side = world.side(side_name)
            ctx = Ctx(world=world, side=side, other=world.b if side is world.a else world.a, db=db, app=app)
            users = _users_for(world, side_name)
            # Refused roles first, so a successful change cannot alter what the refusals see.
            order = sorted(ROLES, key=lambda r: rule.expect[r] < 400)
            for role in order:
                client, csrf = _client_for(app, role, users[role], ctx)
                with client:
                    url = _url(key, rule, ctx)
                    kwargs: dict[str, Any] = {"follow_redirects": False}
                    if method != "GET":
                        if rule.json is not None:
                            kwargs["json"] = rule.json
                            kwargs["headers"] = {"X-CSRF-Token": csrf, "Accept": "application/json"}
                        else:
                            data = rule.data(ctx) if callable(rule.data) else dict(rule.data or {})
                            kwargs["data"] = {**data, "csrf_token": csrf}
                            if rule.files:
                                kwargs["files"] = rule.files(ctx)
                    response = client.request(method, url, **kwargs)
                problems = _check(response, world, users[role], token_side=side if rule.token_route else None)
                outcomes.append(Outcome(key, side_name, role, response.status_code, problems))
    return outcomes


def _check(response, world: World, user: User | None, *, token_side: Side | None) -> list[str]:
    problems = []
    for header, needle in REQUIRED_HEADERS.items():
        if needle not in response.headers.get(header, ""):
            problems.append(f"missing header {header}")
    body = response.content.decode("utf-8", errors="replace") if response.content else ""
    if "Traceback" in body or 'File "/' in body:
        problems.append("traceback in body")
    for marker in forbidden_markers(world, user, token_side=token_side):
        if marker in body:
            problems.append(f"shows {marker!r}")
    return problems


def _report(outcomes: list[Outcome]) -> list[str]:
    failures = []
    for outcome in outcomes:
        expected = MATRIX[outcome.key].expect[outcome.role]
        if outcome.status != expected:
            failures.append(
                f"{outcome.key} [{outcome.side}] as {outcome.role}: {outcome.status}, should be {expected}"
            )
        failures += [f"{outcome.key} [{outcome.side}] as {outcome.role}: {p}" for p in outcome.problems]
    return failures


# --- tests ------------------------------------------------------------------------------------


def test_every_route_has_a_matrix_entry(app):
    routes = app_routes(app)
    missing = sorted(routes - MATRIX.keys())
    stale = sorted(MATRIX.keys() - routes)
    assert not missing, "Routes without an access-matrix entry (add one line each to MATRIX):\n" + "\n".join(
        missing
    )
    assert not stale, "Matrix entries for routes that no longer exist:\n" + "\n".join(stale)


def test_every_entry_names_every_role():
    for key, rule in MATRIX.items():
        assert set(rule.expect) == set(ROLES), key


def test_route_matrix(app, db, world):
    keys = sorted(app_routes(app) & MATRIX.keys())
    failures = _report(run_matrix(app, db, world, keys))
    assert not failures, f"{len(failures)} access-matrix failures:\n" + "\n".join(failures)
