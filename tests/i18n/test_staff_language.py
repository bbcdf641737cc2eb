"""Staff choose their interface language in their account; without a choice, the browser's."""

from __future__ import annotations

from sqlmodel import select

from app.db.models import User
from tests.helpers.auth import login, make_cast
from tests.helpers.html import parse


def test_staff_language_from_the_account_then_the_browser(client, db):
    cast = make_cast(db)
    csrf = login(client, cast.lead_a.email)
    english = parse(client.get("/account/password"))
    assert english.one("html").get("lang") == "en" and english.heading() == "Change your password"

    saved = client.post(
        "/account/language", data={"csrf_token": csrf, "language": "es"}, follow_redirects=False
    )
    assert saved.status_code == 303
    db.expire_all()
    assert db.exec(select(User).where(User.id == cast.lead_a.id)).one().language == "es"
    spanish = parse(client.get(saved.headers["location"]))
    assert spanish.one("html").get("lang") == "es"
    assert spanish.heading() == "Cambiar su contraseña"
    assert spanish.flashes() == ["Se guardó su idioma."]
    assert spanish.text("header form button").startswith("Cerrar sesión")
    assert spanish.one('#language option[value="es"]').get("selected") is not None

    refused = client.post("/account/language", data={"csrf_token": csrf, "language": "fr"})
    assert refused.status_code == 400
    client.post("/account/language", data={"csrf_token": csrf, "language": ""})
    browser = parse(client.get("/account/password", headers={"accept-language": "es-US,es;q=0.9"}))
    assert browser.one("html").get("lang") == "es"
    assert parse(client.get("/account/password")).one("html").get("lang") == "en"
