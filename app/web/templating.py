"""Jinja environment, built per app from its settings (`create_app` keeps it on
`app.state.templates`). Templates in `PEERREADY_TEMPLATES_DIR` (if set) override the shipped ones,
which stay reachable as `default:name.html` (the datasette pattern)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PrefixLoader,
    Template,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.responses import Response

from app import i18n
from app.instruments.models import Item
from app.paths import TEMPLATES_DIR

QUESTION_TEMPLATE = "respond/_question.html"
# Rendered questions kept per environment: (snapshot, language, question, shown, chosen) -> HTML.
# The full instrument in two languages needs a few thousand; older snapshots age out.
QUESTION_CACHE_SIZE = 20_000


def build_environment(templates_dir: Path | None = None, *, auto_reload: bool = True) -> Environment:
    """The Jinja environment. `auto_reload=False` (every PEERREADY_ENV but development) skips the
    check of each template file's modification time on every render."""
    shipped = FileSystemLoader(str(TEMPLATES_DIR))
    loaders: list[BaseLoader] = []
    if templates_dir is not None:
        loaders.append(FileSystemLoader(str(templates_dir)))
    loaders += [shipped, PrefixLoader({"default": shipped}, delimiter=":")]
    env = Environment(
        loader=ChoiceLoader(loaders), autoescape=select_autoescape(default=True), auto_reload=auto_reload
    )
    # Numbers and reasons are written by the one formatter (docs/scoring.md, sections 14-15).
    i18n.install_jinja(env)
    env.globals["question"] = _question_renderer(env)
    return env


def build_templates(templates_dir: Path | None = None, *, auto_reload: bool = True) -> Jinja2Templates:
    return Jinja2Templates(env=build_environment(templates_dir, auto_reload=auto_reload))


def _question_renderer(env: Environment) -> Any:
    """`question(item)` for respond/page.html: one question's fieldset, from QUESTION_TEMPLATE.

    A question's HTML depends only on the instrument snapshot, the language, whether it is shown
    and which of its options is chosen, so it is rendered once per such combination and reused,
    keyed by the snapshot's content hash (`instrument_hash` in the page's context). Nothing of a
    respondent is in the key or the HTML beyond that choice; an answer that is not one of the
    question's options renders as no choice, as before. The template object is part of the key,
    so a changed template (development reloads them) is never served from old renders. Without
    an `instrument_hash` nothing is kept."""
    cache: OrderedDict[tuple[Any, ...], Markup] = OrderedDict()
    lock = threading.Lock()

    @pass_context
    def question(context: Context, item: Item) -> Markup:
        instrument = context["instrument"]
        scale = instrument.scale_by_id(item.scale)
        shown = item.id in context["visible"]
        answers: Mapping[str, str] = context["answers"]
        chosen = answers.get(item.id)
        if chosen is not None and not any(option.value == chosen for option in scale.options):
            chosen = None
        template: Template = env.get_template(QUESTION_TEMPLATE)
        digest = context.get("instrument_hash")
        key = (template, digest, i18n.current_locale(), item.id, shown, chosen)
        if digest:
            with lock:
                found = cache.get(key)
                if found is not None:
                    cache.move_to_end(key)
                    return found
        html = Markup(template.render(item=item, scale=scale, shown=shown, chosen=chosen))
        if digest:
            with lock:
                cache[key] = html
                while len(cache) > QUESTION_CACHE_SIZE:
                    cache.popitem(last=False)
        return html

    question.cache = cache  # type: ignore[attr-defined]  # for tests: what is kept
    return question


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
