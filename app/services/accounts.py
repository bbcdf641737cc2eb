"""Accounts: password hashing, sign-in with lockout, password change and reset, user admin.

Sign-in never says whether an email exists: unknown email, wrong password and a locked account
all get the same message, and an unknown email still costs one hash verification so the
timing does not tell them apart either.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import NoReturn

from pwdlib import PasswordHash
from sqlalchemy import func, or_, update
from sqlmodel import Session, col, select

from app.config import Settings
from app.db.models import Membership, Organization, Portfolio, PortfolioMembership, Role, User, utcnow
from app.errors import BadInput, Conflict, NotFound, TooManyRequests
from app.i18n import N_
from app.services import access, audit, ratelimit, sessions

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; this only bounds the work per attempt
LOGIN_FAILED_MESSAGE = N_(
    "That email and password do not match an active account. "
    "After several failed attempts sign-in pauses for a while; try again later or ask your administrator."
)
LOGIN_PAUSED_MESSAGE = N_(
    "Sign-in with this email address is paused for a while after several failed attempts. "
    "Try again in a few minutes, or ask your administrator."
)
# Failed sign-ins allowed from one client address in the window before it gets 429.
LOGIN_IP_LIMIT = 30
LOGIN_IP_WINDOW_SECONDS = 600
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

_hasher = PasswordHash.recommended()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, hashed: str) -> bool:
    try:
        return _hasher.verify(password, hashed)
    except Exception:  # a malformed stored hash is a failed check, never a crash
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("not-a-real-password-only-for-timing")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def validate_email(email: str) -> str:
    email = normalize_email(email)
    if len(email) > 254 or not EMAIL_PATTERN.match(email):
        raise BadInput(N_("Enter a valid email address, like name@example.org."))
    return email


def validate_new_password(password: str, repeat: str | None = None) -> None:
    if repeat is not None and password != repeat:
        raise BadInput(N_("The two new passwords are not the same."))
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadInput(
            N_("A password needs at least %(num)s characters."), params={"num": MIN_PASSWORD_LENGTH}
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise BadInput(
            N_("A password can have at most %(num)s characters."), params={"num": MAX_PASSWORD_LENGTH}
        )
    if not password.strip():
        raise BadInput(N_("A password cannot be only spaces."))


# --- sign-in --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.user is not None


def _email_bucket(email: str) -> str:
    # Hashed: the bucket table is no place to collect the addresses people typed.
    return "login-email:" + hashlib.sha256(email.encode("utf-8")).hexdigest()


def authenticate(
    session: Session,
    *,
    email: str,
    password: str,
    client_ip: str,
    settings: Settings,
    now: datetime | None = None,
) -> LoginResult:
    """Check a sign-in attempt and record its outcome (failures, lockout, audit).

    Returns a LoginResult instead of raising so the caller's transaction commits the failure
    counters. Raises TooManyRequests when this client address has failed too often.

    Every limit is counted atomically (one UPDATE ... RETURNING or upsert per attempt), so
    parallel attempts cannot all read "under the limit": 20 wrong passwords at once lock the
    account once, and at most LOGIN_IP_LIMIT failures per address get past the address limit.

    Locked: after `login_max_failures` failures in a row, sign-in to that email address is paused
    — for an account, until `locked_until`; for an address without an active account, for the
    first lock's duration (a bucket counts its failures). While paused, every attempt gets
    LOGIN_PAUSED_MESSAGE, the right password too, and whether the account exists: so the pause
    tells neither whether the password was right nor whether the account exists.
    """
    now = now or utcnow()
    ip_bucket = f"login-ip:{client_ip}"
    if (
        ratelimit.count(session, bucket=ip_bucket, window_seconds=LOGIN_IP_WINDOW_SECONDS, now=now)
        >= LOGIN_IP_LIMIT
    ):
        _refuse_address(session, client_ip=client_ip)

    email = normalize_email(email)[:254]
    password = password[:MAX_PASSWORD_LENGTH]
    user = session.exec(select(User).where(User.email == email)).first() if email else None
    stored_hash = user.password_hash if user is not None else ""
    locked_until = user.locked_until if user is not None else None
    active = user is not None and user.is_active
    # Nothing is written yet: end the read, so the database connection goes back to the pool
    # while argon2 works (a burst of sign-ins must not hold every connection for the hashing).
    session.rollback()

    if user is None or not active:
        verify_password(password, _dummy_hash())  # same cost as a real check
        _count_address_failure(session, ip_bucket=ip_bucket, client_ip=client_ip, now=now)
        failures = ratelimit.hit(
            session, bucket=_email_bucket(email), window_seconds=settings.login_lockout_seconds, now=now
        )
        audit.record(
            session,
            actor=user if user else "anonymous",
            action="login.failed",
            target=f"user:{user.id}" if user else None,
            detail={"reason": "unknown" if user is None else "inactive", "ip": client_ip},
        )
        paused = failures >= settings.login_max_failures
        return LoginResult(None, LOGIN_PAUSED_MESSAGE if paused else LOGIN_FAILED_MESSAGE)

    try:
        valid, rehashed = _hasher.verify_and_update(password, stored_hash)
    except Exception:  # a malformed stored hash is a failed check, never a crash
        valid, rehashed = False, None

    if locked_until is not None and locked_until > now:
        if not valid:
            _count_address_failure(session, ip_bucket=ip_bucket, client_ip=client_ip, now=now)
        audit.record(
            session,
            actor=user,
            action="login.failed",
            target=f"user:{user.id}",
            detail={"reason": "locked", "ip": client_ip},
        )
        return LoginResult(None, LOGIN_PAUSED_MESSAGE)

    if not valid:
        _count_address_failure(session, ip_bucket=ip_bucket, client_ip=client_ip, now=now)
        locked_for = _count_account_failure(session, user=user, settings=settings, now=now)
        detail: dict = {"reason": "password", "ip": client_ip}
        if locked_for:
            detail["locked_for_seconds"] = locked_for
        audit.record(session, actor=user, action="login.failed", target=f"user:{user.id}", detail=detail)
        return LoginResult(None, LOGIN_PAUSED_MESSAGE if locked_for is not None else LOGIN_FAILED_MESSAGE)

    if rehashed:  # stored with older parameters: upgrade while we have the password
        user.password_hash = rehashed
    user.failed_logins = 0
    user.lockouts = 0
    user.locked_until = None
    user.last_login_at = now
    session.add(user)
    audit.record(
        session, actor=user, action="login.succeeded", target=f"user:{user.id}", detail={"ip": client_ip}
    )
    return LoginResult(user)


def _refuse_address(session: Session, *, client_ip: str) -> NoReturn:
    audit.record(session, actor="anonymous", action="login.rate_limited", detail={"ip": client_ip})
    raise TooManyRequests(
        N_("Too many sign-in attempts from this network. Wait a few minutes and try again.")
    )


def _count_address_failure(session: Session, *, ip_bucket: str, client_ip: str, now: datetime) -> None:
    failures = ratelimit.hit(session, bucket=ip_bucket, window_seconds=LOGIN_IP_WINDOW_SECONDS, now=now)
    if failures > LOGIN_IP_LIMIT:
        _refuse_address(session, client_ip=client_ip)


def _count_account_failure(session: Session, *, user: User, settings: Settings, now: datetime) -> int | None:
    """Add one failed sign-in to the account, atomically; lock it when that makes
    `login_max_failures`. Returns the lock's seconds when this attempt locked it, 0 when another
    attempt locked it meanwhile, None when it is not locked."""
    not_locked = or_(col(User.locked_until).is_(None), col(User.locked_until) <= now)
    row = session.execute(
        update(User)
        .where(col(User.id) == user.id, not_locked)
        .values(failed_logins=User.failed_logins + 1)
        .returning(col(User.failed_logins), col(User.lockouts))
        .execution_options(synchronize_session=False)
    ).first()
    locked_for: int | None = None
    if row is None:  # a parallel attempt locked it after this one read the account
        locked_for = 0
    elif row[0] >= settings.login_max_failures:
        # The UPDATE holds the row (PostgreSQL) or the database (SQLite) until commit, so no
        # other attempt counts between it and this lock.
        locked_for = settings.login_lockout_seconds * 2 ** min(row[1], 16)
        session.execute(
            update(User)
            .where(col(User.id) == user.id)
            .values(locked_until=now + timedelta(seconds=locked_for), lockouts=row[1] + 1, failed_logins=0)
            .execution_options(synchronize_session=False)
        )
    session.expire(user)
    return locked_for


# --- interface language ---------------------------------------------------------------------


def set_language(session: Session, *, user: User, language: str) -> None:
    """The user's interface language ("" for the browser's choice); BadInput for another value."""
    from app import i18n

    if language and i18n.normalize(language) != language:
        raise BadInput(
            N_("Choose one of: %(languages)s, or the browser's language."),
            params={"languages": ", ".join(i18n.LANGUAGES)},
        )
    user.language = language or None
    session.add(user)


# --- passwords ------------------------------------------------------------------------------


def change_password(session: Session, *, user: User, current: str, new: str, repeat: str) -> None:
    if not verify_password(current[:MAX_PASSWORD_LENGTH], user.password_hash):
        raise BadInput(N_("Your current password is not right."))
    validate_new_password(new, repeat)
    if new == current:
        raise BadInput(N_("Choose a new password that differs from the current one."))
    user.password_hash = hash_password(new)
    user.must_change_password = False
    session.add(user)
    # Every session of this user ends; the caller signs the current browser in afresh.
    sessions.end_all(session, user_id=user.id)
    audit.record(session, actor=user, action="password.changed", target=f"user:{user.id}")


def reset_password(
    session: Session, *, actor: User | str, user: User, temporary_password: str, temporary: bool = False
) -> None:
    """An administrator (or the operator, actor "command line") sets a new password; it also
    lifts any lockout and ends every session of the user. `temporary`: the user must choose
    their own password at their next sign-in (an administrator's reset of someone else)."""
    validate_new_password(temporary_password)
    user.password_hash = hash_password(temporary_password)
    user.failed_logins = 0
    user.lockouts = 0
    user.locked_until = None
    user.must_change_password = temporary
    session.add(user)
    sessions.end_all(session, user_id=user.id)
    audit.record(
        session, actor=actor, action="password.reset", target=f"user:{user.id}", detail={"email": user.email}
    )


# --- users ----------------------------------------------------------------------------------


def get_user(session: Session, *, user_id: int) -> User:
    return access.get_row(session, User, user_id, missing=N_("No such user."))


def find_user(session: Session, *, user_id: int) -> User | None:
    """The user with this id, or None (for the id a session cookie names)."""
    return session.get(User, user_id) if access.is_valid_id(user_id) else None


def find_user_by_email(session: Session, *, email: str) -> User | None:
    return session.exec(select(User).where(User.email == normalize_email(email))).first()


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(User.email)))


def count_admins(session: Session) -> int:
    return session.exec(
        select(func.count()).select_from(User).where(User.role == Role.admin, User.is_active)
    ).one()


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    role: Role | str,
    password: str,
    actor: User | str | None = None,
    is_active: bool = True,
    temporary: bool = False,
) -> User:
    """A new account. `temporary`: the password was made up by an administrator, so the first
    sign-in leads to "Change your password" until the user has chosen their own."""
    email = validate_email(email)
    name = name.strip() or email.split("@")[0]
    if len(name) > 200:
        raise BadInput(N_("A name can have at most 200 characters."))
    try:
        role = Role(role)
    except ValueError:
        raise BadInput(N_("Choose one of the roles listed.")) from None
    validate_new_password(password)
    if session.exec(select(User.id).where(User.email == email)).first() is not None:
        raise Conflict(N_("A user with this email already exists."))
    user = User(
        email=email,
        name=name,
        role=role,
        password_hash=hash_password(password),
        is_active=is_active,
        must_change_password=temporary,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.created",
        target=f"user:{user.id}",
        detail={"email": email, "role": role.value},
    )
    return user


def update_user(
    session: Session, *, actor: User, user: User, email: str, name: str, role: Role | str, is_active: bool
) -> User:
    email = validate_email(email)
    name = name.strip()
    if not name or len(name) > 200:
        raise BadInput(N_("Enter a name of at most 200 characters."))
    try:
        role = Role(role)
    except ValueError:
        raise BadInput(N_("Choose one of the roles listed.")) from None
    clash = session.exec(select(User.id).where(User.email == email, User.id != user.id)).first()
    if clash is not None:
        raise Conflict(N_("A user with this email already exists."))
    losing_admin = user.role == Role.admin and user.is_active and (role != Role.admin or not is_active)
    if losing_admin and count_admins(session) <= 1:
        raise Conflict(N_("This is the last active administrator; add another one first."))
    before = {"email": user.email, "name": user.name, "role": user.role.value, "active": user.is_active}
    user.email, user.name, user.role, user.is_active = email, name, role, is_active
    after = {"email": email, "name": name, "role": role.value, "active": is_active}
    if before["role"] != after["role"]:
        # A role change drops memberships that no longer fit the new role.
        _drop_memberships_outside_role(session, user=user)
    if before["role"] != after["role"] or not is_active:
        # What a session may do follows from the role: the user signs in again under the new one.
        sessions.end_all(session, user_id=user.id)
    session.add(user)
    changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if changes:
        audit.record(session, actor=actor, action="user.updated", target=f"user:{user.id}", detail=changes)
    return user


def _drop_memberships_outside_role(session: Session, *, user: User) -> None:
    if user.role not in (Role.consultant, Role.org_lead):
        for row in session.exec(select(Membership).where(Membership.user_id == user.id)):
            session.delete(row)
    if user.role != Role.funder:
        for portfolio_row in session.exec(
            select(PortfolioMembership).where(PortfolioMembership.user_id == user.id)
        ):
            session.delete(portfolio_row)


# --- memberships ----------------------------------------------------------------------------


def add_membership(
    session: Session, *, actor: User | str | None, user: User, organization: Organization
) -> None:
    if user.role not in (Role.consultant, Role.org_lead):
        raise BadInput(N_("Only consultants and organization leads are linked to organizations."))
    exists = session.exec(
        select(Membership.id).where(
            Membership.user_id == user.id, Membership.organization_id == organization.id
        )
    ).first()
    if exists is not None:
        raise Conflict(
            N_("%(email)s already belongs to %(organization)s."),
            params={"email": user.email, "organization": organization.name},
        )
    session.add(Membership(user_id=user.id, organization_id=organization.id))
    audit.record(
        session,
        actor=actor,
        action="membership.added",
        target=f"user:{user.id}",
        organization_id=organization.id,
        detail={"email": user.email, "organization": organization.name},
    )


def remove_membership(session: Session, *, actor: User, user: User, organization_id: int) -> None:
    row = session.exec(
        select(Membership).where(Membership.user_id == user.id, Membership.organization_id == organization_id)
    ).first()
    if row is None:
        raise NotFound(N_("No such membership."))
    session.delete(row)
    audit.record(
        session,
        actor=actor,
        action="membership.removed",
        target=f"user:{user.id}",
        organization_id=organization_id,
        detail={"email": user.email},
    )


def add_portfolio_membership(
    session: Session, *, actor: User | str | None, user: User, portfolio: Portfolio
) -> None:
    if user.role != Role.funder:
        raise BadInput(N_("Only funders are linked to portfolios."))
    exists = session.exec(
        select(PortfolioMembership.id).where(
            PortfolioMembership.user_id == user.id, PortfolioMembership.portfolio_id == portfolio.id
        )
    ).first()
    if exists is not None:
        raise Conflict(
            N_("%(email)s already follows %(portfolio)s."),
            params={"email": user.email, "portfolio": portfolio.name},
        )
    session.add(PortfolioMembership(user_id=user.id, portfolio_id=portfolio.id))
    audit.record(
        session,
        actor=actor,
        action="portfolio_membership.added",
        target=f"user:{user.id}",
        detail={"email": user.email, "portfolio": portfolio.name},
    )


def remove_portfolio_membership(session: Session, *, actor: User, user: User, portfolio_id: int) -> None:
    row = session.exec(
        select(PortfolioMembership).where(
            PortfolioMembership.user_id == user.id, PortfolioMembership.portfolio_id == portfolio_id
        )
    ).first()
    if row is None:
        raise NotFound(N_("No such portfolio membership."))
    session.delete(row)
    audit.record(
        session,
        actor=actor,
        action="portfolio_membership.removed",
        target=f"user:{user.id}",
        detail={"email": user.email, "portfolio_id": portfolio_id},
    )


def memberships_of(session: Session, *, user: User) -> list[Organization]:
    return list(
        session.exec(
            select(Organization)
            .join(Membership, col(Membership.organization_id) == Organization.id)
            .where(Membership.user_id == user.id)
            .order_by(Organization.name)
        )
    )


def portfolios_of(session: Session, *, user: User) -> list[Portfolio]:
    return list(
        session.exec(
            select(Portfolio)
            .join(PortfolioMembership, col(PortfolioMembership.portfolio_id) == Portfolio.id)
            .where(PortfolioMembership.user_id == user.id)
            .order_by(Portfolio.name)
        )
    )


def end_sessions(session: Session, *, actor: User, user: User) -> int:
    """An administrator's "End all sessions": every browser signed in as `user` is signed out."""
    ended = sessions.end_all(session, user_id=user.id)
    audit.record(
        session, actor=actor, action="sessions.ended", target=f"user:{user.id}", detail={"sessions": ended}
    )
    return ended


def open_sessions(session: Session, *, user: User) -> int:
    return sessions.count_for(session, user_id=user.id)
