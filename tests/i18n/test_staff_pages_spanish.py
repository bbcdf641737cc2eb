"""Staff who chose Spanish in their account see the administrator pages, the sign-in pages, the
error pages and their flash and form messages in Spanish; without the choice they stay English.
Messages with values (names, addresses, numbers) are translated with the values in place."""

from __future__ import annotations

from sqlmodel import Session, select

from app.db.models import EmailMessage, Role, User
from app.services import password_resets
from tests.helpers.auth import csrf_from_html, login, make_cast, make_user, sign_in_as
from tests.helpers.html import parse
from tests.i18n.english_check import english_in


def _speaks(db: Session, user: User, language: str | None) -> User:
    user.language = language
    db.add(user)
    db.commit()
    return user


def test_choosing_spanish_in_the_account_turns_the_admin_pages_spanish(client, db):
    cast = make_cast(db)
    csrf = login(client, cast.admin.email)
    english = parse(client.get("/admin"))
    assert english.one("html").get("lang") == "en" and english.heading() == "Administration"
    client.post("/account/language", data={"csrf_token": csrf, "language": "es"})

    page = parse(client.get("/admin"))
    assert page.one("html").get("lang") == "es"
    assert page.heading() == "Administración"
    assert page.texts("main h2") == [
        "Organizaciones",
        "Carteras",
        "Usuarios",
        "Bandeja de salida del correo",
        "Registro de auditoría",
        "Confiabilidad de los instrumentos",
    ]
    assert page.text("#orgs-heading + p") == "2 organizaciones. Nombre, región y cohorte de cada agencia."
    assert page.texts("header nav a") == [
        "Administración",
        "Organizaciones y evaluaciones",
        "Cartera",
        "Vista de consultor",
        "Registro de auditoría",
        "Cambiar la contraseña",
    ]
    assert page.text("nav.breadcrumbs") == "Administración"
    assert english_in(page.text("main")) == []


def test_admin_flashes_and_form_errors_are_spanish_with_their_values(client, db):
    cast = make_cast(db)
    csrf = sign_in_as(client, _speaks(db, cast.admin, "es"))

    created = parse(
        client.post(
            "/admin/organizations", data={"csrf_token": csrf, "name": "Casa del Cedro", "region": "Norte"}
        )
    )
    assert created.heading() == "Casa del Cedro"
    assert created.flashes() == ["Se creó la organización “Casa del Cedro”."]
    assert created.text("#edit-org") == "Datos" and created.label_for("org-region") == "Región (opcional)"
    assert created.text("#research-sharing-state") == "Compartir datos para investigación está desactivado."
    assert created.text("#research-sharing ~ form button") == "Activar compartir datos para investigación"

    duplicate = client.post("/admin/organizations", data={"csrf_token": csrf, "name": "casa del cedro"})
    assert duplicate.status_code == 409
    refused = parse(duplicate)
    assert refused.heading() == "Organizaciones"
    assert refused.flashes() == ["Ya existe una organización llamada “casa del cedro”."]
    assert refused.text("#new-org") == "Agregar una organización"
    assert refused.table_headers() == ["Nombre", "Región", "Cohorte"]

    too_long = parse(
        client.post("/admin/organizations", data={"csrf_token": csrf, "name": "X", "cohort": "c" * 101})
    )
    assert too_long.flashes() == ["La cohorte puede tener como máximo 100 caracteres."]

    users = parse(client.get("/admin/users"))
    assert users.heading() == "Usuarios"
    assert users.table_headers() == ["Correo electrónico", "Nombre", "Rol", "Estado"]
    assert {row["Rol"] for row in users.records()} == {
        "Administrador",
        "Consultor",
        "Líder de la organización",
        "Financiador",
    }
    assert users.one("#user-password-hint").text.startswith("Por lo menos 10 caracteres.")
    added = parse(
        client.post(
            "/admin/users",
            data={
                "csrf_token": csrf,
                "email": "nueva@example.org",
                "name": "Nora Nueva",
                "role": "org_lead",
                "temporary_password": "short",
            },
        )
    )
    assert added.flashes() == ["Una contraseña necesita por lo menos 10 caracteres."]

    lead = parse(client.get(f"/admin/users/{cast.lead_a.id}"))
    assert lead.definitions("dl.facts")["Rol"] == "Líder de la organización"
    assert lead.definitions("dl.facts")["Con sesión abierta ahora"] == "0 navegadores"
    assert lead.text("#orgs-heading") == "Organizaciones que Lee Lead puede ver"
    ended = parse(
        client.post(
            f"/admin/users/{cast.lead_a.id}/sessions/end", data={"csrf_token": csrf}, follow_redirects=True
        )
    )
    assert ended.flashes() == [
        "La sesión de lead-a@example.org se cerró en todas partes (se terminaron 0 sesiones)."
    ]
    gave = parse(
        client.post(
            f"/admin/users/{cast.lead_a.id}/memberships",
            data={"csrf_token": csrf, "organization_id": cast.org_b.id},
        )
    )
    assert gave.flashes() == ["lead-a@example.org ahora puede ver Birch Behavioral Health."]
    again = client.post(
        f"/admin/users/{cast.lead_a.id}/memberships",
        data={"csrf_token": csrf, "organization_id": cast.org_b.id},
    )
    assert again.status_code == 409
    assert parse(again).flashes() == ["lead-a@example.org ya pertenece a Birch Behavioral Health."]
    own = client.post(
        f"/admin/users/{cast.admin.id}",
        data={"csrf_token": csrf, "email": cast.admin.email, "name": "Ada", "role": "consultant"},
    )
    assert parse(own).flashes() == ["Usted no puede quitarse su propio rol de administrador ni desactivarse."]

    portfolio = parse(client.get(f"/admin/portfolios/{cast.portfolio_p.id}"))
    assert portfolio.table_headers() == ["Organización", "Región", "Cohorte", "Guardar", "Quitar"]
    site = portfolio.select("tbody tr")[0]
    assert (
        portfolio.one('input[name="region"]', within=site).get("aria-label")
        == "Región de Alder Family Services"
    )
    added_site = parse(
        client.post(
            f"/admin/portfolios/{cast.portfolio_p.id}/sites",
            data={"csrf_token": csrf, "organization_id": cast.org_b.id},
        )
    )
    assert added_site.flashes() == ["Se agregó el sitio."]
    assert added_site.text("main > h2:last-of-type") == "Financiadores que ven esta cartera"

    audit = parse(client.get("/admin/audit"))
    assert audit.heading() == "Registro de auditoría"
    assert audit.text("main > p[role=status]").endswith("eventos.")
    assert audit.table_headers() == ["Cuándo (UTC)", "Quién", "Acción", "Objeto", "Organización", "Detalle"]
    outbox = parse(client.get("/admin/outbox"))
    assert outbox.heading() == "Bandeja de salida del correo"
    assert outbox.text("main p.muted") == "Todavía no hay mensajes."


def test_the_same_admin_pages_stay_english_without_the_choice(client, db):
    cast = make_cast(db)
    csrf = sign_in_as(client, cast.admin)
    created = parse(client.post("/admin/organizations", data={"csrf_token": csrf, "name": "Cedar House"}))
    assert created.one("html").get("lang") == "en"
    assert created.flashes() == ["Organization “Cedar House” created."]
    assert created.text("#research-sharing-state") == "Research sharing is off."
    refused = parse(client.post("/admin/organizations", data={"csrf_token": csrf, "name": "cedar house"}))
    assert refused.flashes() == ["An organization called “cedar house” already exists."]
    users = parse(client.get("/admin/users"))
    assert users.table_headers() == ["Email", "Name", "Role", "Status"]
    ended = parse(
        client.post(
            f"/admin/users/{cast.lead_a.id}/sessions/end", data={"csrf_token": csrf}, follow_redirects=True
        )
    )
    assert ended.flashes() == ["lead-a@example.org is signed out everywhere (0 sessions ended)."]
    assert parse(client.get("/admin")).text("#orgs-heading + p").startswith("3 organizations. Name, region")
    assert parse(client.get("/admin/audit")).table_headers()[0] == "When (UTC)"


def test_error_pages_are_in_the_page_language(client, db):
    cast = make_cast(db)
    sign_in_as(client, _speaks(db, cast.admin, "es"))
    missing = client.get("/admin/organizations/99999")
    assert missing.status_code == 404
    assert parse(missing).error() == ("No se encontró", "No existe esa organización.")
    # raised before any route read the account (no such route; a refused form below): the
    # session's account still gives the language
    unknown = client.get("/no-such-page")
    assert parse(unknown).error() == ("No se encontró", "Esta página no existe.")
    assert parse(client.get("/jobs/99999")).error() == ("No se encontró", "No existe esa tarea.")
    assert parse(missing).text("main p:last-child") == "Ir a la página de inicio"

    lead = sign_in_as(client, _speaks(db, cast.lead_a, "es"))
    refused = client.get("/admin")
    assert refused.status_code == 403
    assert parse(refused).error() == ("No está permitido", "Su rol no le da acceso a esta página.")
    forged = client.post("/admin/organizations", data={"csrf_token": lead + "x", "name": "X"})
    assert forged.status_code == 403
    assert parse(forged).error()[1].startswith("Este formulario venció o no vino de PeerReady.")
    # JSON callers keep the English message
    assert client.get("/admin", headers={"accept": "application/json"}).json() == {
        "detail": "Your role does not give access to this page."
    }
    sign_in_as(client, _speaks(db, cast.lead_b, None))
    assert parse(client.get("/admin")).error() == (
        "Not allowed",
        "Your role does not give access to this page.",
    )


def test_sign_in_and_password_reset_pages_follow_the_browser_language(client, db):
    spanish = {"accept-language": "es-US,es;q=0.9"}
    make_user(db, role=Role.org_lead, email="lee@example.org", name="Lee")
    form = client.get("/login", headers=spanish)
    page = parse(form)
    assert page.one("html").get("lang") == "es"
    assert page.heading() == "Iniciar sesión en PeerReady"
    assert page.label_for("email") == "Correo electrónico" and page.label_for("password") == "Contraseña"
    assert page.text("main form button") == "Iniciar sesión"
    failed = client.post(
        "/login",
        data={
            "csrf_token": csrf_from_html(form.text),
            "email": "lee@example.org",
            "password": "wrong-password",
        },
        headers=spanish,
    )
    assert failed.status_code == 400
    assert parse(failed).alerts() == [
        "Ese correo electrónico y esa contraseña no coinciden con una cuenta activa. Después de varios "
        "intentos fallidos, el inicio de sesión se pausa por un tiempo; inténtelo más tarde o pregúntele "
        "a su administrador."
    ]

    forgot = client.get("/password/forgot", headers=spanish)
    assert parse(forgot).heading() == "¿Olvidó su contraseña?"
    asked = client.post(
        "/password/forgot",
        data={"csrf_token": csrf_from_html(forgot.text), "email": "nobody@example.org"},
        headers=spanish,
    )
    assert parse(asked).flashes()[0].startswith("Si una cuenta usa esa dirección, le enviamos un enlace")
    expired = client.get("/password/reset/not-a-token", headers=spanish)
    assert expired.status_code == 404
    assert parse(expired).heading() == "Elegir una contraseña nueva"
    assert parse(expired).alerts() == [
        "Este enlace para cambiar la contraseña venció o ya se usó. Pida uno nuevo."
    ]
    assert parse(client.get("/login")).heading() == "Sign in to PeerReady"
    assert parse(client.get("/login?lang=es")).heading() == "Iniciar sesión en PeerReady"


def test_the_password_reset_email_is_in_the_account_language(db, engine, settings):
    spanish = make_user(db, role=Role.org_lead, email="sol@example.org", name="Sol")
    _speaks(db, spanish, "es")
    make_user(db, role=Role.org_lead, email="ed@example.org", name="Ed")
    for address in ("sol@example.org", "ed@example.org"):
        reset = password_resets.request_reset(
            db, email=address, client_ip="10.0.0.1", secret_key=settings.secret_key
        )
        db.commit()
        assert reset is not None
        password_resets.deliver(engine, settings, reset_id=reset.id)
    db.expire_all()
    sent = {m.to_address: m for m in db.exec(select(EmailMessage))}
    assert sent["sol@example.org"].subject == "Elija una contraseña nueva de PeerReady"
    assert sent["sol@example.org"].body_text.startswith("Hola, Sol:\n\nAlguien (probablemente usted) pidió")
    assert english_in(sent["sol@example.org"].body_text) == []
    assert sent["ed@example.org"].subject == "Choose a new PeerReady password"
    assert sent["ed@example.org"].body_text.startswith("Hello Ed,")
