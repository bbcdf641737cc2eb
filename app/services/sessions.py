"""Server-side sign-in sessions: one `usersession` row per signed-in browser.

The session cookie (signed by SessionMiddleware) carries only a random token; its SHA-256 is
stored here. Every request that needs the signed-in user looks the row up, so deleting it ends
that sign-in at once, even for a copy of the cookie saved earlier:

* sign-out ends its own session;
* a password change, an administrator's password reset, a role change and an administrator's
  "End all sessions" end every session of that user (the person changing their own password
  gets a fresh one for the browser they are using).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from app.db.models import User, UserSession, utcnow


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start(session: Session, *, user: User, max_age_seconds: int, now: datetime | None = None) -> str:
    """A new session for `user`; returns the token to put in the cookie (shown nowhere else)."""
    token = secrets.token_urlsafe(32)
    now = now or utcnow()
    session.add(
        UserSession(
            token_hash=_hash(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + timedelta(seconds=max_age_seconds),
        )
    )
    return token


def user_for(session: Session, *, token: str, now: datetime | None = None) -> User | None:
    """The active user whose unexpired session this token is, else None."""
    if not token or len(token) > 100:
        return None
    row = session.exec(
        select(User)
        .join(UserSession, col(UserSession.user_id) == User.id)
        .where(UserSession.token_hash == _hash(token), col(UserSession.expires_at) > (now or utcnow()))
    ).first()
    if row is None or not row.is_active:
        return None
    return row


def end(session: Session, *, token: str) -> None:
    """End one session (sign-out)."""
    session.exec(delete(UserSession).where(col(UserSession.token_hash) == _hash(token)))  # type: ignore[call-overload]


def end_all(session: Session, *, user_id: int) -> int:
    """End every session of a user; returns how many there were."""
    result = session.exec(delete(UserSession).where(col(UserSession.user_id) == user_id))  # type: ignore[call-overload]
    return result.rowcount or 0


def count_for(session: Session, *, user_id: int, now: datetime | None = None) -> int:
    """Unexpired sessions of a user (for the administrator's user page)."""
    return len(
        session.exec(
            select(UserSession.id).where(
                UserSession.user_id == user_id, col(UserSession.expires_at) > (now or utcnow())
            )
        ).all()
    )


def prune(session: Session, *, now: datetime | None = None) -> int:
    """Delete expired sessions. Called now and then from sign-in."""
    result = session.exec(delete(UserSession).where(col(UserSession.expires_at) <= (now or utcnow())))  # type: ignore[call-overload]
    return result.rowcount or 0
