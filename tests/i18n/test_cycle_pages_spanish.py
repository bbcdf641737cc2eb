"""Staff who chose Spanish in their account see the cycle pages in Spanish: the list of cycles,
starting one, a cycle's page, its progress, invitation links, email invitations, the preview and
the paper form, the action plan and the consultant's pages, with the notices after an action and
the form errors. Without a choice the same pages are in English, as before."""

from __future__ import annotations

import io

from pypdf import PdfReader

from app.db.models import User
from tests.helpers.auth import make_cast, sign_in_as
from tests.helpers.html import Page, parse
from tests.i18n.english_check import english_in
from tests.web.journey import start_cycle


def _speaks(db, user: User, language: str | None) -> None:
    user.language = language
    db.add(user)
    db.commit()


def _no_english(page: Page, allowed: frozenset[str] = frozenset()) -> None:
    """No interface string of the catalog is left in English in the page's <main>."""
    assert english_in(page.text("main"), allowed) == []


def _pdf_text(body: bytes) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(body)).pages)


def test_a_lead_who_chose_spanish_runs_a_cycle_in_spanish(client, db):
    cast = make_cast(db)
    _speaks(db, cast.lead_a, "es")
    csrf = sign_in_as(client, cast.lead_a)

    listing = parse(client.get("/assessments"))
    assert listing.one("html").get("lang") == "es"
    assert listing.heading() == "Evaluaciones"
    assert listing.text("main a.button") == "Empezar un ciclo de evaluación"
    assert listing.text("nav.breadcrumbs") == "Evaluaciones"
    _no_english(listing)

    new = parse(client.get("/assessments/new"))
    assert new.heading() == "Empezar un ciclo de evaluación"
    assert new.label_for("name") == "Nombre del ciclo"
    assert new.text("form.card button[type=submit]") == "Empezar el ciclo"
    assert new.text("fieldset legend") == "Instrumento"
    _no_english(new)
    # A form error from the service, in the page's language; the values stay in the form.
    refused = client.post(
        "/assessments",
        data={
            "csrf_token": csrf,
            "organization_id": cast.org_a.id,
            "name": " ",
            "instrument_id": "quick_check",
        },
    )
    assert refused.status_code == 400
    assert parse(refused).alerts() == [
        "Póngale un nombre al ciclo, por ejemplo “Punto de partida, primavera de 2027”."
    ]
    bad_date = client.post(
        "/assessments",
        data={
            "csrf_token": csrf,
            "organization_id": cast.org_a.id,
            "name": "Primavera",
            "instrument_id": "quick_check",
            "close_date": "pronto",
        },
    )
    assert parse(bad_date).alerts() == ["La fecha de cierre no es una fecha (use el formato AAAA-MM-DD)."]

    created = client.post(
        "/assessments",
        data={
            "csrf_token": csrf,
            "organization_id": cast.org_a.id,
            "name": "Primavera",
            "instrument_id": "quick_check",
        },
    )
    links = parse(created)  # followed to the invitation links
    assert links.heading() == "Enlaces de invitación"
    assert links.flashes() == [
        "El ciclo empezó. Ahora cree un enlace para cada grupo de personas a quienes quiere preguntar."
    ]
    assert links.text("form.card button[type=submit]") == "Crear el enlace"
    assessment_id = int(created.url.path.split("/")[2])

    made = parse(
        client.post(
            f"/assessments/{assessment_id}/invitations", data={"csrf_token": csrf, "group": "clinical"}
        )
    )
    assert made.text("#new-link h2").startswith("Enlace nuevo para ")
    assert made.text("#new-link strong") == "Copie este enlace ahora: se muestra una sola vez."
    assert made.table_headers("table")[:3] == ["Grupo", "Etiqueta", "Creado"]
    assert made.texts("table tbody td")[2] == "Activo"
    _no_english(made)

    detail = parse(client.get(f"/assessments/{assessment_id}"))
    assert detail.heading() == "Primavera"
    assert detail.definitions("dl.facts")["Estado"] == "Abierto para respuestas"
    assert detail.definitions("dl.facts")["Respuestas"] == "0 enviadas, 0 en curso"
    assert "Ver los resultados" in detail.texts("p.actions-row a")
    assert detail.headings(2)[0] == "Respuestas por grupo"
    assert detail.text("form.stack button") == "Cerrar el ciclo"
    _no_english(detail)

    progress = parse(client.get(f"/assessments/{assessment_id}/results"))
    assert progress.heading() == "Resultados: Primavera"
    assert progress.table_headers("#progress-table") == ["Grupo", "Enviadas", "En curso", "Al cerrar"]
    assert progress.table("#progress-table")[0][3].startswith("se junta con otros grupos o no se muestra")
    _no_english(progress)
    assert progress.text("p.hint") == (
        "Se cuentan: Solo las respuestas enviadas; no se incluyen las que todavía están en curso."
    )

    email = parse(client.get(f"/assessments/{assessment_id}/email"))
    assert email.heading() == "Invitaciones por correo electrónico"
    assert email.text("#add-heading") == "Invitar a personas"
    bad_time = client.post(
        f"/assessments/{assessment_id}/email",
        data={"csrf_token": csrf, "group": "clinical", "addresses": "ana@example.org", "send_at": "mañana"},
    )
    assert bad_time.status_code == 400
    assert parse(bad_time).text("#invite-error") == (
        "La hora de envío no es una fecha y hora (use el formato AAAA-MM-DD HH:MM)."
    )
    invited = parse(
        client.post(
            f"/assessments/{assessment_id}/email",
            data={"csrf_token": csrf, "group": "clinical", "addresses": "ana@example.org"},
        )
    )
    assert invited.flashes()[0].startswith("Se agregó 1 persona.")
    assert invited.text("#log-heading") == "Registro de envíos"
    assert invited.table_headers("table[aria-labelledby=log-heading]")[0] == "Dirección"
    _no_english(invited)

    preview = parse(client.get(f"/assessments/{assessment_id}/preview?group=clinical"))
    assert preview.heading().startswith("Vista previa: ")
    assert preview.text("#preview-note") == (
        "Esta es una vista previa. Aquí no se guarda nada y no se crea ninguna respuesta."
    )
    _no_english(preview)
    paper_href = preview.links("#paper-forms")[0]
    assert paper_href == f"/assessments/{assessment_id}/paper.pdf?group=clinical&lang=es"
    paper = client.get(paper_href)
    assert paper.status_code == 200
    words = _pdf_text(paper.content)
    assert "Cómo llenar este formulario" in words and "Marque una casilla en cada pregunta." in words
    assert "Formulario en papel para: " in words and "Página 1 de " in words
    # ?lang=en asks for the English form, whatever the account says.
    english_paper = _pdf_text(
        client.get(f"/assessments/{assessment_id}/paper.pdf?group=clinical&lang=en").content
    )
    assert "How to fill in this form" in english_paper and "Page 1 of " in english_paper

    not_ticked = client.post(
        f"/assessments/{assessment_id}/status", data={"csrf_token": csrf, "status": "closed"}
    )
    assert not_ticked.status_code == 400
    assert parse(not_ticked).error()[1] == (
        "Marque la casilla para confirmar que quiere cerrar el ciclo y luego oprima el botón otra vez."
    )
    closed = parse(
        client.post(
            f"/assessments/{assessment_id}/status",
            data={"csrf_token": csrf, "status": "closed", "confirm": "yes"},
        )
    )
    assert closed.flashes() == ["El ciclo está cerrado. Ya no se pueden dar respuestas."]
    assert closed.text("form.stack button") == "Abrir el ciclo otra vez"


def test_the_action_plan_in_spanish(client, db):
    cast = make_cast(db)
    _speaks(db, cast.lead_a, "es")
    csrf = sign_in_as(client, cast.lead_a)
    plan = parse(client.get(f"/organizations/{cast.org_a.id}/plan"))
    assert plan.one("html").get("lang") == "es"
    assert plan.heading() == "Plan de acción: Alder Family Services"
    assert plan.text("#add-h") == "Agregar una acción propia"
    assert plan.label_for("new-title") == "¿Qué van a hacer?"
    assert plan.text("nav.breadcrumbs") == "Evaluaciones Alder Family Services: plan de acción"
    _no_english(plan)

    added = client.post(
        f"/organizations/{cast.org_a.id}/plan/items",
        data={"csrf_token": csrf, "title": "Reunión mensual con el personal de pares"},
    )
    page = parse(added)
    assert page.text("#item-flash") == "Su acción se agregó al plan."
    assert page.text("article .badge") == "Aceptada"
    assert page.texts("article select[name=status] option") == [
        "Propuesta",
        "Aceptada",
        "En curso",
        "Hecha",
        "Descartada",
    ]
    # A service's form error, in Spanish too.
    too_long = client.post(
        f"/organizations/{cast.org_a.id}/plan/items", data={"csrf_token": csrf, "title": "x" * 301}
    )
    assert too_long.status_code == 400
    assert parse(too_long).error()[1] == "El título puede tener como máximo 300 caracteres."


def test_a_consultant_who_chose_spanish_sees_the_workspace_and_import_in_spanish(client, db):
    cast = make_cast(db)
    assessment = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id, instrument_id="quick_check")
    _speaks(db, cast.consultant_a, "es")
    csrf = sign_in_as(client, cast.consultant_a)

    workspace = parse(client.get("/consultant"))
    assert workspace.one("html").get("lang") == "es"
    assert workspace.heading() == "Sus agencias clientes"
    assert workspace.text("#reports-zip-heading") == "Todos los informes en un zip"
    assert workspace.table_headers("section.client table")[:3] == ["Ciclo", "Estado", "Enviadas"]
    assert workspace.table("section.client table")[0][1] == "Abierto"
    _no_english(workspace)

    commentary = parse(client.get(f"/consultant/assessments/{assessment.id}/commentary"))
    assert commentary.heading() == f"Comentario sobre Alder Family Services: {assessment.name}"
    assert commentary.text("form.card button") == "Guardar el comentario"
    _no_english(commentary)
    saved = parse(
        client.post(
            f"/consultant/assessments/{assessment.id}/commentary",
            data={"csrf_token": csrf, "text": "Buen avance."},
        )
    )
    assert saved.flashes() == [
        "Se guardó el comentario. Va a aparecer en la página de resultados y en el informe PDF de este ciclo."
    ]

    upload = parse(client.get(f"/consultant/assessments/{assessment.id}/import"))
    assert upload.heading() == f"Importar respuestas en papel a Alder Family Services: {assessment.name}"
    assert upload.text("form.card button") == "Revisar el archivo"
    _no_english(upload, allowed=frozenset({"responses"}))  # the guide's title, "Entering paper responses"
    empty = client.post(
        f"/consultant/assessments/{assessment.id}/import/preview",
        data={"csrf_token": csrf},
        files={"file": ("paper.csv", b"  \n", "text/csv")},
    )
    assert parse(empty).error()[1] == "Elija un archivo CSV para subir; el archivo estaba vacío."
    refused = client.post(
        f"/consultant/assessments/{assessment.id}/import/preview",
        data={"csrf_token": csrf},
        files={"file": ("paper.csv", b"group,pps_status\nboard,1\n", "text/csv")},
    )
    assert refused.status_code == 422
    page = parse(refused)
    assert page.alerts()[0].startswith("paper.csv no se importó. No se guardó nada. Corrija")
    assert page.table_headers("#import-errors") == ["Fila", "Columna", "Problema"]
    # The file's problems too (the command line prints them in English, as docs/csv-layout.md).
    problems = [row["Problema"] for row in page.records("#import-errors")]
    assert any(
        p.startswith("group: 'board' no es un grupo de participantes; se permiten: ") for p in problems
    )


def test_without_a_choice_the_pages_stay_in_english_and_lang_asks_for_spanish(client, db):
    cast = make_cast(db)
    assessment = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id, instrument_id="quick_check")
    sign_in_as(client, cast.lead_a)
    listing = parse(client.get("/assessments"))
    assert listing.one("html").get("lang") == "en"
    assert listing.heading() == "Assessments"
    assert listing.table_headers("table") == [
        "Cycle",
        "Status",
        "Submitted",
        "In progress",
        "Start date",
        "Results",
    ]
    detail = parse(client.get(f"/assessments/{assessment.id}"))
    assert detail.definitions("dl.facts")["Status"] == "Open for answers"
    assert detail.text("form.stack label").startswith(
        "Yes, close this cycle: nobody can answer any more. Its results"
    )
    links = parse(client.get(f"/assessments/{assessment.id}/invitations"))
    assert links.heading() == "Invitation links" and links.text("nav.breadcrumbs").endswith(
        "Invitation links"
    )
    plan = parse(client.get(f"/organizations/{cast.org_a.id}/plan"))
    assert plan.heading() == "Action plan: Alder Family Services"
    assert plan.text("nav.breadcrumbs") == "Assessments Alder Family Services: action plan"

    asked = parse(client.get(f"/assessments/{assessment.id}?lang=es"))
    assert asked.one("html").get("lang") == "es"
    assert asked.definitions("dl.facts")["Estado"] == "Abierto para respuestas"
