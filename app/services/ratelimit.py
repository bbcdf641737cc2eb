"""Counters of failed attempts, one row per bucket: the one implementation behind sign-in limits
(app/services/accounts.py) and link-guess limits (app/services/invitations.py).

Stored in the database (not in memory) so several server processes share one count. Buckets are
strings such as "login-ip:203.0.113.9" or "token:203.0.113.9".

Atomic: `hit` is one INSERT ... ON CONFLICT DO UPDATE ... RETURNING that adds the attempt and
returns the count including it, so parallel attempts can never all read "under the limit" and
pass together: each gets its own number, and only the first `limit` are under it. The window is
fixed: it starts with a bucket's first attempt and the count starts again once it has passed.

A failed attempt is usually followed by an error response, and the request's session rolls back
when a route raises; `hit_in_own_transaction` records the failure so that it survives that.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete
from sqlmodel import Session, col, select

from app.db.models import RateLimitBucket, utcnow
from app.db.upsert import upsert
from app.errors import TooManyRequests
from app.i18n import N_

KEEP_BUCKETS_SECONDS = 24 * 3600


def count(session: Session, *, bucket: str, window_seconds: int, now: datetime | None = None) -> int:
    """Attempts recorded in the bucket's current window (0 once the window has passed)."""
    since = (now or utcnow()) - timedelta(seconds=window_seconds)
    hits = session.exec(
        select(RateLimitBucket.hits).where(
            RateLimitBucket.key == bucket[:200], RateLimitBucket.window_start > since
        )
    ).first()
    return hits or 0


def hit(session: Session, *, bucket: str, window_seconds: int, now: datetime | None = None) -> int:
    """Record one attempt; returns the window's count including it (1 for the first)."""
    now = now or utcnow()
    since = now - timedelta(seconds=window_seconds)
    table = RateLimitBucket.__table__  # type: ignore[attr-defined]
    expired = table.c.window_start <= since
    statement = upsert(
        session,
        table,
        values={"key": bucket[:200], "hits": 1, "window_start": now},
        key=["key"],
        update={
            "hits": case((expired, 1), else_=table.c.hits + 1),
            "window_start": case((expired, now), else_=table.c.window_start),
        },
    ).returning(table.c.hits)
    return int(session.execute(statement).scalar_one())


def hit_in_own_transaction(
    session: Session, *, bucket: str, window_seconds: int, now: datetime | None = None
) -> int:
    """`hit`, committed at once, whatever happens to the caller's transaction afterwards.

    When the caller has changed nothing yet (a token lookup that failed), its read-only
    transaction is ended and the hit committed on the same connection. Only otherwise is a
    second connection used: a burst of failures, each request holding one connection while
    waiting for another, would empty the pool."""
    if not (session.new or session.dirty or session.deleted):
        session.rollback()
        hits = hit(session, bucket=bucket, window_seconds=window_seconds, now=now)
        session.commit()
        return hits
    with Session(session.get_bind()) as separate:
        hits = hit(separate, bucket=bucket, window_seconds=window_seconds, now=now)
        separate.commit()
    return hits


def check(
    session: Session,
    *,
    bucket: str,
    limit: int,
    window_seconds: int,
    now: datetime | None = None,
    message: str = N_("Too many attempts. Wait a few minutes and try again."),
) -> None:
    """Raise TooManyRequests (429) when `bucket` already has `limit` attempts in its window.
    A cheap early refusal only: the limit itself is kept by the count `hit` returns."""
    if count(session, bucket=bucket, window_seconds=window_seconds, now=now) >= limit:
        raise TooManyRequests(message)


def prune(session: Session, *, now: datetime | None = None) -> int:
    """Delete buckets whose window started more than a day ago. Called now and then from sign-in."""
    cutoff = (now or utcnow()) - timedelta(seconds=KEEP_BUCKETS_SECONDS)
    result = session.exec(delete(RateLimitBucket).where(col(RateLimitBucket.window_start) < cutoff))
    return result.rowcount or 0
