"""The respondent form's caches (questions rendered once per instrument snapshot, pages derived
once per parsed instrument) change nothing a respondent sees, and never carry one respondent's
answers or link to another."""

from __future__ import annotations

import random
import re
import secrets
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from app import i18n
from app.config import Settings
from app.instruments import catalog
from app.paths import INSTRUMENTS_DIR
from app.services import responses
from app.web.templating import build_environment, build_templates, render, render_form_page
from tests.helpers.auth import make_cast
from tests.web.journey import autosave, invite, respondent, respondent_csrf, start_cycle

LOADED = catalog.find_instrument("readiness_full", INSTRUMENTS_DIR)


def _context(instrument, group: str, page, answers: dict[str, str], digest: str | None) -> dict:
    pages = responses.form_pages(instrument, group)
    return {
        "token": "T" * 43,
        "instrument": instrument,
        "group": instrument.group_by_id(group),
        "pages": pages,
        "page": page,
        "number": page.number,
        "answers": answers,
        "comments": {page.domain.id: "A comment <b>"},
        "visible": responses.visible_ids(instrument, group, answers),
        "progress": responses.progress(instrument, group, answers),
        "locked": False,
        "languages": [("en", "English"), ("es", "Español")],
        "respondent_csrf": "r",
        "user": None,
        "instrument_hash": digest,
    }


def test_a_page_of_cached_questions_is_the_page_rendered_afresh():
    assert LOADED is not None
    instrument = LOADED.instrument
    env = build_environment(auto_reload=False)
    page_template = env.get_template("respond/page.html")
    rng = random.Random(5)
    for lang in ("en", "es"):
        for group in ("clinical", "peer_staff"):
            for _ in range(3):
                # Some answers are not options of their question (an old or odd value): no choice.
                answers = {
                    item.id: rng.choice([o.value for o in instrument.scale_by_id(item.scale).options] + ["x"])
                    for item in instrument.items
                    if rng.random() < 0.6
                }
                for page in responses.form_pages(instrument, group):
                    with i18n.use_locale(lang):
                        fresh = page_template.render(
                            _context(instrument, group, page, answers, None), lang=lang
                        )
                        cached = [
                            page_template.render(
                                _context(instrument, group, page, answers, LOADED.content_hash), lang=lang
                            )
                            for _ in range(2)  # the first fills the cache, the second reads it
                        ]
                    assert cached == [fresh, fresh]
    kept = env.globals["question"].cache
    assert kept and all(key[1] == LOADED.content_hash for key in kept)
    assert not any("T" * 43 in html or "A comment" in html for html in kept.values())


def test_another_snapshot_of_the_same_question_is_rendered_from_its_own_text():
    assert LOADED is not None
    instrument = LOADED.instrument
    first = instrument.items[0]
    changed = first.model_copy(update={"text": "A reworded first question"})
    edited = instrument.model_copy(update={"items": [changed, *instrument.items[1:]]})
    edited.model_post_init(None)  # its lookups, as the loader builds them
    group = next(g for g in ("clinical", "leadership") if not first.groups or g in first.groups)
    env = build_environment(auto_reload=False)
    template = env.get_template("respond/page.html")
    html = {}
    for name, version, digest in ((instrument, instrument, "hash-1"), (edited, edited, "hash-2")):
        page = responses.form_pages(version, group)[0]
        with i18n.use_locale("en"):
            html[id(name)] = template.render(_context(version, group, page, {}, digest), lang="en")
    assert "A reworded first question" in html[id(edited)]
    assert "A reworded first question" not in html[id(instrument)]
    # Derived pages are per parsed instrument too.
    assert responses.form_pages(edited, group)[0].items[0].text == "A reworded first question"
    assert responses.form_pages(instrument, group)[0].items[0].text == first.text


@pytest.mark.parametrize("backend", ["sqlite"])
def test_two_respondents_on_one_page_each_see_only_their_own_answers(app, db):
    cast = make_cast(db)
    assessment = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id)
    link = invite(db, user=cast.lead_a, assessment=assessment, group="clinical")
    with TestClient(app) as one, TestClient(app) as other:
        first, second = respondent(one, link), respondent(other, link)
        page = one.get(f"/respond/{first}/page/1").text
        item = re.search(r'<fieldset class="question" id="q-([a-z0-9_]+)" data-item="\1">', page).group(1)
        for client, personal, value in ((one, first, "4"), (other, second, "2")):
            csrf = respondent_csrf(client, personal)
            saved = autosave(client, personal, csrf, item_id=item, value=value, page=1)
            assert saved.status_code == 200, saved.text

        def checked(client, personal) -> list[str]:
            html = client.get(f"/respond/{personal}/page/1").text
            assert personal in html and (first if personal == second else second) not in html
            return re.findall(rf'name="item:{item}" value="([^"]+)" checked', html)

        for _ in range(2):  # the second round is served from the cache
            assert checked(one, first) == ["4"]
            assert checked(other, second) == ["2"]


def _request(templates, settings, *, locale: str, languages) -> Request:
    """A request as the form page route sees it once the language is chosen and CSRF checked."""
    holder = SimpleNamespace(state=SimpleNamespace(templates=templates, settings=settings))
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": [], "app": holder})
    request.state.locale = locale
    request.state.languages = languages
    request.state.csrf_token = "session-csrf"
    request.state.respondent_csrf_token = "link-csrf-" + locale
    return request


def test_a_form_page_from_its_skeleton_is_the_page_rendered_afresh(tmp_path):
    """render_form_page (a cached skeleton filled per request) gives byte for byte what render
    gives, for any answers, comment, link and language, and its skeletons hold none of them."""
    assert LOADED is not None
    instrument = LOADED.instrument
    settings = Settings(PEERREADY_ENV="test", PEERREADY_DATA_DIR=tmp_path)
    templates = build_templates(auto_reload=False)
    rng = random.Random(7)
    tokens = []
    for lang in ("en", "es"):
        languages = [("en", "English"), ("es", "Español")] if rng.random() < 0.7 else [("en", "English")]
        for group in ("clinical", "peer_staff"):
            for round_ in range(3):
                answers = {
                    item.id: rng.choice([o.value for o in instrument.scale_by_id(item.scale).options] + ["x"])
                    for item in instrument.items
                    if rng.random() < 0.5
                }
                for page in responses.form_pages(instrument, group):
                    token = secrets.token_urlsafe(32)
                    tokens.append(token)
                    context = _context(instrument, group, page, answers, LOADED.content_hash)
                    context.pop("respondent_csrf")  # from the request, as the route leaves it
                    context.pop("user")
                    context["token"] = token
                    context["languages"] = languages
                    context["comments"] = {page.domain.id: f"<b>Mine</b> & \"{token}\" 'x'"} if round_ else {}
                    request = _request(templates, settings, locale=lang, languages=languages)
                    fresh = render(request, "respond/page.html", **dict(context)).body
                    for _ in range(2):  # the first builds the skeleton, the second reuses it
                        from_skeleton = render_form_page(request, "respond/page.html", **dict(context))
                        assert from_skeleton.status_code == 200
                        assert from_skeleton.headers["content-type"] == "text/html; charset=utf-8"
                        assert from_skeleton.body == fresh
    skeletons = templates.env.globals["question"].skeletons
    assert skeletons
    kept = "".join("".join(parts) for parts in skeletons.values())
    assert not any(token in kept for token in tokens)
    assert "Mine" not in kept
    assert "session-csrf" not in kept and "link-csrf" not in kept


def test_no_skeleton_for_templates_that_may_not_be_the_shipped_ones(tmp_path):
    assert LOADED is not None
    instrument = LOADED.instrument
    page = responses.form_pages(instrument, "clinical")[0]
    for settings, templates in (
        (Settings(PEERREADY_ENV="test", PEERREADY_DATA_DIR=tmp_path), build_templates(auto_reload=True)),
        (
            Settings(PEERREADY_ENV="test", PEERREADY_DATA_DIR=tmp_path, PEERREADY_TEMPLATES_DIR=tmp_path),
            build_templates(tmp_path, auto_reload=False),
        ),
    ):
        request = _request(templates, settings, locale="en", languages=[("en", "English")])
        context = _context(instrument, "clinical", page, {}, LOADED.content_hash)
        html = render_form_page(request, "respond/page.html", **context).body
        assert html == render(request, "respond/page.html", **context).body
        assert not templates.env.globals["question"].skeletons


def test_the_shown_questions_kept_per_answers_are_the_rules_own():
    """responses keeps the shown items per group and answers to the conditions' source items:
    always what app.scoring.visible_items decides, for any answers, with or without the cache."""
    from app.scoring import visible_items

    rng = random.Random(11)
    for name in ("readiness_full", "quick_check"):
        loaded = catalog.find_instrument(name, INSTRUMENTS_DIR)
        assert loaded is not None
        instrument = loaded.instrument
        for group in [g.id for g in instrument.groups] + ["nobody"]:
            for _ in range(40):
                answers = {
                    item.id: rng.choice([o.value for o in instrument.scale_by_id(item.scale).options] + [""])
                    for item in instrument.items
                    if rng.random() < 0.5
                }
                expected = visible_items(instrument, group=group, answers=answers)
                for _ in range(2):  # the first computes, the second is kept
                    assert responses.visible_list(instrument, group, answers) == expected
                    assert responses.visible_ids(instrument, group, answers) == {i.id for i in expected}
