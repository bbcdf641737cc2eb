"""FastAPI dependencies and their `Annotated` aliases, used by every route."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.config import Settings
from app.db.engine import is_sqlite_busy, sqlite_without_waiting
from app.db.models import Role, User
from app.errors import Forbidden, NotAuthenticated, PasswordChangeRequired
from app.i18n import N_
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
    """`work(session, *args)` in one transaction: what a plain `def` route with SessionDep gets
    (committed before the response is sent, rolled back on any error), without its three trips
    to the thread pool (the session's start, the route, the commit). For the busiest routes, the
    respondent's form page and autosave.

    On SQLite the work runs on the event loop itself: a form page or an autosave is a few short
    statements on a local file, and the thread pool's hop (and its threads' contention for the
    GIL) cost more than the work. It must never wait there for the database's write lock (the
    loop would stop, and with it perhaps the request holding the lock, which needs the loop to
    commit), so it runs with SQLite's busy timeout at 0: when another writer holds the lock (a
    route in the thread pool, another process), the attempt is rolled back at once and the whole
    transaction runs again in the thread pool, where it waits for the lock as any route does.
    On PostgreSQL (network round trips, row locks) it always runs in the thread pool."""
    return await _on_loop_or_pool(request, _transaction, work, args)


async def in_connection(request: Request, work: Callable[..., _T], *args: Any) -> _T:
    """`in_transaction` without an ORM session: `work(connection, *args)` in one transaction on
    a Core connection, for the autosave, whose statements are all Core (a session's start,
    commit and close cost as much again as its lookup)."""
    return await _on_loop_or_pool(request, _connection_transaction, work, args)


async def _on_loop_or_pool(
    request: Request,
    run: Callable[[Engine, Callable[..., _T], tuple[Any, ...]], _T],
    work: Callable[..., _T],
    args: tuple[Any, ...],
) -> _T:
    engine = request.app.state.engine
    if engine.dialect.name == "sqlite":
        try:
            with sqlite_without_waiting():
                return run(engine, work, args)
        except Exception as exc:  # the database layer tells what "busy" is (tests/test_layout.py)
            if not is_sqlite_busy(exc):
                raise
    return await run_in_threadpool(run, engine, work, args)


def _connection_transaction(engine: Engine, work: Callable[..., _T], args: tuple[Any, ...]) -> _T:
    with engine.begin() as connection:  # committed on return, rolled back on any error
        return work(connection, *args)


def _transaction(engine: Engine, work: Callable[..., _T], args: tuple[Any, ...]) -> _T:
    with Session(engine, expire_on_commit=False) as session:
        try:
            result = work(session, *args)
            session.commit()
            return result
        except BaseException:
            session.expunge_all()  # as get_db: the error page may still read loaded rows
            session.rollback()
            raise


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
        raise NotAuthenticated(N_("Please sign in to continue."))
    if user.must_change_password and request.url.path not in _ALLOWED_BEFORE_CHANGE:
        raise PasswordChangeRequired(
            N_("Choose your own password first: the one you signed in with was temporary.")
        )
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: Role) -> Callable[[User], User]:
    def checker(user: CurrentUser) -> User:
        if user.role not in roles:
            raise Forbidden(N_("Your role does not give access to this page."))
        return user

    return checker


# One callable, so a router-level dependency and an `admin: AdminUser` parameter of the same
# request share FastAPI's per-request cache (the check runs once).
require_admin = require_roles(Role.admin)
AdminUser = Annotated[User, Depends(require_admin)]
