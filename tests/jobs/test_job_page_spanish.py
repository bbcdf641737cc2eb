"""The job page in the language chosen in the account: headings, status labels, buttons, the
words jobs.js writes as the job moves on (data-job-texts) and the refusals; English otherwise.
The job's own title and the worker's progress messages are data and stay as written."""

from __future__ import annotations

import json

from app.services import jobs
from tests.helpers.auth import sign_in_as
from tests.helpers.html import parse


def _queued(settings):
    return settings.model_copy(update={"queue": "sqlite"})  # nothing runs it: it stays queued


def test_a_waiting_job_page_in_spanish_and_in_english(client, db, cast, settings, steps_kind):
    job = jobs.start(
        db,
        "test_steps",
        params={"organization_id": cast.org_a.id},
        user=cast.lead_a,
        settings=_queued(settings),
    )
    cast.lead_a.language = "es"
    db.add(cast.lead_a)
    db.commit()
    token = sign_in_as(client, cast.lead_a)
    page = parse(client.get(f"/jobs/{job.id}"))
    assert page.one("html").get("lang") == "es"
    assert page.heading() == "Test steps"
    assert page.text("p.job-status") == "Estado: Esperando para empezar"
    assert page.label_for("job-progress") == "Avance"
    assert page.text("#job-cancel button") == "Cancelar esta tarea"
    assert page.text("#job-retry button") == "Intentar otra vez"
    assert page.text("nav.breadcrumbs") == f"Tareas en segundo plano Tarea {job.id}"
    assert list(page.definitions("dl.facts")) == ["Empezó"]
    assert page.definitions("dl.facts")["Empezó"].endswith(", por Lee Lead")
    texts = json.loads(page.one("#job").get("data-job-texts"))
    assert texts == {
        "statuses": {
            "queued": "Esperando para empezar",
            "running": "En curso",
            "done": "Hecha",
            "failed": "Falló",
            "cancelled": "Cancelada",
        },
        "waiting": "Esperando",
        "of": "{done} de {total}",
        "download": "Descargar {name}",
    }

    client.post(f"/jobs/{job.id}/cancel", data={"csrf_token": token})
    again = client.post(f"/jobs/{job.id}/cancel", data={"csrf_token": token})
    assert again.status_code == 409
    assert parse(again).error() == (
        "No pudimos hacer eso",
        "Esta tarea ya se canceló; no hay nada que cancelar.",
    )
    assert parse(client.get(f"/jobs/{job.id}")).text("p.job-status") == "Estado: Cancelada"

    cast.lead_a.language = None
    db.add(cast.lead_a)
    db.commit()
    english = parse(client.get(f"/jobs/{job.id}"))
    assert english.one("html").get("lang") == "en"
    assert english.text("p.job-status") == "Status: Cancelled"
    assert json.loads(english.one("#job").get("data-job-texts"))["of"] == "{done} of {total}"
    assert parse(client.post(f"/jobs/{job.id}/cancel", data={"csrf_token": token})).error() == (
        "We could not do that",
        "This job has already been cancelled; there is nothing to cancel.",
    )
