"""The results page in Spanish, end to end: a lead who chose Spanish in their account sees every
interface word from the catalog, the instrument's words from its Spanish translation file,
reasons and agreement readings written in Spanish at the edge, and the very numbers of the
Spanish PDF report. The English page of the same cycle stays English.

Numbers: US Spanish (CLDR es_US, docs/interface-translations.md) writes a decimal point, as the
PDF does; both go through the one formatter, so they print the same string."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session

from app import i18n
from app.db.models import Role
from app.instruments.models import text
from app.reports.pdf import render_report_pdf
from app.scoring.numbers import format_score
from app.scoring.reasons import in_language, render_reasons
from app.services import evidence as evidence_service
from app.services import releases
from app.services.reports import build_report_context
from app.services.results_language import index_reading
from tests.helpers.auth import make_user
from tests.helpers.cycles import sign_in_fresh, store_cycle
from tests.helpers.html import parse
from tests.i18n.english_check import english_in
from tests.reports.conftest import pdf_text

SHOWN_SCORE = re.compile(r"^\d{1,3}\.\d$")
# Words that are the same in both languages, or names: the instrument's index names and formats.
SAME_IN_BOTH = {"Excel (XLSX", "CSV"}


@pytest.fixture
def cycle(db: Session):
    organization, assessment, instrument = store_cycle(
        db, name="Cedar Family Center", count=14, seed=5, lean=0.55
    )
    spanish = make_user(db, role=Role.org_lead, organizations=[organization])
    spanish.language = "es"
    english = make_user(db, role=Role.org_lead, organizations=[organization])
    db.commit()
    return assessment, instrument, spanish, english


def _main_text(page) -> str:
    main = page.one("main")
    for quote in main.cssselect("blockquote"):  # respondents' own words are in their language
        quote.drop_tree()
    return " ".join(main.text_content().split())


def test_a_spanish_lead_sees_the_results_in_spanish(client, db, cycle):
    assessment, instrument, spanish, _ = cycle
    sign_in_fresh(client, spanish)
    response = client.get(f"/assessments/{assessment.id}/results")
    assert response.status_code == 200
    page = parse(response.text)
    assert page.one("html").get("lang") == "es"
    assert page.heading() == "Resultados: Spring"
    headings = page.headings(2)
    for heading in ("Fortalezas", "Prioridades", "Puntajes por condición", "Acciones recomendadas"):
        assert heading in headings, headings
    body = _main_text(page)
    assert english_in(body, SAME_IN_BOTH) == []

    scorecard, _ = releases.released_scorecard(db, assessment_id=assessment.id)
    table = {row["Condición"]: row for row in page.records("#scores-table")}
    shown = 0
    for result in scorecard.domains:
        domain = instrument.domain_by_id(result.domain_id)
        title = text(domain.title, "es")
        assert title != text(domain.title, "en")  # the overlay has it, so it must be used
        assert title in table and text(domain.title, "en") not in body
        if result.score is None or result.suppressed:
            continue
        shown += 1
        level = next(lv for lv in instrument.scoring.levels if lv.id == result.level_id)
        assert table[title]["Nivel de preparación"] == text(level.label, "es")
        assert text(level.label, "es") != text(level.label, "en")
        assert table[title]["Puntaje (0–100)"] == format_score(result.score, locale="es")
        assert SHOWN_SCORE.match(table[title]["Puntaje (0–100)"])
        assert f"Puntaje {format_score(result.score, locale='es')} de 100" in body
        # reasons: codes and values, written in Spanish with the Spanish titles
        with i18n.use_locale("es"):
            sentences = render_reasons(
                [in_language(r, instrument, "es") for r in result.priority_reasons],
                locale="es",
                translate=i18n.gettext,
            )
        for sentence in sentences:
            assert sentence in body
    assert shown >= 3
    assert any(d.priority_reasons for d in scorecard.domains), "the sample has no priority to check"
    assert "por debajo de" in body
    # the actions are the instrument's, in Spanish
    for action in scorecard.actions:
        spanish_title = text(instrument.action_by_id(action.action_id).title, "es")
        assert spanish_title in body and action.title not in body
    # agreement readings, written again in Spanish
    readings = [row["Qué significa"] for row in page.records("#agreement-table")]
    assert readings and all("participantes" in r or "No se muestra" in r for r in readings), readings
    # the question tables: the instrument's answer labels in Spanish
    first = next(i for i in instrument.items_in(scorecard.domains[0].domain_id) if instrument.is_scored(i))
    labels = [text(o.label, "es") for o in instrument.scale_by_id(first.scale).options]
    assert all(label in body for label in labels)


def test_the_spanish_page_prints_the_numbers_of_the_spanish_pdf(client, db, cycle):
    assessment, _, spanish, _ = cycle
    sign_in_fresh(client, spanish)
    page = parse(client.get(f"/assessments/{assessment.id}/results").text)
    table = {row["Condición"]: row for row in page.records("#scores-table")}
    context = build_report_context(db, assessment_id=assessment.id, lang="es")
    pdf = pdf_text(render_report_pdf(context))
    compared = 0
    for condition in context.conditions:
        row = table[condition.title]
        if condition.score is None:
            assert row["Puntaje (0–100)"] in ("oculto", "–")
            continue
        shown = format_score(condition.score, locale="es")
        assert row["Puntaje (0–100)"] == shown
        assert row["Nivel de preparación"] == condition.level_label
        assert f"{condition.number}. {condition.title} {shown} {condition.level_label} {condition.n}" in pdf
        groups = {
            " ".join(r.xpath("./th")[0].text.split()): " ".join(r.xpath("./td")[1].text_content().split())
            for r in page.select(f"#domain-{condition.domain_id} table.group-table tbody tr")
        }
        for group in condition.groups:
            if group.score is not None:
                assert groups[group.label] == format_score(group.score, locale="es")
        for sentence in condition.priority_reasons:
            assert sentence in _main_text(page)
        compared += 1
    assert compared >= 3


def test_the_english_page_is_unchanged(client, db, cycle):
    assessment, instrument, _, english = cycle
    sign_in_fresh(client, english)
    page = parse(client.get(f"/assessments/{assessment.id}/results").text)
    assert page.one("html").get("lang") == "en"
    assert page.heading() == "Results: Spring"
    scorecard, _ = releases.released_scorecard(db, assessment_id=assessment.id)
    table = {row["Condition"]: row for row in page.records("#scores-table")}
    body = _main_text(page)
    for result in scorecard.domains:
        assert result.title == text(instrument.domain_by_id(result.domain_id).title, "en")
        row = table[result.title]
        if result.score is not None and not result.suppressed:
            assert row["Score (0–100)"] == format_score(result.score)
            assert row["Readiness level"] == result.level_label
        for sentence in render_reasons(result.priority_reasons):
            assert sentence in body
    for action in scorecard.actions:
        assert action.title in body
    assert "Strengths" in page.headings(2) and "Fortalezas" not in body


def test_readings_written_again_in_english_are_the_stored_ones(db, cycle):
    """The Spanish readings are translations of exactly the sentences the agreement code writes."""
    assessment, instrument, _, _ = cycle
    scorecard, _ = releases.released_scorecard(db, assessment_id=assessment.id)
    rows = evidence_service.agreement_rows(
        db, assessment=assessment, instrument=instrument, scorecard=scorecard
    )
    for row in rows:
        for index in (row.rwg_j, row.awg_j):
            assert index_reading(index, n=row.raters, privacy_threshold=3) == index.reading


def test_instrument_reliability_pages_in_spanish(client, db):
    organization, _, instrument = store_cycle(db, name="Pine Family Services", count=50, seed=8, lean=0.5)
    consultant = make_user(db, role=Role.consultant, organizations=[organization])
    consultant.language = "es"
    db.commit()
    sign_in_fresh(client, consultant)
    index = parse(client.get("/psychometrics").text)
    assert index.heading() == "Confiabilidad de los instrumentos"
    assert index.link(f"/psychometrics/{instrument.id}").text_content() == text(instrument.title, "es")
    page = parse(client.get(f"/psychometrics/{instrument.id}").text)
    assert page.heading() == f"Confiabilidad de {text(instrument.title, 'es')}"
    body = _main_text(page)
    assert english_in(body) == []
    rows = page.records(".alpha-table")
    assert [r["Condición"] for r in rows] == [text(d.title, "es") for d in instrument.domains]
    assert any(r["Alfa"] != "–" for r in rows), rows
    for row in rows:
        if row["Alfa"] != "–":
            assert row["Qué significa"].startswith(
                f"El alfa de Cronbach es {row['Alfa']} (intervalo del 95% de "
            )
            assert row["Intervalo del 95%"].startswith("de ")

    # the readings written again in English are the stored ones
    (version,) = evidence_service.instrument_psychometrics(db, instrument_id=instrument.id)
    for row in version.rows:
        assert row.alpha.reading == index_reading(
            row.alpha,
            n=row.n_complete,
            privacy_threshold=3,
            min_n=version.min_n,
            ci=(row.ci_low, row.ci_high),
            confidence=row.confidence,
        )
