"""Jinja environment. Templates in `PEERREADY_TEMPLATES_DIR` (if set) override the shipped ones,
which stay reachable as `default:name.html` (the datasette pattern)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, select_autoescape

from app.instruments.models import text as localized_text
from app.paths import TEMPLATES_DIR
from app.scoring.numbers import number_filters
from app.scoring.reasons import render_reason


def _build_environment() -> Environment:
    shipped = FileSystemLoader(str(TEMPLATES_DIR))
    loaders = []
    override = os.environ.get("PEERREADY_TEMPLATES_DIR")
    if override and Path(override).is_dir():
        loaders.append(FileSystemLoader(override))
    loaders += [shipped, PrefixLoader({"default": shipped}, delimiter=":")]
    env = Environment(loader=ChoiceLoader(loaders), autoescape=select_autoescape(default=True))
    env.filters["t"] = localized_text
    # Numbers and reasons are written by the one formatter (docs/scoring.md, sections 14-15).
    env.filters.update(number_filters())
    env.filters["reason"] = render_reason
    return env


templates = Jinja2Templates(env=_build_environment())


def render(request: Request, name: str, status_code: int = 200, **context: Any):
    """Render a page; every page gets the request, the signed-in user and a CSRF token."""
    context.setdefault("user", getattr(request.state, "user", None))
    context.setdefault("csrf_token", getattr(request.state, "csrf_token", ""))
    # Respondent pages post with the token bound to the personal link (see security.py).
    context.setdefault("respondent_csrf", getattr(request.state, "respondent_csrf_token", None) or "")
    return templates.TemplateResponse(request, name, context, status_code=status_code)
