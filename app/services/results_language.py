"""The results page in the reader's language.

A released scorecard is stored with the instrument's words in English (it is scored once, with
`lang="en"`): condition titles, level names, group labels, action titles and timeframes, and the
titles and labels inside each reason. The page shows them in the language it is rendered in, the
way the PDF report does (`app.reports.context`): every text is looked up again by its id in the
instrument snapshot the cycle is pinned to, in that language, and falls back to the English when
the instrument has no translation. Reasons stay codes and values (`in_language` only swaps the
words they carry); the `reason` filter writes them as sentences at the edge. Numbers are never
touched.

The agreement and reliability readings are written in English where they are computed (the
JSON and the command line show them so); `index_reading` writes them again from their
machine-readable parts (band, value, respondents) in the current language.

No database, no web. The current language is `app.i18n`'s (the page sets it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from app.i18n import N_, SOURCE_LANGUAGE, gettext, ngettext
from app.instruments.models import Instrument, text
from app.reports.context import AGREEMENT_LABELS, POOLED_LABELS
from app.scoring.agreement import SMALL_GROUP
from app.scoring.evidence import Index
from app.scoring.models import DomainResult, GroupScore, Reason, Scorecard, SelectedAction
from app.scoring.reasons import in_language
from app.services.plan import PlanChanges
from app.services.scores import ShownComment

__all__ = [
    "agreement_label",
    "changes_in_language",
    "comments_in_language",
    "index_reading",
    "scorecard_in_language",
]


def agreement_label(agreement: str | None) -> str:
    """ "high", "moderate", "low" in the current language (as the PDF writes them)."""
    if agreement is None:
        return ""
    return gettext(AGREEMENT_LABELS[agreement]) if agreement in AGREEMENT_LABELS else agreement


_LABEL_PARAMS = ("higher_label", "lower_label", "first_label", "second_label")


def _reason(reason: Reason, instrument: Instrument, lang: str) -> Reason:
    """The reason's titles, texts and group labels in `lang`; a pooled row's label ("Other groups
    (combined)") has no id in the instrument, so it is translated from the catalog."""
    found = in_language(reason, instrument, lang)
    pooled = {
        k: gettext(POOLED_LABELS[v])
        for k, v in found.params.items()
        if k in _LABEL_PARAMS and v in POOLED_LABELS
    }
    return found.model_copy(update={"params": {**found.params, **pooled}}) if pooled else found


def _level_label(instrument: Instrument, result: DomainResult, lang: str) -> str | None:
    level = next((lv for lv in instrument.scoring.levels if lv.id == result.level_id), None)
    return text(level.label, lang) if level is not None else result.level_label


def _group_label(instrument: Instrument, row: GroupScore, lang: str) -> str:
    if instrument.has_group(row.group):
        return text(instrument.group_by_id(row.group).label, lang)
    return gettext(POOLED_LABELS[row.label]) if row.label in POOLED_LABELS else row.label


def _domain(instrument: Instrument, result: DomainResult, lang: str) -> DomainResult:
    known = {d.id for d in instrument.domains}
    title = (
        text(instrument.domain_by_id(result.domain_id).title, lang)
        if result.domain_id in known
        else result.title
    )
    return result.model_copy(
        update={
            "title": title,
            "level_label": _level_label(instrument, result, lang),
            "groups": [
                g.model_copy(update={"label": _group_label(instrument, g, lang)}) for g in result.groups
            ],
            "priority_reasons": [_reason(r, instrument, lang) for r in result.priority_reasons],
        }
    )


def _action(instrument: Instrument, action: SelectedAction, lang: str) -> SelectedAction:
    update: dict[str, object] = {"reasons": [_reason(r, instrument, lang) for r in action.reasons]}
    found = next((a for a in instrument.actions if a.id == action.action_id), None)
    if found is not None:
        update["title"] = text(found.title, lang)
        if found.timeframe is not None:
            update["timeframe"] = text(found.timeframe, lang)
    return action.model_copy(update=update)


def scorecard_in_language(scorecard: Scorecard, instrument: Instrument, lang: str) -> Scorecard:
    """The scorecard with its words in `lang` (English: the stored scorecard itself)."""
    if lang == SOURCE_LANGUAGE:
        return scorecard
    return scorecard.model_copy(
        update={
            "domains": [_domain(instrument, d, lang) for d in scorecard.domains],
            "actions": [_action(instrument, a, lang) for a in scorecard.actions],
        }
    )


def changes_in_language(changes: PlanChanges | None, instrument: Instrument, lang: str) -> PlanChanges | None:
    """The change since the previous cycle with each condition's title in `lang`."""
    if changes is None or lang == SOURCE_LANGUAGE:
        return changes
    known = {d.id for d in instrument.domains}
    scores = [
        dataclasses.replace(c, title=text(instrument.domain_by_id(c.domain_id).title, lang))
        if c.domain_id in known
        else c
        for c in changes.scores
    ]
    return dataclasses.replace(changes, scores=scores)


def comments_in_language(
    comments: Mapping[str, Sequence[ShownComment]], instrument: Instrument, lang: str
) -> dict[str, list[ShownComment]]:
    """Comments carry their group's label in English; name the group in `lang`."""
    labels = {text(g.label, SOURCE_LANGUAGE): text(g.label, lang) for g in instrument.groups}
    return {
        domain_id: [
            dataclasses.replace(c, group_label=labels.get(c.group_label, c.group_label))
            if c.group_label
            else c
            for c in shown
        ]
        for domain_id, shown in comments.items()
    }


# --- agreement and reliability readings ------------------------------------------------------

_NAMES = {"rwg": "rwg", "rwg_j": "rwg(j)", "awg": "awg", "awg_j": "awg(j)", "alpha": "alpha"}

# The readings of app.scoring.agreement, in the same English words (the msgids).
_AGREEMENT_BANDS = {
    "acceptable": N_(
        "Respondents agree: %(index)s is %(value)s, at or above the usual .70 line, so the mean can be read "
        "as a shared view."
    ),
    "reasonable": N_(
        "Respondents agree reasonably: %(index)s is %(value)s, between .60 and .70; read the mean as a "
        "shared view with some care."
    ),
    "low": N_(
        "Respondents do not agree enough: %(index)s is %(value)s, below the usual .70 line, so the mean "
        "hides real differences of view."
    ),
}
_AGREEMENT_BANDS["unacceptable"] = _AGREEMENT_BANDS["low"]
_TRUNCATED = N_("The answers were as spread out as random answers would be, or more, so the index is 0.")
_MISSING = {
    "no_answers": N_("No one gave a scored answer, so there is no agreement to measure."),
    "too_few_raters": N_("Agreement needs at least 2 respondents answering an item."),
    "mean_near_scale_end": N_(
        "awg(j) cannot be computed: on every item the mean is too close to an end of the scale for the "
        "number of respondents (see the items)."
    ),
    "changed_since_release": N_(
        "Withheld: answers have changed since these results were released; agreement is shown again with "
        "the next release."
    ),
    "too_few_items": N_("Alpha needs at least 2 items."),
    "too_few_respondents": N_("Alpha needs at least 2 respondents who answered every item."),
    "no_variance": N_("Every respondent gave the same total, so alpha is 0/0 and undefined."),
}
_ALPHA_BANDS = {
    "high": N_("high; some items may ask the same thing twice"),
    "good": N_("good"),
    "acceptable": N_("acceptable (.70 or more)"),
    "low": N_("below the usual .70 line: the items may not measure one thing"),
}


def _small_note(n: int | None) -> str:
    if n is None or n >= SMALL_GROUP:
        return ""
    return " " + ngettext(
        "With only %(num)s respondent this index is unstable; read it with care (it means little below "
        "%(small)s).",
        "With only %(num)s respondents this index is unstable; read it with care (it means little below "
        "%(small)s).",
        n,
    ) % {"num": n, "small": SMALL_GROUP}


def index_reading(
    index: Index,
    *,
    n: int | None,
    privacy_threshold: int,
    min_n: int | None = None,
    ci: tuple[float | None, float | None] = (None, None),
    confidence: float = 0.95,
) -> str:
    """The reading of an agreement index (rwg(j), awg(j)) or of alpha in the current language,
    written from its parts: `n` is the number of respondents it rests on (the row's raters, or
    alpha's complete respondents), `ci` alpha's interval. A reading it does not know (one that
    names an instrument error) stays as written, in English."""
    value = index.shown
    if index.name == "alpha":
        low, high = ci
        if index.value is not None and index.band in _ALPHA_BANDS and low is not None and high is not None:
            return gettext(
                "Cronbach's alpha is %(value)s (%(confidence)s%% interval %(low)s to %(high)s, "
                "n = %(num)s): internal consistency is %(words)s."
            ) % {
                "value": value,
                "confidence": f"{confidence * 100:g}",
                "low": f"{low:.2f}",
                "high": f"{high:.2f}",
                "num": n,
                "words": gettext(_ALPHA_BANDS[index.band]),
            }
        if index.reason == "below_minimum_n" and min_n is not None:
            return gettext(
                "Only %(num)s respondents answered every item; alpha is shown from %(min_n)s, because "
                "with fewer it is too unsteady to judge the items by."
            ) % {"num": n, "min_n": min_n}
        if index.reason in _MISSING:
            return gettext(_MISSING[index.reason])
        return index.reading
    if index.value is not None and index.band in _AGREEMENT_BANDS:
        name = _NAMES.get(index.name, index.name)
        reading = gettext(_AGREEMENT_BANDS[index.band]) % {"index": name, "value": value}
        if _TRUNCATED in index.reading:  # the English reading says the variance was cut to the null
            reading += " " + gettext(_TRUNCATED)
        return reading + _small_note(n)
    if index.reason == "below_privacy_threshold":
        return gettext(
            "Withheld: fewer than %(threshold)s respondents answered this condition, the smallest "
            "number whose figures are shown."
        ) % {"threshold": privacy_threshold}
    if index.reason in _MISSING and (index.reason != "mean_near_scale_end" or index.name == "awg_j"):
        return gettext(_MISSING[index.reason])
    return index.reading
