"""Respondents choose their language: the link's `?lang=`, the switch on every page (stored on
the response, so it is remembered), the browser's Accept-Language, else the instrument's
default. Switching keeps every answer."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from app.db.models import Response
from tests.helpers.auth import make_cast
from tests.helpers.html import parse
from tests.web.journey import invite, start_cycle


@pytest.fixture
def cycle(db):
    cast = make_cast(db)
    assessment = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id)
    token = invite(db, user=cast.lead_a, assessment=assessment, group="clinical")
    return cast, assessment, token


def stored_language(db) -> str | None:
    db.expire_all()
    return db.exec(select(Response)).one().language


def test_link_language_switch_and_answers_kept(client, db, cycle):
    _, _, token = cycle
    opened = client.get(f"/r/{token}?lang=es", follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"].endswith("/page/0?lang=es")
    personal = re.match(r"/respond/([^/?]+)", opened.headers["location"]).group(1)

    intro = parse(client.get(opened.headers["location"]))
    assert intro.one("html").get("lang") == "es"
    assert intro.heading() == "Autoevaluación de la preparación de la organización"
    assert "Antes de empezar" in intro.headings(2)
    assert intro.text("nav.language-switch [aria-current]") == "Español"
    assert intro.one('nav.language-switch a[hreflang="en"]').get("href") == "?lang=en"
    assert stored_language(db) == "es"

    # remembered on the response: no ?lang on the next page
    page = parse(client.get(f"/respond/{personal}/page/1"))
    assert page.one("html").get("lang") == "es"
    assert page.text("#progress-text strong") == "Página 1 de 4"
    assert page.text("legend", within=page.one("#q-pps_status")).startswith(
        "¿Cuál de estas opciones describe mejor a su agencia hoy?"
    )
    assert page.one("#response-form").get("data-msg-saved") == "Guardado"
    csrf = page.one("input[name=csrf_token]").get("value")
    # the switch on a question page posts the page (no answer is lost without JavaScript)
    switch = page.one('nav.language-switch button[value="en"]')
    assert (switch.get("form"), switch.get("name")) == ("response-form", "lang")

    switched = client.post(
        f"/respond/{personal}/page/1",
        data={
            "csrf_token": csrf,
            "lang": "en",
            "item:pps_status": "employ",
            "item:purpose_leaders_support": "4",
        },
        follow_redirects=False,
    )
    assert switched.status_code == 303 and switched.headers["location"].endswith("/page/1")
    assert stored_language(db) == "en"
    english = parse(client.get(switched.headers["location"]))
    assert english.one("html").get("lang") == "en"
    assert english.text("#progress-text strong") == "Page 1 of 4"
    for item, value in (("pps_status", "employ"), ("purpose_leaders_support", "4")):
        assert english.one(f'input[name="item:{item}"][value="{value}"]').get("checked") is not None

    back = parse(client.get(f"/respond/{personal}/page/1?lang=es"))
    assert back.one('input[name="item:purpose_leaders_support"][value="4"]').get("checked") is not None
    assert back.text("label[for=comment]").startswith("Comentarios sobre “Propósito claro e inclusión”")
    review = parse(client.get(f"/respond/{personal}/review"))
    assert review.heading() == "Revisar y enviar"
    assert review.text("#missing p").startswith("Por favor, responda")


def test_accept_language_then_instrument_default(client, db, cycle):
    _, _, token = cycle
    opened = client.get(f"/r/{token}", headers={"accept-language": "es-MX,es;q=0.9,en;q=0.5"})
    page = parse(opened)
    assert page.one("html").get("lang") == "es"
    assert stored_language(db) == "es"
    # a language the instrument does not have (and no catalog) falls back to its default
    client.cookies.clear()
    other = client.get(f"/r/{token}?lang=fr", headers={"accept-language": "de"})
    assert parse(other).one("html").get("lang") == "en"
