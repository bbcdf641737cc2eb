"""Sliding-window counters for failed attempts, stored in RateLimitHit rows: the one
implementation behind sign-in limits (app/services/accounts.py) and link-guess limits
(app/services/invitations.py).

Stored in the database (not in memory) so several server processes share one count. Buckets are
strings such as "login-ip:203.0.113.9" or "token:203.0.113.9".

A failed attempt is usually followed by an error response, and the request's session rolls back
when a route raises; `hit_in_own_transaction` records the failure so that it survives that.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import CursorResult, delete, func
from sqlmodel import Session, col, select

from app.db.models import RateLimitHit, utcnow
from app.errors import TooManyRequests

KEEP_HITS_SECONDS = 24 * 3600


def count(session: Session, *, bucket: str, window_seconds: int, now: datetime | None = None) -> int:
    since = (now or utcnow()) - timedelta(seconds=window_seconds)
    return session.exec(
        select(func.count())
        .select_from(RateLimitHit)
        .where(RateLimitHit.bucket == bucket, RateLimitHit.at > since)
    ).one()


def hit(session: Session, *, bucket: str, now: datetime | None = None) -> None:
    session.add(RateLimitHit(bucket=bucket[:200], at=now or utcnow()))


def hit_in_own_transaction(session: Session, *, bucket: str, now: datetime | None = None) -> None:
    """Record a failed attempt in a transaction of its own (committed now, whatever happens to
    the caller's). Uses a second connection for a moment."""
    with Session(session.get_bind()) as separate:
        hit(separate, bucket=bucket, now=now)
        separate.commit()


def check(
    session: Session,
    *,
    bucket: str,
    limit: int,
    window_seconds: int,
    now: datetime | None = None,
    message: str = "Too many attempts. Wait a few minutes and try again.",
) -> None:
    """Raise TooManyRequests (429) when `bucket` already has `limit` hits in the window."""
    if count(session, bucket=bucket, window_seconds=window_seconds, now=now) >= limit:
        raise TooManyRequests(message)


def prune(session: Session, *, now: datetime | None = None) -> int:
    """Delete hits older than a day. Called now and then from sign-in."""
    cutoff = (now or utcnow()) - timedelta(seconds=KEEP_HITS_SECONDS)
    result = session.execute(delete(RateLimitHit).where(col(RateLimitHit.at) < cutoff))
    assert isinstance(result, CursorResult)  # what a DELETE returns; it carries rowcount
    return result.rowcount or 0
