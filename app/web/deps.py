"""FastAPI dependencies and their `Annotated` aliases, used by every route."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.config import Settings
from app.db.models import Role, User
from app.errors import Forbidden, NotAuthenticated, PasswordChangeRequired
from app.services import sessions


async def get_app_settings(request: Request) -> Settings:
    """The settings the app was created with (`create_app(settings=...)`); never re-read."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def get_db(request: Request) -> Iterator[Session]:
    """One session per request; commits when the route returns, rolls back on any error."""
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            # Detach first: a rollback expires every loaded object, and the error page still
            # reads the signed-in user after this session is closed.
            session.expunge_all()
            session.rollback()
            raise


# scope="function": commit before the response is sent. With FastAPI's default ("request") the
# commit ran after the client already had its 200 or redirect, so a failed commit was a silent
# loss ("Saved" shown, nothing stored) and the next page could be read before the commit landed.
SessionDep = Annotated[Session, Depends(get_db, scope="function")]

_T = TypeVar("_T")


async def in_transaction(request: Request, work: Callable[..., _T], *args: Any) -> _T:
    """`work(session, *args)` in the thread pool, in one transaction: what a plain `def` route
    with SessionDep gets (committed before the response is sent, rolled back on any error), in
    one trip to the thread pool instead of three (the session's start, the route, the commit).
    For the busiest routes, the respondent's form page and autosave; on SQLite it also means the
    write lock an autosave takes is released as soon as its work is done."""

    def run() -> _T:
        with Session(request.app.state.engine, expire_on_commit=False) as session:
            try:
                result = work(session, *args)
                session.commit()
                return result
            except BaseException:
                session.expunge_all()  # as get_db: the error page may still read loaded rows
                session.rollback()
                raise

    return await run_in_threadpool(run)


# The session cookie's key for the server-side session token (app/services/sessions.py).
SESSION_KEY = "sid"
CHANGE_PASSWORD_PATH = "/account/password"
# What a user whose password was set by an administrator may open before choosing their own.
_ALLOWED_BEFORE_CHANGE = {CHANGE_PASSWORD_PATH, "/logout"}


def get_optional_user(request: Request, session: SessionDep) -> User | None:
    """The signed-in user: the cookie's token must name a live session row of an active account,
    checked on every request, so sign-out and revocations take effect at once."""
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str):
        if "user_id" in request.session:  # a cookie from before server-side sessions
            request.session.clear()
        return None
    user = sessions.user_for(session, token=token)
    if user is None:
        request.session.clear()
        return None
    request.state.user = user
    return user


OptionalUser = Annotated[User | None, Depends(get_optional_user)]


def get_current_user(request: Request, user: OptionalUser) -> User:
    if user is None:
        raise NotAuthenticated("Please sign in to continue.")
    if user.must_change_password and request.url.path not in _ALLOWED_BEFORE_CHANGE:
        raise PasswordChangeRequired(
            "Choose your own password first: the one you signed in with was temporary."
        )
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: Role) -> Callable[[User], User]:
    def checker(user: CurrentUser) -> User:
        if user.role not in roles:
            raise Forbidden("Your role does not give access to this page.")
        return user

    return checker


# One callable, so a router-level dependency and an `admin: AdminUser` parameter of the same
# request share FastAPI's per-request cache (the check runs once).
require_admin = require_roles(Role.admin)
AdminUser = Annotated[User, Depends(require_admin)]
