"""Email as background work (app/services/email_invitations.py, app/services/password_resets.py).

- The `email` job sends what is due now: `{"assessment_id": N}` right after invitations are
  added or resent, `{"password_reset_id": N}` for one reset link (`null` when no active account
  has the address: every reset request starts one such job, so none reveals which addresses
  have accounts by what it does or how long it takes). Started with user None
  (PeerReady itself): the person who asked was checked by the page that started it.
- The periodic `email_due` work runs every minute in `peerready worker` (and once in
  `peerready worker --burst`): scheduled invitations, reminders, erasing the addresses of cycles
  that have ended. Everything it does is claimed row by row, so it may run anywhere, any time.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.config import Settings
from app.db.models import Assessment, User
from app.errors import BadInput
from app.jobs.kinds.reports import _id
from app.jobs.registry import JobKind, Output, Periodic, Prepared, register, register_periodic
from app.jobs.runner import JobContext
from app.services import access, email_invitations, password_resets


def prepare_email(
    session: Session, params: dict[str, Any], user: User | None, settings: Settings
) -> Prepared:
    if "password_reset_id" in params:
        value = params.get("password_reset_id")
        reset_id = None if value is None else _id(value, "password_reset_id")
        return Prepared(
            title="Password reset email", params={"password_reset_id": reset_id}, timeout_seconds=120, total=1
        )
    assessment_id = _id(params.get("assessment_id"), "assessment_id")
    if user is not None:
        assessment = access.get_assessment(session, user=user, assessment_id=assessment_id)
    else:
        assessment = access.get_row(session, Assessment, assessment_id, missing="No such assessment.")
    return Prepared(
        title=f"Email for {assessment.name}",
        params={"assessment_id": assessment_id},
        organization_id=assessment.organization_id,
        timeout_seconds=1800,
        total=1,
    )


def run_email(ctx: JobContext, params: dict[str, Any]) -> Output:
    ctx.progress(0, 1, "Sending")
    if "password_reset_id" in params:
        reset_id = params["password_reset_id"]
        status = (
            "skipped"
            if reset_id is None
            else password_resets.deliver(ctx.engine, ctx.settings, reset_id=int(reset_id))
        )
        ctx.progress(1, 1, "Done")
        return Output(detail={"status": status})
    if not isinstance(params.get("assessment_id"), int):
        raise BadInput("assessment_id must be a whole number.")
    delivered = email_invitations.deliver_due(ctx.engine, ctx.settings, assessment_id=params["assessment_id"])
    ctx.progress(1, 1, "Done")
    return Output(detail=delivered.as_dict())


def run_due(engine: Engine, settings: Settings) -> None:
    email_invitations.deliver_due(engine, settings)


register(JobKind(name="email", label="Email", prepare=prepare_email, run=run_email))
register_periodic(Periodic(name="email_due", every_minutes=1, run=run_due))
