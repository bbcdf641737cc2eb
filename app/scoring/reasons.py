"""Reason sentences: one renderer that turns a stored `Reason` into the sentence a reader sees.

The rules module decides WHY (a code and its values); this module only writes it. Pages, the PDF,
exports and the CLI all call `render_reason`, so a reason reads the same everywhere. Numbers go
through `app.scoring.numbers` (one decimal, "60.0"; percentages "13.3%").

Translation: `translate` is a gettext-style function applied to the English sentence pattern
(the msgid) before the values are filled in, and `locale` chooses how the numbers are written.
Titles, item texts and group labels are stored in the reason already in the scorecard's
language. The exact English patterns are listed in docs/scoring.md ("Reason sentences").

Pure: no web, database or I/O imports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from app.instruments.models import Instrument, text
from app.scoring.models import Reason
from app.scoring.numbers import DEFAULT_LOCALE, format_percent, format_score

__all__ = [
    "PATTERNS",
    "RATE_PARAMS",
    "SCORE_PARAMS",
    "in_language",
    "mid_sentence",
    "render_reason",
    "render_reasons",
]


def N_(message: str) -> str:  # noqa: N802 - the gettext marker the catalog extractor looks for
    """Mark a pattern for the interface catalog; it is translated where it is rendered."""
    return message


# The English sentence of each reason code: the msgid a translation starts from (marked with N_
# so that `pybabel extract` puts it in the catalog, app/locale).
PATTERNS: Mapping[str, str] = {
    "priority_line": N_("{domain_title} scored {score}, below the priority line of {line}"),
    "critical_item": N_("Critical item \u201c{item_text}\u201d averaged {mean}, below {limit}"),
    "domain_below": N_("{domain_title} scored {score}, below {limit}"),
    "item_below": N_("\u201c{item_text}\u201d averaged {mean}, below {limit}"),
    "dont_know_above": N_(
        "{rate} of answers in {domain_title} were \u201cDon't know\u201d (more than {rate_limit})"
    ),
    "gap_at_least": N_(
        "{higher_label} and {lower_label} see {domain_title} differently "
        "({higher_score} vs {lower_score}, a gap of {difference} points)"
    ),
    "gap_between": N_(
        "{first_label} scored {first_score} and {second_label_mid} {second_score} "
        "on {domain_title}: a gap of {difference} points"
    ),
    "text": "{text}",
}

# Parameters written as scores (one decimal) and as percentages (rates 0-1, one decimal).
SCORE_PARAMS = frozenset(
    {
        "score",
        "line",
        "mean",
        "limit",
        "higher_score",
        "lower_score",
        "first_score",
        "second_score",
        "difference",
    }
)
RATE_PARAMS = frozenset({"rate", "rate_limit"})


def mid_sentence(label: str) -> str:
    """A group label as it reads inside an English sentence: "Peer staff" -> "peer staff", but
    "HR staff" (an initialism) stays as it is."""
    if len(label) > 1 and label[0].isupper() and not label[1].isupper():
        return label[0].lower() + label[1:]
    return label


def _identity(message: str) -> str:
    return message


def render_reason(
    reason: Reason,
    *,
    locale: str = DEFAULT_LOCALE,
    translate: Callable[[str], str] | None = None,
) -> str:
    """The sentence of one reason. Raises KeyError when a parameter the pattern needs is missing
    (the rules module always provides them)."""
    pattern = (translate or _identity)(PATTERNS[reason.code])
    values: dict[str, str] = {}
    for name, value in reason.params.items():
        if name in SCORE_PARAMS and not isinstance(value, str):
            values[name] = format_score(value, locale=locale)
        elif name in RATE_PARAMS and not isinstance(value, str):
            values[name] = format_percent(value, locale=locale)
        else:
            values[name] = str(value)
    if "second_label" in values:
        values["second_label_mid"] = mid_sentence(values["second_label"])
    return pattern.format_map(values)


def render_reasons(
    reasons: Iterable[Reason],
    *,
    locale: str = DEFAULT_LOCALE,
    translate: Callable[[str], str] | None = None,
) -> list[str]:
    """The sentences of several reasons, in their order."""
    return [render_reason(r, locale=locale, translate=translate) for r in reasons]


# The text parameters a reason carries and the id parameter each was written from.
_TEXT_SOURCES = {
    "domain_title": "domain",
    "item_text": "item",
    "higher_label": "higher_group",
    "lower_label": "lower_group",
    "first_label": "first_group",
    "second_label": "second_group",
}


def in_language(reason: Reason, instrument: Instrument, lang: str) -> Reason:
    """The reason with its titles, item texts and group labels in `lang`, looked up by the ids it
    carries (a scorecard stores them in the instrument's source language). Values whose id the
    instrument does not know (a pooled group, an older version's item) stay as stored."""
    params = dict(reason.params)
    for name, source in _TEXT_SOURCES.items():
        key = params.get(source)
        if name not in params or not isinstance(key, str):
            continue
        if source == "domain" and key in {d.id for d in instrument.domains}:
            params[name] = text(instrument.domain_by_id(key).title, lang)
        elif source == "item" and instrument.has_item(key):
            params[name] = text(instrument.item_by_id(key).text, lang)
        elif source.endswith("_group") and instrument.has_group(key):
            params[name] = text(instrument.group_by_id(key).label, lang)
    return Reason(code=reason.code, params=params)
