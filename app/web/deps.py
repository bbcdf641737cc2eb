"""FastAPI dependencies and their `Annotated` aliases, used by every route."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from app.config import Settings
from app.db.models import Role, User
from app.errors import Forbidden, NotAuthenticated
from app.services import accounts


def get_app_settings(request: Request) -> Settings:
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


def get_optional_user(request: Request, session: SessionDep) -> User | None:
    user_id = request.session.get("user_id")
    if not isinstance(user_id, int):
        return None
    user = accounts.find_user(session, user_id=user_id)
    # A session stays valid only while the account is active and its password unchanged.
    if user is None or not user.is_active or request.session.get("pw") != user.password_hash[-16:]:
        request.session.clear()
        return None
    request.state.user = user
    return user


OptionalUser = Annotated[User | None, Depends(get_optional_user)]


def get_current_user(user: OptionalUser) -> User:
    if user is None:
        raise NotAuthenticated("Please sign in to continue.")
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
