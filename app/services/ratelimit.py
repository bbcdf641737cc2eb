"""Sliding-window counters for failed attempts, stored in RateLimitHit rows.

Stored in the database (not in memory) so several server processes share one count. Buckets are
strings such as "login-ip:203.0.113.9" or "token-ip:203.0.113.9".

Typical use for guessable secrets (invitation or resume tokens):

    ratelimit.check(session, bucket=f"token-ip:{ip}", limit=TOKEN_GUESS_LIMIT, window_seconds=600)
    ... look the token up ...
    if not found:
        ratelimit.hit(session, bucket=f"token-ip:{ip}")

The failed hit must be committed, so record it and then return a 404 page rather than raising
(SessionDep rolls back when a route raises) — or use `note_failure_and_commit`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func
from sqlmodel import Session, select

from app.db.models import RateLimitHit, utcnow
from app.errors import TooManyRequests

# Wrong invitation/resume tokens allowed from one client address per window.
TOKEN_GUESS_LIMIT = 20
TOKEN_GUESS_WINDOW_SECONDS = 600
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


def note_failure_and_commit(session: Session, *, bucket: str, now: datetime | None = None) -> None:
    """Record a failed attempt and commit it now, for callers that raise an error afterwards."""
    hit(session, bucket=bucket, now=now)
    session.commit()


def check_token_guess(session: Session, *, client_ip: str, now: datetime | None = None) -> None:
    """Call before looking up a respondent token; 429 after too many wrong ones from this address."""
    check(
        session,
        bucket=f"token-ip:{client_ip}",
        limit=TOKEN_GUESS_LIMIT,
        window_seconds=TOKEN_GUESS_WINDOW_SECONDS,
        now=now,
        message="Too many links tried from this network. Wait a few minutes and try again.",
    )


def note_token_miss(session: Session, *, client_ip: str, now: datetime | None = None) -> None:
    """Call when a respondent token matched nothing (or a revoked/expired one); commits the hit."""
    note_failure_and_commit(session, bucket=f"token-ip:{client_ip}", now=now)


def prune(session: Session, *, now: datetime | None = None) -> int:
    """Delete hits older than a day. Called now and then from sign-in."""
    cutoff = (now or utcnow()) - timedelta(seconds=KEEP_HITS_SECONDS)
    result = session.exec(delete(RateLimitHit).where(RateLimitHit.at < cutoff))  # type: ignore[call-overload]
    return result.rowcount or 0
