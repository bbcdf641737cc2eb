"""Results by language: the comparison by the language each response was answered in, another
kind of group comparison beside the respondent groups', through the one disclosure layer
(docs/privacy.md, docs/scoring.md section 10). First the pure rule (app.disclosure.policy.
pool_languages) and the scorecard it gives; then the attacks through the real pages, as the lead
would try them, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader
from sqlmodel import select

from app.db.models import Release
from app.disclosure import audit, policy
from app.disclosure.release import cells_from_json, decide_release, release_cells
from app.instruments.models import text
from app.scoring import ResponseInput, score_responses
from app.scoring.rules import POOLED
from tests.helpers.html import parse
from tests.privacy.world import make_agency
from tests.scoring.scoring_support import item, make_instrument

EVERY = {"en", "es", "fr"}


def _plan(cross, order=("en", "es", "fr", ""), threshold=3, eligible=EVERY):
    return policy.pool_languages(cross, list(order), threshold, eligible=eligible)


# --- the pure rule -----------------------------------------------------------------------------


def test_both_languages_at_the_threshold_are_shown():
    plan = _plan({"en": {"*": 5}, "es": {"*": 3}})
    assert plan.shown == ["en", "es"] and plan.pooled == []


def test_two_languages_one_small_neither_is_shown_apart():
    # "site minus English" would be the two Spanish answers: complementary suppression pools
    # English too, and a comparison of one pooled row is no comparison: nothing is shown.
    plan = _plan({"en": {"*": 9}, "es": {"*": 2}})
    assert plan.shown == [] and sorted(plan.pooled) == ["en", "es"] and not plan.pooled_visible


def test_one_language_is_no_comparison():
    assert _plan({"en": {"*": 12}}).shown == []


def test_small_languages_pool_and_the_pool_must_reach_the_threshold():
    plan = _plan({"en": {"*": 6}, "es": {"*": 4}, "fr": {"*": 1}})
    # fr alone (1) cannot stand as the pool: the smallest shown (es) joins it.
    assert plan.shown == ["en"] and plan.pooled == ["es", "fr"] and plan.pooled_visible
    plan = _plan({"en": {"*": 6}, "es": {"*": 4}, "fr": {"*": 3}})
    assert plan.shown == ["en", "es", "fr"]


def test_not_recorded_is_never_shown_on_its_own():
    plan = _plan({"en": {"*": 5}, "": {"*": 4}}, eligible={"en", "es"})
    assert plan.shown == ["en"] and plan.pooled == [""] and plan.pooled_visible


def test_language_by_group_cell_below_the_threshold_hides_the_comparison():
    # Leadership (shown, 4) holds 3 English answers and 1 Spanish; peer staff (shown, 3) all
    # Spanish. Leadership minus English would be the one Spanish-speaking leader: no comparison.
    cross = {"en": {"leadership": 3}, "es": {"leadership": 1, "peer": 3}}
    assert _plan(cross).shown == []
    # When the cells of the cross-table are empty or reach the threshold, it is shown.
    cross = {"en": {"leadership": 3, "peer": 3}, "es": {"peer": 3}}
    assert _plan(cross).shown == ["en", "es"]


def test_the_pool_is_checked_against_the_groups_too():
    cross = {"en": {"a": 3, "b": 3}, "es": {"a": 3}, "fr": {"b": 1}, "": {"b": 1}}
    plan = _plan(cross)
    # The pool {fr, not recorded} has 2 people: es joins it (complementary suppression). Its
    # cells are then a 3, b 2: b minus English would be those 2, so English joins too and
    # nothing is left to compare.
    assert plan.shown == []


def test_web_answers_reach_the_threshold_on_their_own_in_every_cell():
    cross = {"en": {"*": {"web": 5}}, "es": {"*": {"web": 1, "import": 2}}}
    assert _plan(cross).shown == []
    cross = {"en": {"*": {"web": 5}}, "es": {"*": {"web": 3, "import": 2}}}
    assert _plan(cross).shown == ["en", "es"]


def test_every_hidden_set_is_empty_or_reaches_the_threshold():
    """Exhaustively over small cross-tables: any 0/1 combination of the shown rows (site, group
    rows, language rows) that is not itself a shown row is a union of cross-cells, and each
    nonempty cross-cell then holds at least k people."""
    import itertools

    for en_a, en_b, es_a, es_b in itertools.product(range(0, 5), repeat=4):
        cross = {"en": {"a": en_a, "b": en_b}, "es": {"a": es_a, "b": es_b}}
        plan = _plan(cross)
        if plan.shown:
            cells = [en_a, en_b, es_a, es_b]
            assert all(c == 0 or c >= 3 for c in cells), cross


# --- the scorecard -----------------------------------------------------------------------------


def _people(spec: list[tuple[str, str, str, int]]) -> list[ResponseInput]:
    """(group, language, value, how many) -> responses."""
    found = []
    for group, language, value, count in spec:
        for _ in range(count):
            found.append(
                ResponseInput(
                    respondent_id=f"r{len(found)}",
                    group=group,
                    answers={"i1": value, "i2": value},
                    language=language or None,
                )
            )
    return found


INSTRUMENT = make_instrument([item("i1"), item("i2", domain="b")], groups=("lead", "staff", "peer"))


def test_scorecard_rows_by_language_beside_the_group_rows():
    people = _people(
        [("lead", "en", "4", 3), ("staff", "en", "3", 3), ("staff", "es", "2", 3), ("peer", "es-MX", "4", 3)]
    )
    card = score_responses(INSTRUMENT, people)
    domain = card.domains[0]
    assert card.languages == ["en", "es"]
    assert [(r.group, r.n, r.score) for r in domain.languages] == [("en", 6, 62.5), ("es", 6, 50.0)]
    # The group rows are unchanged by it.
    assert [(r.group, r.n) for r in domain.groups] == [("lead", 3), ("staff", 6), ("peer", 3)]


def test_scorecard_one_person_beside_a_pooled_group_hides_the_comparison():
    # lead 3 (English), staff 3 (Spanish), peer 1 (English): staff joins the pooled row with
    # peer. English (4) minus leadership (3) would be the peer specialist: no comparison.
    people = _people([("lead", "en", "4", 3), ("staff", "es", "2", 3), ("peer", "en", "5", 1)])
    card = score_responses(INSTRUMENT, people)
    assert [r.group for r in card.domains[0].groups] == ["lead", POOLED]
    assert card.domains[0].languages == []


def test_scorecard_language_by_group_not_shown_when_a_cell_is_small():
    people = _people([("lead", "en", "4", 4), ("lead", "es", "2", 1), ("staff", "es", "3", 3)])
    card = score_responses(INSTRUMENT, people)
    assert [r.group for r in card.domains[0].groups] == ["lead", "staff"]
    assert card.domains[0].languages == []  # lead minus English would be one person


def test_release_cells_of_language_rows_pass_the_audit_and_name_their_members():
    people = _people([("lead", "en", "4", 3), ("staff", "es", "2", 3)])
    card = score_responses(INSTRUMENT, people)
    cells = release_cells(INSTRUMENT, people, card)
    rows = {c.row: len(c.members) for c in cells if c.attribute == "domain:a"}
    assert rows["lang:en"] == 3 and rows["lang:es"] == 3
    assert audit.solvable_members(c.members for c in cells if c.attribute == "domain:a") == set()


def test_re_release_audit_withholds_the_whole_language_comparison_first():
    """Over time: release 1 has every cell of language x group at 3. Three newcomers join the
    leadership in English, and one leader moves from English to Spanish without changing any
    answer. Every cell of release 2 is still 3 or more, but Spanish (new) minus Spanish (old) is
    that one leader: the audit withholds the comparison by language (all of its rows), before
    any group row."""
    before = _people(
        [("lead", "en", "4", 3), ("lead", "es", "2", 3), ("staff", "en", "3", 3), ("staff", "es", "5", 3)]
    )
    first = decide_release(
        INSTRUMENT, before, score_responses(INSTRUMENT, before), previous_cells=[], previous_fingerprints=None
    )
    assert first.release and len(first.scorecard.domains[0].languages) == 2
    moved = before[0].model_copy(update={"language": "es"})
    newcomers = [
        ResponseInput(respondent_id=f"n{i}", group="lead", answers={"i1": "3", "i2": "3"}, language="en")
        for i in range(3)
    ]
    after = [moved, *before[1:], *newcomers]
    raw = score_responses(INSTRUMENT, after)
    assert len(raw.domains[0].languages) == 2  # one view alone would show it
    second = decide_release(
        INSTRUMENT, after, raw, previous_cells=first.cells, previous_fingerprints=first.fingerprints
    )
    assert second.release
    domain = second.scorecard.domains[0]
    assert domain.languages == [] and domain.languages_withheld
    assert [r.group for r in domain.groups if r.score is not None] == ["lead", "staff"]
    assert all(not c.row.startswith("lang:") for c in second.cells if c.attribute == "domain:a")
    # Without the comparison by language nobody is solvable from both releases together.
    every = [c.members for c in first.cells + second.cells if c.attribute == "domain:a"]
    assert audit.solvable_members(every) == set()


# --- through the pages (SQLite and PostgreSQL) -------------------------------------------------


def _released(db) -> list[Release]:
    db.expire_all()
    return list(db.exec(select(Release).order_by(Release.number)))


def _language_rows(page) -> list[dict[str, str]]:
    doc = parse(page)
    return doc.records("#language-table") if doc.has("#language-table") else []


def _pdf_text(client, assessment_id: int, **query: str) -> str:
    got = client.get(f"/assessments/{assessment_id}/report.pdf", params=query)
    assert got.status_code == 200 and got.content.startswith(b"%PDF"), got.text[:300]
    return " ".join(
        " ".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(got.content)).pages
    )


def test_web_results_page_and_pdf_show_the_comparison_when_both_languages_reach_it(db, app):
    agency = make_agency(db, app)
    for _ in range(3):
        agency.answer("clinical", "4", language="en")
    for _ in range(3):
        agency.answer("clinical", "2", language="es")
    agency.set_status("closed")
    page = agency.results()
    rows = _language_rows(page)
    titles = [d["title"] for d in _released(db)[0].scorecard["domains"]]
    assert titles and {r["Condition"] for r in rows} == set(titles)
    for title in titles:
        mine = [r for r in rows if r["Condition"] == title]
        assert [(r["Language"], r["n"]) for r in mine] == [("English", "3"), ("Spanish", "3")]
        assert float(mine[0]["Score"]) > float(mine[1]["Score"])
    doc = parse(page)
    assert doc.text("#language-table caption") == "Scores per condition by the language of the responses"
    words = doc.text("#language-text")
    assert "English" in words and "Spanish" in words and "(n = 3)" in words
    # The PDF report prints the same rows, in English and in Spanish.
    lead, _ = agency.client(agency.cast.lead_a)
    in_spanish = parse(
        lead.get(f"/assessments/{agency.assessment.id}/results", headers={"Accept-Language": "es"})
    )
    assert in_spanish.text("#language-groups-h") == "Resultados por idioma"
    assert (
        in_spanish.text("#language-table caption")
        == "Puntajes por condición según el idioma de las respuestas"
    )
    assert {r["Idioma"] for r in in_spanish.records("#language-table")} == {"Inglés", "Español"}
    spanish_titles = {text(d.title, "es") for d in agency.instrument.domains}
    assert {r["Condición"] for r in in_spanish.records("#language-table")} == spanish_titles
    english = _pdf_text(lead, agency.assessment.id)
    assert "By language" in english and re.search(
        r"English \d+\.\d \(n = 3\); Spanish \d+\.\d \(n = 3\)", english
    )
    spanish = _pdf_text(lead, agency.assessment.id, lang="es")
    assert "Por idioma" in spanish and re.search(
        r"Inglés \d+\.\d \(n = 3\); Español \d+\.\d \(n = 3\)", spanish
    )


def test_web_one_language_shows_one_sentence_not_an_empty_table(db, app):
    agency = make_agency(db, app)
    for value in ("2", "3", "4"):
        agency.answer("clinical", value, language="en")
    agency.set_status("closed")
    doc = parse(agency.results())
    assert not doc.has("#language-table")
    assert doc.text("#language-note") == (
        "All responses with a recorded language were answered in English, so there is no "
        "comparison by language."
    )


def test_small_language_group_is_hidden_with_complementary_suppression(db, app):
    """Two languages, one small: Spanish (2) cannot be shown, and English cannot either, since
    the site row minus English would be the two Spanish answers."""
    agency = make_agency(db, app)
    for value in ("2", "3", "4", "4", "5"):
        agency.answer("clinical", value, language="en")
    for value in ("1", "2"):
        agency.answer("clinical", value, language="es")
    agency.set_status("closed")
    doc = parse(agency.results())
    assert not doc.has("#language-table")
    assert "no comparison by language can be shown" in doc.text("#language-note")
    assert "Spanish" not in doc.text("main") and "English" not in doc.text("#language-groups")
    for domain in _released(db)[0].scorecard["domains"]:
        assert domain["languages"] == []


def test_subtracting_shown_languages_from_the_site_figure_leaves_nobody_small(db, app):
    """English 4, Spanish 3, French 1: French cannot stand alone, and "site minus English minus
    Spanish" would be the French speaker, so Spanish joins the pooled row (4 people)."""
    agency = make_agency(db, app)
    for value in ("2", "3", "4", "5"):
        agency.answer("clinical", value, language="en")
    for value in ("1", "3", "4"):
        agency.answer("clinical", value, language="es")
    agency.answer("clinical", "5", language="fr")
    agency.set_status("closed")
    for domain in _released(db)[0].scorecard["domains"]:
        alone = [r for r in domain["languages"] if r["group"] != "pooled"]
        assert [r["group"] for r in alone] == ["en"]
        left_over = domain["n"] - sum(r["n"] for r in alone)
        assert left_over == 0 or left_over >= 3
    page = agency.results()
    labels = {r["Language"] for r in _language_rows(page)}
    assert labels == {"English", "Other languages (combined)"}
    assert "French" not in parse(page).text("main") and "Spanish" not in parse(page).text("main")


def test_language_by_group_is_not_shown(db, app):
    """Leadership 3 (English) and clinical 4 (3 Spanish, 1 English) are shown as groups. English
    (4) minus leadership (3) would be the one English-speaking clinician: the comparison by
    language is not shown, on the page, in the release or in the PDF."""
    agency = make_agency(db, app)
    for value in ("2", "3", "4"):
        agency.answer("leadership", value, language="en")
    for value in ("1", "3", "4"):
        agency.answer("clinical", value, language="es")
    agency.answer("clinical", "5", language="en")
    agency.set_status("closed")
    release = _released(db)[0]
    for domain in release.scorecard["domains"]:
        assert [g["group"] for g in domain["groups"]] == ["leadership", "clinical"]
        assert domain["languages"] == []
    doc = parse(agency.results())
    assert not doc.has("#language-table")
    lead, _ = agency.client(agency.cast.lead_a)
    assert "By language" not in _pdf_text(lead, agency.assessment.id)


def test_one_spanish_response_between_releases_is_not_revealed(db, app):
    """Release 1: English 5, Spanish 2, no comparison. One more Spanish response after a reopen
    is one change: the release stays frozen (same page, no comparison). Only after k changes is
    there a new release; its Spanish row (3 people) passes the audit against release 1."""
    agency = make_agency(db, app)
    for value in ("2", "3", "4", "4", "5"):
        agency.answer("clinical", value, language="en")
    for value in ("1", "2"):
        agency.answer("clinical", value, language="es")
    agency.set_status("closed")
    first_page = parse(agency.results())
    assert not first_page.has("#language-table")
    agency.set_status("open")
    agency.answer("clinical", "5", language="es")  # the newcomer the lead would like to read
    agency.set_status("closed")
    releases = _released(db)
    assert len(releases) == 1
    held = parse(agency.results())
    assert not held.has("#language-table")
    assert "1 response changed" in held.text("#release-note")
    assert held.text("#scores-table") == first_page.text("#scores-table")
    # Two more changes make k = 3: a new release, whose rows cannot isolate anybody with the first.
    agency.set_status("open")
    agency.answer("clinical", "3", language="en")
    agency.answer("clinical", "4", language="en")
    agency.set_status("closed")
    releases = _released(db)
    assert len(releases) == 2
    rows = _language_rows(agency.results())
    assert {(r["Language"], r["n"]) for r in rows} == {("English", "7"), ("Spanish", "3")}
    cells = [c for r in releases for c in cells_from_json(r.cells)]
    for attribute in {c.attribute for c in cells}:
        assert audit.solvable_members(c.members for c in cells if c.attribute == attribute) == set()
