"""Security plumbing shared by every route: signed session cookie, CSRF check, body size limit
and security headers. Kept as plain ASGI middleware so streamed bodies are counted too."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.errors import Forbidden
from app.i18n import N_, lazy_gettext
from app.web.boundary import verify_input

log = logging.getLogger("peerready")

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
TOO_LARGE = b"Request body too large."
NO_STORE = b"no-store"

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class BodySizeLimit:
    """Refuse bodies over the limit with 413 before any route sees them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _plain(send, 413, TOO_LARGE)
            return
        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # Frameworks may turn the exception into their own 400 ("error parsing the body");
            # once the limit is hit the answer is always 413, whatever the app tries to send.
            nonlocal started
            if exceeded:
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await _plain(send, 413, TOO_LARGE)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
            if not started:
                await _plain(send, 413, TOO_LARGE)


class _BodyTooLarge(Exception):
    pass


async def _plain(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ]
            + SECURITY_HEADERS,
        }
    )
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = False
        # Every page but the static files is no-store: signed-in pages and downloads hold
        # people's data, and a shared computer's cache or back button must not show them later.
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                replaced = dict(SECURITY_HEADERS)
                if not static:
                    replaced[b"cache-control"] = NO_STORE
                headers = [h for h in message.get("headers", []) if h[0] not in replaced]
                headers += list(replaced.items())
                if self.https:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # Starlette answers unhandled errors from outside every middleware, so that page would
            # lack these headers: answer here with the calm page. Once it is sent, the error is
            # logged and not raised again: re-raised, it reaches the server, which then drops the
            # kept-alive connection, and the client's next request on it fails too.
            if started:
                raise  # half a response is on the wire: only closing the connection ends it
            log.exception("Unhandled error on %s %s", scope.get("method"), redact_path(scope.get("path", "")))
            await _calm_500(scope, receive, send_with_headers)


SERVER_ERROR_MESSAGE = N_("Something went wrong on our side. Nothing was half-saved.")


async def _calm_500(scope: Scope, receive: Receive, send: Send) -> None:
    from fastapi.responses import JSONResponse

    from app.web.templating import render

    request = Request(scope, receive)
    response: Response
    if request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", ""):
        response = JSONResponse({"detail": SERVER_ERROR_MESSAGE}, status_code=500)
    else:
        try:
            response = render(
                request, "error.html", status_code=500, status=500, message=lazy_gettext(SERVER_ERROR_MESSAGE)
            )
        except Exception:  # the templates themselves failing must still give a calm answer
            from fastapi.responses import PlainTextResponse

            response = PlainTextResponse(SERVER_ERROR_MESSAGE, status_code=500)
    await response(scope, receive, send)


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def cross_origin(request: Request) -> bool:
    """A second layer beside the token (datasette's approach, after Go's CrossOriginProtection):
    browsers say where a request comes from; refuse what they mark as another site's."""
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        return True
    if request.headers.get("sec-fetch-site", "").lower() == "same-origin":
        # Fetch Metadata decides when present: under Referrer-Policy no-referrer, Chromium sends
        # "Origin: null" on same-origin form posts, so the Origin check below would refuse them.
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return False  # older browsers and non-browser clients: the token alone decides
    allowed = {_origin_of(str(request.base_url))}
    settings = getattr(request.app.state, "settings", None)
    if settings is not None:
        allowed.add(_origin_of(settings.base_url))
    return origin.lower() not in allowed


RESPONDENT_PATH = re.compile(r"^/respond/([A-Za-z0-9_-]{20,100})/")


def respondent_csrf_token(request: Request) -> str | None:
    """For a respondent's own pages: a CSRF token bound to their personal link, not to the session.

    A respondent's session cookie can end while their form is open (8 hours idle, or someone
    signing out in the same browser); a session-bound token would then refuse every later answer.
    This one stays valid for as long as the link does, and is worthless on any other link."""
    match = RESPONDENT_PATH.match(request.url.path)
    settings = getattr(request.app.state, "settings", None)
    if match is None or settings is None:
        return None
    return respondent_csrf_for(settings.secret_key, match.group(1))


def respondent_csrf_for(secret_key: str, personal_token: str) -> str:
    """The CSRF token of the respondent pages under one personal link."""
    message = b"respond-csrf:" + personal_token.encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


ONE_CLICK_PATH = re.compile(r"^/i/[A-Za-z0-9_-]{20,100}/opt-out$")


async def _one_click_opt_out(request: Request) -> bool:
    """RFC 8058 one-click unsubscribe: mail programs POST `List-Unsubscribe=One-Click` to the
    opt-out link with no session. The link's own 256-bit token is the credential, and opting
    out only ever stops mail, so no CSRF token is asked for."""
    if request.method != "POST" or not ONE_CLICK_PATH.match(request.url.path):
        return False
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return False
    form = await request.form()
    return form.get("List-Unsubscribe") == "One-Click"


async def verify_csrf(request: Request) -> None:
    """Every state-changing request must echo the session's CSRF token (form field or header),
    or on a respondent's own pages the token bound to their link, and must not come from another
    site's page."""
    expected = csrf_token(request)
    request.state.csrf_token = expected
    respondent_expected = respondent_csrf_token(request)
    request.state.respondent_csrf_token = respondent_expected
    if request.method in SAFE_METHODS:
        return
    if cross_origin(request):
        raise Forbidden(N_("This request came from another website, so PeerReady refused it."))
    if await _one_click_opt_out(request):
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()  # Starlette caches the parsed form for the route
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    # Compared as bytes: compare_digest refuses non-ASCII str, which would otherwise be a 500.
    accepted = [expected] + ([respondent_expected] if respondent_expected else [])
    if not sent or not any(
        hmac.compare_digest(sent.encode("utf-8", "replace"), token.encode()) for token in accepted
    ):
        raise Forbidden(
            N_("This form has expired or did not come from PeerReady. Reload the page and try again.")
        )


async def verify_path_ids(request: Request) -> None:
    """Ids in URLs beyond the database's integer range are "not found" for every route, present and
    future (PostgreSQL would otherwise fail the query with a 500; found by the API fuzz run)."""
    from app.errors import NotFound
    from app.services.access import MAX_ID

    for name, value in request.path_params.items():
        # isascii: "²" and other Unicode digits pass isdigit() but int() refuses them (a 500).
        numeric = isinstance(value, str) and value.isascii() and value.isdigit()
        if numeric and name.endswith("id") and int(value) > MAX_ID:
            raise NotFound(N_("No such page."))


# Paths whose second segment is a secret: a respondent's group or personal link, an email
# invitation's link, a password-reset link. Whoever reads a server log must not be able to
# open someone's response (and read their answers) or reset their password from it.
# Anywhere in the line: behind a root path (`uvicorn --root-path`) or in a query (`?next=`) too.
_SECRET_PATH = re.compile(r"(/(?:r|i|respond|password/reset)/)[^/?#&\s\"]+")
REDACTED = "[link]"


def redact_path(path: str) -> str:
    """`path` with the link token it carries, if any, replaced by "[link]"."""
    return _SECRET_PATH.sub(lambda m: m.group(1) + REDACTED, path)


class RedactLinks(logging.Filter):
    """Takes the link tokens out of uvicorn's access log lines (its arguments: client, method,
    path with query, HTTP version, status) before any handler writes them."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], redact_path(args[2]), args[3], args[4])
        return True


def redact_access_log() -> None:
    """Installed once per process, on the logger itself: uvicorn's logging set-up replaces the
    handlers, not the logger's filters, whether it runs before or after the app is made."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactLinks) for f in access.filters):
        access.addFilter(RedactLinks())


async def verify_request(request: Request) -> None:
    """The checks every request passes before its route runs: ids in range, input readable (no
    NUL bytes, valid UTF-8: app/web/boundary.py), CSRF. One router dependency for every FastAPI
    route (FastAPI's machinery costs about as much per dependency as these checks do on the
    respondent's busiest pages); the respondent's fast routes (app/web/routes/respond.py) call
    it themselves, first."""
    await verify_path_ids(request)
    await verify_input(request)
    await verify_csrf(request)


def install(app: FastAPI, settings: Settings) -> None:
    from fastapi import Depends

    https = settings.base_url.startswith("https://")
    redact_access_log()
    app.router.dependencies.append(Depends(verify_request))
    # Order: outermost first. Headers wrap everything, then the size limit, then the session.
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="peerready_session",
        max_age=settings.session_max_age,
        same_site="lax",
        https_only=https,
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders, https=https)
