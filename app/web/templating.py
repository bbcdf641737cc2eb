"""Jinja environment, built per app from its settings (`create_app` keeps it on
`app.state.templates`). Templates in `PEERREADY_TEMPLATES_DIR` (if set) override the shipped ones,
which stay reachable as `default:name.html` (the datasette pattern)."""

from __future__ import annotations

import re
import secrets
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
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse, Response

from app import i18n
from app.instruments.models import Item
from app.paths import TEMPLATES_DIR

QUESTION_TEMPLATE = "respond/_question.html"
# Rendered questions kept per environment: (snapshot, language, question, shown, chosen) -> HTML.
# The full instrument in two languages needs a few thousand; older snapshots age out.
QUESTION_CACHE_SIZE = 20_000
# Form page skeletons kept per environment (see `render_form_page`): one per snapshot, group,
# page, language and count of shown questions.
SKELETON_CACHE_SIZE = 2_000


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
        if context.get("question_slots"):
            return slot(QUESTION_SLOT + item.id)  # a page skeleton (render_form_page)
        return render_one(context, item)

    def render_one(context: Context | Mapping[str, Any], item: Item) -> Markup:
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
    question.render_one = render_one  # type: ignore[attr-defined]  # for render_form_page
    question.skeletons = OrderedDict()  # type: ignore[attr-defined]  # render_form_page's cache
    question.skeletons_lock = threading.Lock()  # type: ignore[attr-defined]
    return question


# --- form page skeletons ---------------------------------------------------------------------
#
# A respondent's form page differs from another respondent's of the same page only in a few
# places: the personal link (in its addresses), the CSRF token, the count of answered questions,
# the page's comment and each question's fieldset (itself cached, see `_question_renderer`). So
# the page is rendered once per (template, snapshot, group, page, language, shown count) with a
# marker in each of those places, kept split at the markers, and each request only joins the
# parts with its own values. A marker carries a random per-process nonce, so no instrument text
# can imitate one; nothing of a respondent is rendered into a skeleton.

_SLOT_NONCE = secrets.token_hex(8)
_SLOT = re.compile("\x1a" + _SLOT_NONCE + ":([^\x1a]*)\x1a")
QUESTION_SLOT = "q:"


def slot(name: str) -> Markup:
    """The marker a skeleton holds where the value named `name` goes."""
    return Markup(f"\x1a{_SLOT_NONCE}:{name}\x1a")


# What a skeleton is rendered from besides the markers: all given by the key.
_SKELETON_SHARED = ("instrument", "group", "pages", "page", "number", "languages", "instrument_hash")


class _SlotProgress:
    """`progress` in a skeleton: the shown count is real (it picks the plural form and is part of
    the key), the answered count a marker."""

    def __init__(self, shown: int) -> None:
        self.shown = shown
        self.answered = slot("answered")


def render_form_page(request: Request, name: str, **context: Any) -> Response:
    """`render(request, name, **context)` for respond/page.html, from a cached skeleton.

    The same HTML as `render` (tests/web/test_form_caches.py compares them); it falls back to
    `render` whenever a skeleton could hold something it should not: no snapshot hash, someone
    signed in, messages to show, or templates that may not be the shipped ones (an override
    folder, or development, where templates are read again when they change)."""
    templates: Jinja2Templates = request.app.state.templates
    settings = getattr(request.app.state, "settings", None)
    digest = context.get("instrument_hash")
    if (
        not digest
        or settings is None
        or settings.templates_dir is not None
        or templates.env.auto_reload
        or getattr(request.state, "user", None) is not None
        or context.get("user") is not None
        or context.get("flashes")
        or "lang" in context
    ):
        return render(request, name, **context)
    lang = page_locale(request)
    template = templates.get_template(name)
    page = context["page"]
    progress = context["progress"]
    key = (
        template,
        digest,
        tuple(p.domain.id for p in context["pages"]),
        page.number,
        tuple(item.id for item in page.items),
        lang,
        progress.shown,
        tuple(context.get("languages") or ()),
    )
    question: Any = templates.env.globals["question"]  # _question_renderer's, with its caches
    cache: OrderedDict[tuple[Any, ...], list[str]] = question.skeletons
    with question.skeletons_lock:
        parts = cache.get(key)
        if parts is not None:
            cache.move_to_end(key)
    with i18n.use_locale(lang):
        if parts is None:
            # Only what is the same for everyone on this page (never answers, comments, links).
            skeleton = {name: context[name] for name in _SKELETON_SHARED if name in context}
            skeleton.update(
                request=request,
                lang=lang,
                user=None,
                csrf_token=slot("csrf"),
                respondent_csrf=slot("csrf"),
                token=slot("token"),
                comments={page.domain.id: slot("comment")},
                progress=_SlotProgress(progress.shown),
                question_slots=True,
                answers={},
                visible=frozenset(),
            )
            parts = _SLOT.split(template.render(skeleton))
            with question.skeletons_lock:
                cache[key] = parts
                while len(cache) > SKELETON_CACHE_SIZE:
                    cache.popitem(last=False)
        # As `render`: the token bound to the personal link, else the session's.
        respondent_csrf = context.get(
            "respondent_csrf", getattr(request.state, "respondent_csrf_token", None) or ""
        )
        csrf = respondent_csrf or context.get("csrf_token", getattr(request.state, "csrf_token", ""))
        values = {
            "token": escape(context["token"]),
            "csrf": escape(csrf),
            "answered": escape(progress.answered),
            "comment": escape(context["comments"].get(page.domain.id, "")),
        }
        items = {item.id: item for item in page.items}
        out: list[str] = []
        for index, part in enumerate(parts):
            if index % 2 == 0:
                out.append(part)
            elif part.startswith(QUESTION_SLOT):
                out.append(question.render_one(context, items[part[len(QUESTION_SLOT) :]]))
            else:
                out.append(values[part])
    return HTMLResponse("".join(out))


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
