"""The action-plan report in Spanish: every interface word from the catalog, the instrument's
Spanish text, reasons rewritten in Spanish at the edge, dates and numbers for the locale after
PeerReady's own rounding, `lang` on the document (PDF /Lang) and Spanish hyphenation."""

from __future__ import annotations

import io
from decimal import Decimal

from babel.numbers import format_decimal
from pypdf import PdfReader
from sqlmodel import Session

from app import i18n
from app.reports.pdf import render_report_html, render_report_pdf, report_filename
from app.scoring.numbers import format_percent, format_score
from app.services.report_samples import create_sample_report_data
from app.services.reports import build_report_context
from app.web.templating import build_environment
from tests.helpers.html import parse
from tests.i18n.english_check import english_in


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text() or "" for page in reader.pages).split())


def test_spanish_report_has_no_english_interface_text(db: Session):
    assessment = create_sample_report_data(db, organization_name="Servicios Familiares del Valle")
    db.commit()
    context = build_report_context(db, assessment_id=assessment.id, lang="es")
    assert context.lang == "es"
    assert report_filename(context).endswith("-es.pdf")

    html = parse(render_report_html(context))
    assert html.one("html").get("lang") == "es"
    assert html.text("#summary-heading") == "Resumen"
    # reasons are codes and values, written here in Spanish with the Spanish titles
    reasons = [r for c in context.conditions for r in c.priority_reasons]
    assert reasons and all("por debajo de" in r or "diferencia" in r for r in reasons), reasons
    assert "Integración en el equipo obtuvo 58.9, por debajo de la línea de prioridad de 60.0" in reasons
    # dates in Spanish
    assert context.results_date and " de 20" in context.results_date

    data = render_report_pdf(context)
    reader = PdfReader(io.BytesIO(data))
    assert reader.trailer["/Root"]["/Lang"] == "es"
    text = pdf_text(data)
    body = text.split("Referencias")[0]  # citations are quoted as published (in English)
    # Data, not interface text, that happens to contain a msgid's words ("Administration",
    # "Started", "about"): a cited agency's name, the sample plan's notes and a respondent's
    # comment quoted as written, all typed in English.
    data = (
        "Substance Abuse and Mental Health Services Administration",
        "Started with the leadership team.",
        "Leadership talks about the program at all-staff meetings.",
    )
    for written in data:
        body = body.replace(written, "")
    assert english_in(body) == []
    for english in ("Clear purpose and inclusion", "Team integration", "Clinical staff", "Page 1 of"):
        assert english not in body
    assert "Página 1 de" in text and "Propósito claro e inclusión" in text
    # the per-question appendix and the release notes are Spanish too
    assert "Pregunta por pregunta" in text and "Estos resultados se publicaron el" in text
    assert "\u2010" in text  # hyphens: auto with lang="es" broke at least one long Spanish word

    # the English report of the same data is still English
    english = build_report_context(db, assessment_id=assessment.id)
    assert english.lang == "en"
    assert parse(render_report_html(english)).text("#summary-heading") == "Summary"


def test_numbers_are_rounded_half_up_before_the_locale_writes_them():
    # Babel alone rounds half-even: 62.25 -> 62.2. PeerReady rounds first (62.3), then writes.
    assert format_decimal(Decimal("62.25"), "#,##0.0", locale="es_ES") == "62,2"
    assert format_score(62.25, locale="es_ES") == "62,3"
    assert format_score(62.25, locale="es") == "62.3"  # US Spanish writes a decimal point
    assert format_percent(0.2535, locale="es_ES") == "25,4\xa0%"
    assert i18n.format_date(__import__("datetime").date(2026, 3, 5), "es") == "5 de marzo de 2026"


def test_report_plurals_read_right_in_both_languages():
    template = build_environment().from_string(
        '{{ ngettext("%(num)s person answered too few questions to score.",'
        ' "%(num)s people answered too few questions to score.", n) }}'
    )
    with i18n.use_locale("en"):
        assert template.render(n=1) == "1 person answered too few questions to score."
        assert template.render(n=3) == "3 people answered too few questions to score."
    with i18n.use_locale("es"):
        assert template.render(n=1) == "1 persona respondió muy pocas preguntas para tener puntaje."
        assert template.render(n=3) == "3 personas respondieron muy pocas preguntas para tener puntaje."
