"""Password reset by email for staff accounts.

- `request_reset` answers the same way whether or not an account has that address; it records a
  reset only for an active account, and is rate-limited per client address and per account.
- The link is `/password/reset/<token>`: the token is derived from the reset's random nonce and
  the secret key (only its SHA-256 is stored), works once, and expires after RESET_VALID.
- `deliver` (the `email` job) mails it; `complete_reset` sets the new password, lifts any sign-in
  lock and spends every other open reset of that account. The new password hash changes the
  session fingerprint, so every other session of that account ends.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app import i18n
from app.config import Settings
from app.db.models import PasswordReset, User, utcnow
from app.errors import NotFound
from app.i18n import N_
from app.services import accounts, audit, invitations, mail, ratelimit, sessions

RESET_VALID = timedelta(hours=1)
EXPIRED_MESSAGE = N_("This password reset link has expired or was used already. Ask for a new one.")
IP_LIMIT, IP_WINDOW_SECONDS = 20, 900
ACCOUNT_LIMIT, ACCOUNT_WINDOW_SECONDS = 3, 3600
SAME_ANSWER = N_(
    "If an account uses that address, we have sent it a link to choose a new password. "
    "The link works once, within one hour. Check your spam folder if it does not arrive."
)


def reset_token(nonce: str, *, secret_key: str) -> str:
    digest = hmac.new(secret_key.encode(), b"password-reset:" + nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def request_reset(session: Session, *, email: str, client_ip: str, secret_key: str) -> PasswordReset | None:
    """The reset to mail (None when there is nothing to send). Raises TooManyRequests only on
    the per-client limit, which says nothing about the address."""
    ratelimit.check(
        session,
        bucket=f"reset-ip:{client_ip}",
        limit=IP_LIMIT,
        window_seconds=IP_WINDOW_SECONDS,
        message=N_("Too many password reset requests from here. Please wait fifteen minutes."),
    )
    ratelimit.hit(session, bucket=f"reset-ip:{client_ip}", window_seconds=IP_WINDOW_SECONDS)
    address = accounts.normalize_email(email)[:254]
    user = accounts.find_user_by_email(session, email=address) if address else None
    if user is None or not user.is_active:
        return None
    bucket = f"reset-user:{user.id}"
    if ratelimit.count(session, bucket=bucket, window_seconds=ACCOUNT_WINDOW_SECONDS) >= ACCOUNT_LIMIT:
        return None  # quietly: the same answer as for any other address
    ratelimit.hit(session, bucket=bucket, window_seconds=ACCOUNT_WINDOW_SECONDS)
    nonce = secrets.token_urlsafe(24)
    reset = PasswordReset(
        user_id=user.id,
        link_nonce=nonce,
        token_hash=invitations.hash_token(reset_token(nonce, secret_key=secret_key)),
        expires_at=utcnow() + RESET_VALID,
    )
    session.add(reset)
    session.flush()
    audit.record(session, actor=user, action="password.reset_requested", target=f"user:{user.id}")
    return reset


def deliver(engine: Engine, settings: Settings, *, reset_id: int) -> str:
    """Mail one reset link; returns the outcome's status (sent, outbox or failed)."""
    with Session(engine, expire_on_commit=False) as session:
        reset = session.get(PasswordReset, reset_id)
        if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
            return "skipped"
        user = session.get(User, reset.user_id)
        if user is None or not user.is_active:
            return "skipped"
        token = reset_token(reset.link_nonce, secret_key=settings.secret_key)
        outgoing = mail.render(
            "password_reset",
            {
                "name": user.name,
                "link": f"{settings.base_url.rstrip('/')}/password/reset/{token}",
                "minutes": int(RESET_VALID.total_seconds() // 60),
                # In the language chosen in the account (English when none is chosen).
                "language": user.language or i18n.SOURCE_LANGUAGE,
            },
            to=user.email,
            settings=settings,
        )
        with mail.Sender(settings) as sender:
            outcome = sender.send(outgoing)
        mail.record(session, outgoing, outcome)
        session.commit()
        return outcome.status


def _valid(session: Session, token: str) -> PasswordReset:
    reset = None
    if invitations.looks_like_token(token):
        reset = session.exec(
            select(PasswordReset).where(PasswordReset.token_hash == invitations.hash_token(token))
        ).first()
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        raise NotFound(EXPIRED_MESSAGE)
    return reset


def check_token(session: Session, *, token: str, client_ip: str | None) -> None:
    """A working link is served; a failed one counts toward the link-guess limit (404, then 429
    once this address guessed too much), as invitation links do."""
    try:
        _valid(session, token)
    except NotFound as missing:
        invitations.refuse_unknown_token(session, client_ip=client_ip, message=missing.msgid)


def complete_reset(session: Session, *, token: str, new: str, repeat: str, client_ip: str | None) -> User:
    check_token(session, token=token, client_ip=client_ip)
    reset = _valid(session, token)
    accounts.validate_new_password(new, repeat)
    user = session.get(User, reset.user_id)
    if user is None or not user.is_active:
        raise NotFound(EXPIRED_MESSAGE)
    # Spent first, with a condition: two submissions of one link cannot both set a password.
    spent = session.exec(
        update(PasswordReset)
        .where(col(PasswordReset.id) == reset.id, col(PasswordReset.used_at).is_(None))
        .values(used_at=utcnow())
    ).rowcount
    if not spent:
        raise NotFound(EXPIRED_MESSAGE)
    session.exec(
        update(PasswordReset)
        .where(col(PasswordReset.user_id) == user.id, col(PasswordReset.used_at).is_(None))
        .values(used_at=utcnow())
    )
    user.password_hash = accounts.hash_password(new)
    user.failed_logins, user.lockouts, user.locked_until = 0, 0, None
    user.must_change_password = False  # chosen by the user themselves
    session.add(user)
    sessions.end_all(session, user_id=user.id)  # whoever knew the old password is signed out
    audit.record(session, actor=user, action="password.reset_by_email", target=f"user:{user.id}")
    return user
