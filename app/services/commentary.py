"""A consultant's commentary on an assessment cycle. One per cycle; printed in its PDF report
and on its results page (both through `commentary_text`). Never shown to funders."""

from __future__ import annotations

from sqlmodel import Session

from app.db.models import Assessment, Commentary, Role, User, utcnow
from app.errors import BadInput, Forbidden
from app.i18n import gettext
from app.reports.context import CommentaryText
from app.services import access, audit

MAX_COMMENTARY_CHARS = 20_000
WRITER_ROLES = (Role.admin, Role.consultant)


def get_commentary(
    session: Session, *, user: User, assessment_id: int
) -> tuple[Assessment, Commentary | None]:
    """The cycle (access-checked) and its commentary, if any."""
    assessment = access.get_assessment(session, user=user, assessment_id=assessment_id)
    return assessment, session.get(Commentary, assessment_id)


def commentary_text(session: Session, *, assessment_id: int) -> CommentaryText | None:
    """The commentary as the results page and the PDF show it: text, author's name, last edit."""
    row = session.get(Commentary, assessment_id)
    if row is None:
        return None
    author = session.get(User, row.author_id) if row.author_id else None
    return CommentaryText(text=row.text, author=author.name if author else None, updated_at=row.updated_at)


def save_commentary(session: Session, *, user: User, assessment_id: int, text: str) -> Commentary | None:
    """Create, replace or (with empty text) remove the commentary. Returns the row, or None."""
    assessment = access.get_assessment(session, user=user, assessment_id=assessment_id)
    if user.role not in WRITER_ROLES:
        raise Forbidden(gettext("Only consultants and administrators write commentary."))
    body = (text or "").replace("\r\n", "\n").strip()
    if len(body) > MAX_COMMENTARY_CHARS:
        raise BadInput(
            gettext("The commentary is longer than %(num)s characters.")
            % {"num": f"{MAX_COMMENTARY_CHARS:,}"}
        )
    if "\x00" in body:
        raise BadInput(gettext("The commentary contains characters that cannot be stored."))
    existing = session.get(Commentary, assessment_id)
    action = "commentary.update" if existing else "commentary.create"
    if not body:
        if existing is None:
            return None
        session.delete(existing)
        action, result = "commentary.delete", None
    else:
        result = existing or Commentary(assessment_id=assessment_id, text=body)
        result.text = body
        result.author_id = user.id
        result.updated_at = utcnow()
        session.add(result)
    audit.record(
        session,
        actor=user,
        action=action,
        target=f"assessment:{assessment_id}",
        organization_id=assessment.organization_id,
        detail={"chars": len(body)},
    )
    session.flush()
    return result
