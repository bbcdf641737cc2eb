"""The FastAPI application: middleware, error pages, static files and the routers."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from app import i18n
from app.config import Settings
from app.db.engine import PoolTimeout, engine_from_settings
from app.errors import BadInput, NotAuthenticated, PasswordChangeRequired, PeerReadyError
from app.i18n import N_
from app.paths import STATIC_DIR
from app.services import report_prepare, sessions
from app.web import security
from app.web.deps import CHANGE_PASSWORD_PATH, SESSION_KEY
from app.web.routes import ROUTERS, respond
from app.web.templating import build_templates, render

log = logging.getLogger("peerready")


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def _account_language(request: Request) -> None:
    """An error raised before the route looked up who is signed in (a refused form, an address
    that matches no route) is still shown in the account's language: the session's user is read
    for its language only (the page does not become a signed-in page). Never for 5xx answers,
    whose cause may be the database itself."""
    known = getattr(request.state, "user", None) is not None or getattr(request.state, "locale", None)
    if known or "session" not in request.scope:
        return
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str):
        return
    try:
        with Session(request.app.state.engine) as db:
            user = sessions.user_for(db, token=token)
    except Exception:  # the language is a nicety; the error page must still be shown
        log.warning("Could not read the account language for an error page", exc_info=True)
        return
    if user is not None and user.language:
        request.state.locale = i18n.negotiate([request.query_params.get("lang"), user.language])


def _error_response(request: Request, exc: PeerReadyError, status_code: int | None = None):
    """JSON (the message as raised, English unless a route chose a language) or the error page,
    whose message is written in the page's language."""
    status_code = status_code or exc.status_code
    if _wants_json(request):
        return JSONResponse({"detail": exc.message}, status_code=status_code)
    if status_code == 401:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    if status_code < 500:
        _account_language(request)
    return render(
        request, "error.html", status_code=status_code, status=status_code, message=exc.lazy_message
    )


_heap_frozen = False


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # What exists once the app is up (modules, templates, the instrument catalog) lives as long as
    # the process: moved out of the collector's reach, it is no longer traversed by every full
    # collection, which a portfolio page of 5,000 sites set off every other request (~170 ms each
    # on PostgreSQL, measured). Once per process: a later app in the same process (tests) would
    # freeze the earlier ones' garbage for good.
    global _heap_frozen
    if not _heap_frozen:
        _heap_frozen = True
        gc.collect()
        gc.freeze()
    yield


def create_app(*, settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The app, with everything it needs made once from `settings` (read from the environment
    and `.env` only when none are given, as `uvicorn --factory` does)."""
    settings = settings if settings is not None else Settings()
    app = FastAPI(
        lifespan=_lifespan,
        title="PeerReady",
        version="0.1.0",
        description="Organizational readiness for parent peer specialists. The JSON API is read-only.",
        docs_url=None,  # our own page at /api/docs (see routes/api.py): Swagger UI needs a CDN
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.engine = engine if engine is not None else engine_from_settings(settings)
    # Changes made through this app re-render the affected reports in the background.
    report_prepare.watch(app.state.engine, settings)
    # Templates are read again when their file changes only in development.
    app.state.templates = build_templates(settings.templates_dir, auto_reload=settings.env == "development")
    security.install(app, settings)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    for path, endpoint, methods in respond.FAST_ROUTES:
        app.router.add_route(path, endpoint, methods=methods, include_in_schema=False)
        # Starlette answers HEAD on a GET route by running it: a link checker's HEAD would move
        # where a respondent resumes. FastAPI's routes answer it 405, and so do these.
        route = app.router.routes[-1]
        assert isinstance(route, Route) and route.path == path
        route.methods.discard("HEAD")  # type: ignore[union-attr]
    for router in ROUTERS:
        app.include_router(router)

    @app.exception_handler(PeerReadyError)
    async def _domain_error(request: Request, exc: PeerReadyError):
        if isinstance(exc, NotAuthenticated) and not _wants_json(request):
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        if isinstance(exc, PasswordChangeRequired) and not _wants_json(request):
            return RedirectResponse(CHANGE_PASSWORD_PATH, status_code=303)
        return _error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        fields = sorted({".".join(str(p) for p in e.get("loc", ())[1:]) or "request" for e in exc.errors()})
        problem = BadInput(
            N_("Some of what was sent is not valid: %(fields)s"), params={"fields": ", ".join(fields)}
        )
        return _error_response(request, problem, 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else N_("Request failed.")
        if exc.status_code == 404:
            message = N_("This page does not exist.")
        return _error_response(request, PeerReadyError(message), exc.status_code)

    @app.exception_handler(PoolTimeout)
    async def _busy(request: Request, exc: PoolTimeout):
        # Every database connection of this process stayed busy for the pool's whole timeout: a
        # burst, not a bug. Nothing was saved; the client may simply try again.
        log.warning(
            "No database connection free for %s %s", request.method, security.redact_path(request.url.path)
        )
        busy = N_("PeerReady is very busy right now. Nothing was saved; try again in a moment.")
        return _error_response(request, PeerReadyError(busy), 503)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        # Never a traceback to a user: log it, show a calm page.
        log.exception("Unhandled error on %s %s", request.method, security.redact_path(request.url.path))
        return _error_response(request, PeerReadyError(security.SERVER_ERROR_MESSAGE), 500)

    return app
