"""Sign in, sign out and change one's own password."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app import i18n
from app.config import Settings
from app.db.models import User
from app.errors import BadInput, NotFound, TooManyRequests
from app.services import accounts, audit, jobs, password_resets, ratelimit, sessions
from app.web.deps import CHANGE_PASSWORD_PATH, SESSION_KEY, CurrentUser, OptionalUser, SessionDep, SettingsDep
from app.web.routes.home import START_PAGE
from app.web.templating import render

router = APIRouter()
log = logging.getLogger("peerready.auth")

PASSWORD_FIELD = Annotated[str, Form(max_length=accounts.MAX_PASSWORD_LENGTH)]


def safe_next(value: str | None) -> str | None:
    """Only same-site paths: "/x" yes, "//evil.example" or "https://…" no (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")) or "\\" in value:
        return None
    if any(ord(ch) < 32 for ch in value) or value.startswith(("/login", "/logout")):
        return None
    return value[:500]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def sign_in(request: Request, session: Session, user: User) -> None:
    """A fresh server-side session for the signed-in user (app/services/sessions.py); the cookie
    holds only its token. Clearing first rotates the CSRF token too."""
    settings = request.app.state.settings
    token = sessions.start(session, user=user, max_age_seconds=settings.session_max_age)
    request.session.clear()
    request.session[SESSION_KEY] = token


@router.get("/login", include_in_schema=False)
def login_form(request: Request, user: OptionalUser, next: str | None = None):
    if user is not None:
        return RedirectResponse(safe_next(next) or START_PAGE[user.role], status_code=303)
    return render(
        request,
        "auth/login.html",
        next=safe_next(next) or "",
        email="",
        error=None,
        reset_done=request.query_params.get("reset") == "1",
    )


@router.post("/login", include_in_schema=False)
def login_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=400)] = "",
    password: PASSWORD_FIELD = "",
    next: Annotated[str, Form(max_length=2000)] = "",
):
    target = safe_next(next)
    try:
        result = accounts.authenticate(
            session,
            email=email,
            password=password,
            client_ip=client_ip(request),
            settings=settings,
        )
    except TooManyRequests as exc:
        return render(
            request,
            "auth/login.html",
            status_code=429,
            next=target or "",
            email=email,
            error=exc.lazy_message,
        )
    if result.user is None:
        return render(
            request,
            "auth/login.html",
            status_code=400,
            next=target or "",
            email=email,
            error=i18n.lazy_gettext(result.message or accounts.LOGIN_FAILED_MESSAGE),
        )
    ratelimit.prune(session)
    sessions.prune(session)
    sign_in(request, session, result.user)
    if result.user.must_change_password:
        return RedirectResponse(CHANGE_PASSWORD_PATH, status_code=303)
    return RedirectResponse(target or START_PAGE[result.user.role], status_code=303)


@router.post("/logout", include_in_schema=False)
def logout(request: Request, session: SessionDep, user: OptionalUser):
    if user is not None:
        audit.record(session, actor=user, action="logout", target=f"user:{user.id}")
    token = request.session.get(SESSION_KEY)
    if isinstance(token, str):
        sessions.end(session, token=token)  # a saved copy of the cookie stops working too
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/account/password", include_in_schema=False)
def password_form(request: Request, user: CurrentUser):
    return render(
        request,
        "auth/password.html",
        error=None,
        done=False,
        forced=user.must_change_password,
        min_length=accounts.MIN_PASSWORD_LENGTH,
        breadcrumbs=[(i18n.lazy_gettext("Your account"), None)],
        languages=[(code, i18n.LANGUAGE_NAMES[code]) for code in i18n.LANGUAGES],
        language_saved=request.query_params.get("language") == "saved",
    )


@router.post("/account/password", include_in_schema=False)
def password_submit(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    current_password: PASSWORD_FIELD = "",
    new_password: PASSWORD_FIELD = "",
    repeat_password: PASSWORD_FIELD = "",
):
    try:
        accounts.change_password(
            session, user=user, current=current_password, new=new_password, repeat=repeat_password
        )
    except BadInput as exc:
        return render(
            request,
            "auth/password.html",
            status_code=400,
            error=exc.lazy_message,
            done=False,
            forced=user.must_change_password,
            min_length=accounts.MIN_PASSWORD_LENGTH,
            breadcrumbs=[(i18n.lazy_gettext("Your account"), None)],
            languages=[(code, i18n.LANGUAGE_NAMES[code]) for code in i18n.LANGUAGES],
        )
    # Every session of this user ended with the change; this browser gets a fresh one.
    sign_in(request, session, user)
    return render(
        request,
        "auth/password.html",
        error=None,
        done=True,
        forced=False,
        start_page=START_PAGE[user.role],
        csrf_token=_fresh_csrf(request),
        min_length=accounts.MIN_PASSWORD_LENGTH,
        breadcrumbs=[(i18n.lazy_gettext("Your account"), None)],
        languages=[(code, i18n.LANGUAGE_NAMES[code]) for code in i18n.LANGUAGES],
    )


@router.post("/account/language", include_in_schema=False)
def language_submit(
    session: SessionDep,
    user: CurrentUser,
    language: Annotated[str, Form(max_length=16)] = "",
):
    """The interface language of this account (pages, and reports downloaded without ?lang)."""
    accounts.set_language(session, user=user, language=language)
    return RedirectResponse("/account/password?language=saved", status_code=303)


def _fresh_csrf(request: Request) -> str:
    from app.web.security import csrf_token

    token = csrf_token(request)
    request.state.csrf_token = token
    return token


# --- password reset by email ------------------------------------------------------------------


@router.get("/password/forgot", include_in_schema=False)
def forgot_form(request: Request):
    return render(request, "auth/forgot.html", error=None, done=None)


@router.post("/password/forgot", include_in_schema=False)
def forgot_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    background: BackgroundTasks,
    email: Annotated[str, Form(max_length=400)] = "",
):
    """The same answer whether or not the address has an account (and whether it was mailed)."""
    try:
        reset = password_resets.request_reset(
            session, email=email, client_ip=client_ip(request), secret_key=settings.secret_key
        )
    except TooManyRequests as exc:
        return render(request, "auth/forgot.html", status_code=429, error=exc.lazy_message, done=None)
    # Every request starts one email job, and only once the answer has gone out: with the
    # immediate queue the job (and so the SMTP conversation) would otherwise run inside this
    # request, and a slower answer would tell that the address has an account.
    reset_id = reset.id if reset is not None else None
    background.add_task(_start_reset_email, request.app.state.engine, settings, reset_id)
    return render(
        request, "auth/forgot.html", error=None, done=i18n.lazy_gettext(password_resets.SAME_ANSWER)
    )


def _start_reset_email(engine: Engine, settings: Settings, reset_id: int | None) -> None:
    try:
        with Session(engine, expire_on_commit=False) as session:
            jobs.start(session, "email", params={"password_reset_id": reset_id}, user=None, settings=settings)
    except Exception:
        # The answer has been sent; a job that could not start is logged, like start_after_commit's.
        log.exception("Could not start the password reset email job")


def _reset_page(request: Request, token: str, *, status_code: int = 200, **extra):
    extra.setdefault("error", None)
    extra.setdefault("invalid", False)
    response = render(
        request,
        "auth/reset.html",
        status_code=status_code,
        token=token,
        min_length=accounts.MIN_PASSWORD_LENGTH,
        **extra,
    )
    response.headers["cache-control"] = "no-store"
    return response


@router.get("/password/reset/{token}", include_in_schema=False)
def reset_form(token: str, request: Request, session: SessionDep):
    try:
        password_resets.check_token(session, token=token, client_ip=client_ip(request))
    except NotFound as exc:
        return _reset_page(request, token, status_code=404, error=exc.lazy_message, invalid=True)
    return _reset_page(request, token)


@router.post("/password/reset/{token}", include_in_schema=False)
def reset_submit(
    token: str,
    request: Request,
    session: SessionDep,
    new_password: PASSWORD_FIELD = "",
    repeat_password: PASSWORD_FIELD = "",
):
    try:
        password_resets.complete_reset(
            session, token=token, new=new_password, repeat=repeat_password, client_ip=client_ip(request)
        )
    except NotFound as exc:
        session.rollback()
        return _reset_page(request, token, status_code=404, error=exc.lazy_message, invalid=True)
    except BadInput as exc:
        session.rollback()
        return _reset_page(request, token, status_code=400, error=exc.lazy_message)
    request.session.clear()
    return RedirectResponse("/login?reset=1", status_code=303)
