"""Invitation and reminder emails are written in the recipient's language."""

from __future__ import annotations

import pytest

from app.services import mail
from tests.i18n.english_check import english_in

CONTEXT = {
    "organization": "Servicios Familiares Cedro",
    "cycle": "Primavera 2027",
    "instrument": "Autoevaluación de la preparación de la organización",
    "group": "Personal clínico",
    "link": "https://peerready.example/i/abc",
    "opt_out_link": "https://peerready.example/i/abc/opt-out",
    "close_date": "2027-05-31",
    "reminder": False,
    "reminder_number": 0,
}


@pytest.mark.parametrize("kind", ["invitation", "reminder"])
def test_spanish_emails_have_no_english_interface_text(settings, kind):
    outgoing = mail.render(kind, {**CONTEXT, "language": "es"}, to="a@example.org", settings=settings)
    assert outgoing.subject.startswith("Recordatorio" if kind == "reminder" else "Servicios Familiares Cedro")
    assert outgoing.text.startswith("Hola:")
    assert "La encuesta cierra el 2027-05-31." in outgoing.text
    assert 'lang="es"' in outgoing.html
    for part in (outgoing.subject, outgoing.text, outgoing.html):
        assert english_in(part) == []
    english = mail.render(kind, {**CONTEXT, "language": "en"}, to="a@example.org", settings=settings)
    assert english.text.startswith("Hello,")
