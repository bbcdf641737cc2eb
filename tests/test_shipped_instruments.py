"""The shipped instruments: valid, complete, grounded in the five seed documents, plain language.

Loads each file with the full loader (type validation plus cross-checks), then checks the
content rules the product brief sets: enough items per condition, critical items, conditional
items for agencies that employ parent peer specialists and for those preparing, peer-staff items,
evidence keys from the seeds only, and a Flesch-Kincaid grade of 9 or lower for item texts.
Spanish (`<name>.es.yaml`): every text translated and none stale, the same rules in the Spanish
wording, one term per concept, and a Fernández-Huerta reading ease of 70 or more for items.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from app.instruments.catalog import instrument_files
from app.instruments.loader import LoadedInstrument, load_instrument_file
from app.instruments.models import Instrument, Item, text
from app.instruments.readability import (
    MAX_ITEM_GRADE,
    MIN_ACTION_EASE_ES,
    MIN_ITEM_EASE_ES,
    as_passage,
    fernandez_huerta,
    fk_grade,
    measure,
    measure_spanish,
    spanish_syllables,
    textstat_fernandez_huerta,
    visible_scored_items,
)
from app.instruments.translations import has_language, text_entries
from app.paths import INSTRUMENTS_DIR

SEED_KEYS = {"valentine2022", "nicholson2018", "samhsa2017", "miles", "ashcraft2007"}
DOMAINS = ["purpose", "integration", "stigma", "valuing"]
GROUPS = ["leadership", "clinical", "peer_staff", "admin_hr", "family_advisory"]
STAFF_GROUPS = ["leadership", "clinical", "peer_staff", "admin_hr"]
FULL = INSTRUMENTS_DIR / "readiness-full.yaml"
QUICK = INSTRUMENTS_DIR / "quick-check.yaml"
ALL_FILES = instrument_files(INSTRUMENTS_DIR)  # quick-check.es.yaml is a translation, not a file of its own


@cache
def loaded(path: Path) -> LoadedInstrument:
    return load_instrument_file(path)


def load(path: Path) -> Instrument:
    return loaded(path).instrument


@pytest.fixture(scope="module")
def full() -> Instrument:
    return load(FULL)


@pytest.fixture(scope="module")
def quick() -> Instrument:
    return load(QUICK)


def scored(instrument: Instrument) -> list[Item]:
    return [i for i in instrument.items if instrument.is_scored(i)]


def test_both_instruments_are_shipped() -> None:
    assert ALL_FILES == [QUICK, FULL]
    assert (INSTRUMENTS_DIR / "quick-check.es.yaml").is_file()
    assert (INSTRUMENTS_DIR / "readiness-full.es.yaml").is_file()


# --- every shipped file ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_loads_with_cross_checks(path: Path) -> None:
    instrument = load(path)
    # 1.1.0: gap_between triggers (both files) and items for family advisory members (full);
    # 1.2.0: Spanish.
    assert instrument.version == "1.2.0"
    assert instrument.languages == ["en", "es"]
    assert [d.id for d in instrument.domains] == DOMAINS
    assert [g.id for g in instrument.groups] == GROUPS


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_evidence_comes_from_the_seeds(path: Path) -> None:
    instrument = load(path)
    assert set(instrument.references) == SEED_KEYS
    for entry in [*instrument.domains, *instrument.items, *instrument.actions]:
        assert entry.evidence, f"{entry.id} cites no evidence"
        assert 1 <= len(entry.evidence) <= 3, entry.id
        assert set(entry.evidence) <= SEED_KEYS, f"{entry.id}: {entry.evidence}"
        assert len(set(entry.evidence)) == len(entry.evidence), f"{entry.id} repeats a key"


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_scales_and_levels(path: Path) -> None:
    instrument = load(path)
    agree = instrument.scale_by_id("agree5")
    assert [(o.value, o.score) for o in agree.options if o.kind == "scored"] == [
        (str(n), n) for n in range(1, 6)
    ]
    assert {o.kind for o in agree.options} == {"scored", "dont_know", "not_applicable"}
    status = instrument.scale_by_id("pps_status")
    # "not_sure" keeps "I don't know" possible here too; it shows neither conditional branch.
    assert [o.value for o in status.options] == ["employ", "planning", "exploring", "not_sure"]
    assert all(o.kind == "choice" for o in status.options)
    context = instrument.item_by_id("pps_status")
    assert context.required and not context.groups and not instrument.is_scored(context)
    levels = instrument.scoring.levels
    assert levels[0].min == 0 and levels[-1].max == 100
    assert all(a.max == b.min for a, b in zip(levels, levels[1:], strict=False))
    s = instrument.scoring
    assert (s.strength_at, s.priority_below, s.critical_below, s.gap_threshold, s.dont_know_flag_rate) == (
        75,
        60,
        50,
        15,
        0.25,
    )


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_each_domain_has_a_critical_item_and_actions(path: Path) -> None:
    instrument = load(path)
    for domain in DOMAINS:
        critical = [i for i in scored(instrument) if i.domain == domain and i.critical]
        assert 1 <= len(critical) <= 2, domain
        # some action answers each critical item
        named = {c for a in instrument.actions for c in (a.when.critical_items or [])}
        assert any(i.id in named for i in critical), domain
    reverse = [i for i in instrument.items if i.reverse]
    assert len(reverse) <= 2


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_actions_are_complete(path: Path) -> None:
    instrument = load(path)
    for action in instrument.actions:
        assert 2 <= len(action.steps) <= 5, action.id
        assert 1 <= action.priority <= 3
        assert text(action.timeframe)
    kinds = {kind for a in instrument.actions for kind, value in a.when if value is not None}
    assert kinds >= {"domain_below", "items_below", "critical_items", "dont_know_above", "gap_between"}


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_listening_to_peer_staff_follows_the_leadership_peer_gap(path: Path) -> None:
    """An action about hearing peer staff reacts to how leadership and peer staff differ, never to a
    gap between two other groups (which gap_at_least would pick up)."""
    instrument = load(path)
    listening = [
        a
        for a in instrument.actions
        if "peer staff" in text(a.title).lower()
        and (a.when.gap_at_least is not None or a.when.gap_between is not None)
    ]
    assert len(listening) >= 2
    for action in listening:
        assert action.when.gap_at_least is None, action.id
        assert action.when.gap_between is not None, action.id
        assert action.when.gap_between.groups == ["leadership", "peer_staff"], action.id
        assert action.when.gap_between.at_least == 20, action.id
        # The rationale says whose views differ, as the trigger now does.
        whose = ("Leadership and peer staff", "Leaders and peer staff")
        assert text(action.rationale).startswith(whose), action.id


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_parent_journey_is_never_a_score(path: Path) -> None:
    """The Parent Journey is an understanding tool: any action citing it says it must not judge a parent."""
    instrument = load(path)
    for action in instrument.actions:
        if "miles" in action.evidence:
            words = " ".join([text(action.rationale), *(text(s) for s in action.steps)]).lower()
            assert "never" in words and ("score" in words or "judge" in words), action.id


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_items_speak_about_the_organization(path: Path) -> None:
    """Items describe the agency; first-person items are only for peer staff about their own experience."""
    instrument = load(path)
    for item in scored(instrument):
        words = text(item.text)
        if words.startswith("As a peer staff member"):
            assert item.groups == ["peer_staff"], item.id
        else:
            assert " I " not in f" {words} ", item.id


# --- reading level ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_reading_grade(path: Path) -> None:
    report = measure(load(path))
    assert report.item_grade <= MAX_ITEM_GRADE, (report.item_grade, report.hardest_items)
    assert report.action_grade <= MAX_ITEM_GRADE + 1


def test_fk_grade_follows_the_formula() -> None:
    assert fk_grade("") == 0.0
    assert fk_grade("The cat sat on the mat.") < 1
    # 0.39 * 6 words/sentence + 11.8 * 6/6 syllables/word - 15.59
    assert fk_grade("The cat sat on the mat.") == pytest.approx(0.39 * 6 + 11.8 - 15.59)
    assert as_passage(["One", "Two?", " "]) == "One. Two?"
    hard = "Organizational implementation necessitates comprehensive interdisciplinary collaboration."
    assert fk_grade(hard) > 15


# --- Spanish -----------------------------------------------------------------------------------

# One Spanish term per concept (docs/instrument-translations.md, glossary): an English text with
# the left-hand words has a Spanish text with one of the right-hand ones.
GLOSSARY = {
    r"parent peer specialists?": (
        "especialista de apoyo entre padres",
        "especialistas de apoyo entre padres",
    ),
    r"peer staff": ("personal de apoyo entre pares", "personal nuevo de apoyo entre pares"),
    r"lived experience": ("experiencia vivida", "lo que ha vivido"),
    r"stigma": ("estigma",),
    r"courtesy stigma": ("estigma por asociación",),
    r"case managers?": ("administradores de casos",),
    r"family advisors?\b": ("familias asesoras",),
    r"family advisory": ("grupo asesor de familias",),
    r"parent journey": ("recorrido de los padres",),
    r"training": ("capacitación", "capacitaciones", "capacitar", "cursos"),
}
# English words that must not be left in the Spanish; named English terms appear only in quotes or
# parentheses after their Spanish name ("peer-plus", "(Parent Journey)").
ENGLISH_LEFTOVERS = re.compile(r"\b(the|and|of|staff|peer|peers|parent|parents|team|agency|don't)\b", re.I)


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_every_text_is_in_spanish_and_none_is_stale(path: Path) -> None:
    result = loaded(path)
    assert result.warnings == (), "\n".join(map(str, result.warnings))
    assert result.translation_files == (str(path.with_name(path.stem + ".es.yaml")),)
    for entry in text_entries(result.instrument):
        assert has_language(entry.value, "es"), entry.key
        spanish = text(entry.value, "es")
        assert spanish.strip() and spanish != text(entry.value, "en"), entry.key
        named_terms_removed = re.sub(r'"peer-plus"|\(Parent Journey\)', "", spanish)
        assert not ENGLISH_LEFTOVERS.search(named_terms_removed), (entry.key, spanish)


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_spanish_uses_one_term_per_concept(path: Path) -> None:
    for entry in text_entries(load(path)):
        english, spanish = text(entry.value, "en").lower(), text(entry.value, "es").lower()
        for term, translations in GLOSSARY.items():
            if re.search(term, english):
                assert any(t in spanish for t in translations), (entry.key, term, spanish)


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_spanish_follows_the_same_content_rules(path: Path) -> None:
    instrument = load(path)
    labels = {text(o.label, "es") for s in instrument.scales for o in s.options}
    assert {"No sé", "No corresponde", "Muy en desacuerdo", "Muy de acuerdo"} <= labels
    for entry in text_entries(instrument):
        # Quoted answers name the Spanish labels the respondent sees.
        spanish = text(entry.value, "es")
        if '"Don\'t know"' in text(entry.value, "en"):
            assert '"No sé"' in spanish, entry.key
    for item in scored(instrument):
        # First-person Spanish items are the peer-staff ones, as in English.
        peer_voice = text(item.text, "es").startswith("Como parte del personal de apoyo entre pares,")
        assert peer_voice == text(item.text).startswith("As a peer staff member"), item.id
    for action in instrument.actions:
        if "miles" in action.evidence:
            words = " ".join([text(action.rationale, "es"), *(text(s, "es") for s in action.steps)]).lower()
            assert "nunca" in words and ("calificar" in words or "juzgar" in words), action.id
        if action.when.gap_between is not None:
            assert text(action.rationale, "es").startswith(
                ("La dirección y el personal", "Los líderes y el personal")
            )


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_spanish_reading_ease(path: Path) -> None:
    report = measure_spanish(load(path))
    assert report.item_ease >= MIN_ITEM_EASE_ES, (report.item_ease, report.hardest_items)
    assert report.action_ease >= MIN_ACTION_EASE_ES, report.action_ease


# Syllables by Spanish spelling: hiatus (a-e, í-a, pa-ís) splits, diphthongs (ia, ue, ui) do not,
# the u of que/qui/gue/gui is silent, a final y after a vowel is a vowel (hoy, muy).
SYLLABLES = {
    "a": 1, "y": 1, "el": 1, "que": 1, "hoy": 1, "muy": 1, "guion": 1, "padres": 2, "reunión": 2,
    "guía": 2, "país": 2, "aún": 2, "reyes": 2, "leer": 2, "huevo": 2, "agencia": 3, "apoyo": 3,
    "equipo": 3, "ideas": 3, "área": 3, "poeta": 3, "pingüino": 3, "experiencia": 4, "evaluación": 4,
    "continúa": 4, "especialista": 5, "organización": 5, "capacitación": 5,
}  # fmt: skip


def test_spanish_syllables_follow_spelling_rules() -> None:
    assert {word: spanish_syllables(word) for word in SYLLABLES} == SYLLABLES
    assert spanish_syllables("Agencia") == 3 and spanish_syllables("28") == 1


def test_fernandez_huerta_follows_the_formula() -> None:
    assert fernandez_huerta("") == 0.0
    sentence = "Nuestra agencia tiene un plan claro."  # 6 words, 2+3+2+1+1+2 = 11 syllables
    assert fernandez_huerta(sentence) == pytest.approx(206.84 - 60 * 11 / 6 - 1.02 * 6)
    hard = "La implementación organizacional requiere colaboración interdisciplinaria sistemática."
    assert fernandez_huerta(hard) < 10
    # textstat counts syllables with hyphenation patterns, which never split "agen-cia" or "guía"
    # into their real syllables, so it finds the same text easier.
    plain = "La agencia tiene una guía para las ideas de los padres."
    assert textstat_fernandez_huerta(plain) > fernandez_huerta(plain) + 5


def test_spanish_ease_needs_no_download(monkeypatch) -> None:
    import nltk

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the Spanish check must work offline")

    monkeypatch.setattr(nltk, "download", refuse)
    report = measure_spanish(load(QUICK))
    assert report.item_ease > 0 and report.item_ease_textstat > 0


def test_reading_grade_script_prints_the_spanish_figures(capsys) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "reading_grade", INSTRUMENTS_DIR.parent / "scripts" / "reading_grade.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main([str(QUICK)]) == 0
    out = capsys.readouterr().out
    ease = measure_spanish(load(QUICK)).item_ease
    assert f"[es] item ease (joined):  {ease:.1f}  [ok]  Fernández-Huerta" in out
    assert "[es] textstat's figure:" in out and "item grade (joined):" in out


# --- the full instrument ---------------------------------------------------------------------


def test_full_has_enough_items_and_actions(full: Instrument) -> None:
    items = Counter(i.domain for i in scored(full))
    actions = Counter(a.domain for a in full.actions)
    for domain in DOMAINS:
        assert items[domain] >= 9, domain
        assert actions[domain] >= 6, domain


@pytest.mark.parametrize("status", ["employ", "planning", "exploring"])
@pytest.mark.parametrize("group", STAFF_GROUPS)
def test_full_every_staff_group_sees_enough(full: Instrument, group: str, status: str) -> None:
    counts = visible_scored_items(full, group, {"pps_status": status})
    assert min(counts.values()) >= 6, counts
    assert sum(counts.values()) >= 30, counts


@pytest.mark.parametrize("status", ["employ", "planning", "exploring"])
def test_full_family_advisory_sees_enough_in_every_condition(full: Instrument, status: str) -> None:
    # At least 4 scored items per condition in both branches (employ; planning or exploring), so a
    # family advisory member's condition score never rests on one or two statements.
    counts = visible_scored_items(full, "family_advisory", {"pps_status": status})
    assert min(counts.values()) >= 4, counts


@pytest.mark.parametrize("status", ["employ", "planning", "exploring"])
def test_full_admin_hr_sees_enough_in_every_condition(full: Instrument, status: str) -> None:
    counts = visible_scored_items(full, "admin_hr", {"pps_status": status})
    assert min(counts.values()) >= 6, counts


def test_full_has_items_written_for_family_advisory_members(full: Instrument) -> None:
    # Items written for family advisory members: what they can observe (how families are told about
    # the role, whether advisors were asked, what they see in meetings).
    ids = {i.id for i in scored(full) if "family_advisory" in i.groups}
    assert {
        "integ_family_asked",
        "integ_family_sees_team",
        "integ_prep_family_info",
        "integ_prep_beside_therapists",
        "value_peer_at_advisory",
        "value_prep_advisory_voice",
    } <= ids


def test_full_conditional_items(full: Instrument) -> None:
    employ = [i for i in full.items if i.show_if and i.show_if.in_ == ["employ"]]
    preparing = [i for i in full.items if i.show_if and set(i.show_if.in_ or []) == {"planning", "exploring"}]
    assert len(employ) >= 4 and len(preparing) >= 4
    for item in [*employ, *preparing]:
        assert item.show_if is not None and item.show_if.item == "pps_status"
    # each condition has preparation items, so agencies still planning get specific feedback
    assert {i.domain for i in preparing} == set(DOMAINS)


def test_full_peer_staff_perspective_items(full: Instrument) -> None:
    peer_only = [i for i in scored(full) if i.groups == ["peer_staff"]]
    assert len(peer_only) >= 6
    assert {i.domain for i in peer_only} == set(DOMAINS)
    # leadership sees a counterpart in every condition, so the two views can be compared
    for domain in DOMAINS:
        assert visible_scored_items(full, "leadership", {"pps_status": "employ"})[domain] >= 8


def test_full_required_and_reverse(full: Instrument) -> None:
    assert 3 <= sum(i.required for i in scored(full)) <= 8
    assert 1 <= sum(i.reverse for i in full.items) <= 2


# --- the quick check -------------------------------------------------------------------------


def test_quick_check_is_short_and_for_everyone(quick: Instrument) -> None:
    items = scored(quick)
    assert len(items) <= 16
    assert Counter(i.domain for i in items) == dict.fromkeys(DOMAINS, 4)
    assert all(not i.groups and i.show_if is None for i in quick.items)
    actions = Counter(a.domain for a in quick.actions)
    assert all(actions[d] >= 2 for d in DOMAINS)


# --- the documents quote the shipped files exactly -----------------------------------------------


def _yaml_blocks(markdown: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", markdown, re.S)


def test_translation_examples_in_the_docs_are_real_entries() -> None:
    root = INSTRUMENTS_DIR.parent
    shipped = (INSTRUMENTS_DIR / "readiness-full.es.yaml").read_text(encoding="utf-8")
    readme = (root / "README.md").read_text(encoding="utf-8")
    guide = (root / "docs" / "instrument-translations.md").read_text(encoding="utf-8")
    entries = [block for block in _yaml_blocks(readme) + _yaml_blocks(guide) if "source_hash" in block]
    assert len(entries) == 2
    for entry in entries:
        assert entry in shipped, entry


def test_the_spanish_reading_ease_in_the_docs_is_current() -> None:
    guide = (INSTRUMENTS_DIR.parent / "docs" / "instrument-translations.md").read_text(encoding="utf-8")
    figures = []
    for path in (QUICK, FULL):
        report = measure_spanish(load(path))
        figures.append(f"{report.item_ease:.1f} / {report.action_ease:.1f}")
    assert f"quick check {figures[0]}, full instrument {figures[1]}" in guide
    assert f"≥ {MIN_ITEM_EASE_ES:g} |" in guide and f"≥ {MIN_ACTION_EASE_ES:g} |" in guide
