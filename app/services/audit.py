"""Audit log: who did what and when. Written in the same transaction as the change it records."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from app.db.models import AuditEvent, User


def record(
    session: Session,
    *,
    actor: User | str | None,
    action: str,
    target: str | None = None,
    organization_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    if isinstance(actor, User):
        actor_user_id, actor_label = actor.id, actor.email
    else:
        actor_user_id, actor_label = None, actor or "system"
    session.add(
        AuditEvent(
            actor_user_id=actor_user_id,
            actor=actor_label,
            action=action,
            target=target,
            organization_id=organization_id,
            detail=detail or {},
        )
    )
