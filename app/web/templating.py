"""Jinja environment, built per app from its settings (`create_app` keeps it on
`app.state.templates`). Templates in `PEERREADY_TEMPLATES_DIR` (if set) override the shipped ones,
which stay reachable as `default:name.html` (the datasette pattern)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import BaseLoader, ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, select_autoescape
from starlette.responses import Response

from app import i18n
from app.paths import TEMPLATES_DIR


def build_environment(templates_dir: Path | None = None) -> Environment:
    shipped = FileSystemLoader(str(TEMPLATES_DIR))
    loaders: list[BaseLoader] = []
    if templates_dir is not None:
        loaders.append(FileSystemLoader(str(templates_dir)))
    loaders += [shipped, PrefixLoader({"default": shipped}, delimiter=":")]
    env = Environment(loader=ChoiceLoader(loaders), autoescape=select_autoescape(default=True))
    # Numbers and reasons are written by the one formatter (docs/scoring.md, sections 14-15).
    i18n.install_jinja(env)
    return env


def build_templates(templates_dir: Path | None = None) -> Jinja2Templates:
    return Jinja2Templates(env=build_environment(templates_dir))


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    """Render a page; every page gets the request, the signed-in user and a CSRF token."""
    context.setdefault("user", getattr(request.state, "user", None))
    context.setdefault("csrf_token", getattr(request.state, "csrf_token", ""))
    # Respondent pages post with the token bound to the personal link (see security.py).
    context.setdefault("respondent_csrf", getattr(request.state, "respondent_csrf_token", None) or "")
    templates: Jinja2Templates = request.app.state.templates
    lang = page_locale(request)
    context.setdefault("lang", lang)
    # The template renders here (TemplateResponse renders on construction), in the page's language.
    with i18n.use_locale(lang):
        return templates.TemplateResponse(request, name, context, status_code=status_code)


def page_locale(request: Request) -> str:
    """The language of a page: one a route chose (respondent pages: the response's language),
    else `?lang=`, else the signed-in user's choice, else Accept-Language, else English."""
    chosen = getattr(request.state, "locale", None)
    if chosen:
        return str(chosen)
    user = getattr(request.state, "user", None)
    return (
        i18n.negotiate(
            [
                request.query_params.get("lang"),
                getattr(user, "language", None),
                *i18n.parse_accept_language(request.headers.get("accept-language")),
            ]
        )
        or i18n.SOURCE_LANGUAGE
    )
