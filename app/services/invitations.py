"""Invitation links (one per respondent group) and personal resume links.

Tokens are `secrets.token_urlsafe(32)` (256 bits) and only their SHA-256 is stored, so a copy of
the database does not hand out working links. The plain invitation token is shown once, right
after it is created.

Guessing is slowed down (app/services/ratelimit.py): every unknown token is recorded in the
bucket "token:<ip>" (in its own transaction, so the 404 that follows does not roll it back). The
first TOKEN_MAX_FAILURES unknown tokens from an address within TOKEN_WINDOW get 404, later ones
429 — counted atomically, so parallel guesses cannot all get a 404. A working link still opens
from that address: one person mistyping links from an office address must not lock out every
colleague behind it, and a 256-bit token cannot be found by guessing anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.db.models import Assessment, AssessmentStatus, Invitation, Response, User, as_utc, utcnow
from app.errors import BadInput, Conflict, Gone, NotFound, TooManyRequests
from app.i18n import gettext
from app.instruments.models import Instrument
from app.services import audit, ratelimit

TOKEN_MAX_FAILURES = 20
TOKEN_WINDOW = timedelta(minutes=10)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _bucket(client_ip: str | None) -> str:
    return f"token:{client_ip or 'unknown'}"


TOO_MANY_GUESSES = "Too many links that do not work were tried from here. Please wait ten minutes."


def refuse_unknown_token(session: Session, *, client_ip: str | None, message: str) -> NoReturn:
    """Record a failed token lookup (in its own transaction: the request itself will roll back),
    then refuse it: 404 with `message` while the address is under the limit, 429 after."""
    failures = ratelimit.hit_in_own_transaction(
        session, bucket=_bucket(client_ip), window_seconds=int(TOKEN_WINDOW.total_seconds())
    )
    if failures > TOKEN_MAX_FAILURES:
        raise TooManyRequests(TOO_MANY_GUESSES)
    raise NotFound(message)


# What `secrets.token_urlsafe` makes (and older links used); one regex, not a loop per character:
# it runs on every respondent request.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,100}")


def looks_like_token(token: str) -> bool:
    return _TOKEN_SHAPE.fullmatch(token) is not None


def create_invitation(
    session: Session,
    *,
    user: User,
    assessment: Assessment,
    instrument: Instrument,
    group: str,
    label: str | None = None,
    expires_at: datetime | None = None,
    kiosk: bool = False,
) -> tuple[Invitation, str]:
    """A new link for one respondent group; returns the row and the plain token (show it once).

    A kiosk link is for one shared device: after each submit the device forgets the response
    and shows the start again for the next person."""
    if not instrument.has_group(group):
        raise BadInput(gettext("Choose a respondent group from the list."))
    label = (label or "").strip() or None
    if label and len(label) > 200:
        raise BadInput(gettext("The label can be at most 200 characters."))
    if expires_at is not None:
        expires_at = as_utc(expires_at)  # compared with aware datetimes; never a naive-vs-aware 500
    if expires_at is not None and expires_at <= utcnow():
        raise BadInput(gettext("The expiry date must be in the future."))
    token = new_token()
    invitation = Invitation(
        assessment_id=assessment.id,
        group=group,
        label=label,
        token_hash=hash_token(token),
        expires_at=expires_at,
        kiosk=kiosk,
    )
    session.add(invitation)
    session.flush()
    audit.record(
        session,
        actor=user,
        action="invitation.create",
        target=f"invitation:{invitation.id}",
        organization_id=assessment.organization_id,
        detail={"assessment_id": assessment.id, "group": group, "label": label, "kiosk": kiosk},
    )
    return invitation, token


def list_invitations(session: Session, *, assessment_id: int) -> list[tuple[Invitation, int]]:
    """Each invitation with the number of responses started from it."""
    counts = dict(
        session.exec(
            select(Response.invitation_id, func.count())
            .where(Response.assessment_id == assessment_id)
            .group_by(col(Response.invitation_id))
        ).all()
    )
    invitations = session.exec(
        select(Invitation).where(Invitation.assessment_id == assessment_id).order_by(col(Invitation.id))
    )
    return [(invitation, counts.get(invitation.id, 0)) for invitation in invitations]


def get_invitation(session: Session, *, assessment: Assessment, invitation_id: int) -> Invitation:
    invitation = session.get(Invitation, invitation_id)
    if invitation is None or invitation.assessment_id != assessment.id:
        raise NotFound(gettext("No such invitation."))
    return invitation


def revoke_invitation(
    session: Session, *, user: User, assessment: Assessment, invitation_id: int
) -> Invitation:
    """Stop a link from starting new responses. Responses already started keep their own links."""
    invitation = get_invitation(session, assessment=assessment, invitation_id=invitation_id)
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
        session.add(invitation)
        audit.record(
            session,
            actor=user,
            action="invitation.revoke",
            target=f"invitation:{invitation.id}",
            organization_id=assessment.organization_id,
            detail={"assessment_id": assessment.id},
        )
    return invitation


def restore_invitation(
    session: Session, *, user: User, assessment: Assessment, invitation_id: int
) -> Invitation:
    """Switch a switched-off link back on (the same address works again). Refused once the cycle is
    closed, where no link starts responses anyway."""
    invitation = get_invitation(session, assessment=assessment, invitation_id=invitation_id)
    if assessment.status == AssessmentStatus.closed:
        raise Conflict(gettext("The cycle is closed: reopen it before switching links back on."))
    if invitation.revoked_at is not None:
        invitation.revoked_at = None
        session.add(invitation)
        audit.record(
            session,
            actor=user,
            action="invitation.restore",
            target=f"invitation:{invitation.id}",
            organization_id=assessment.organization_id,
            detail={"assessment_id": assessment.id},
        )
    return invitation


def invitation_state(invitation: Invitation) -> str:
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at is not None and as_utc(invitation.expires_at) <= utcnow():
        return "expired"
    return "active"


def find_invitation(session: Session, *, token: str, client_ip: str | None) -> Invitation:
    """The working invitation behind a token: 404 for an unknown token (recorded as a failure;
    429 once this address guessed too much), 410 for a revoked or expired link."""
    invitation = None
    if looks_like_token(token):
        invitation = session.exec(
            select(Invitation).where(Invitation.token_hash == hash_token(token))
        ).first()
    if invitation is None:
        refuse_unknown_token(
            session,
            client_ip=client_ip,
            message="This link does not work. Check that you copied all of it, or ask for a new one.",
        )
    state = invitation_state(invitation)
    if state == "revoked":
        raise Gone(
            gettext(
                "This link has been switched off by the agency. Ask the person who sent it for a new one."
            )
        )
    if state == "expired":
        raise Gone(gettext("This link has expired. Ask the person who sent it for a new one."))
    return invitation


def same_token(token: str, token_hash: str | None) -> bool:
    return token_hash is not None and hmac.compare_digest(hash_token(token), token_hash)
