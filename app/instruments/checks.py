"""Cross-checks on an instrument that passed type validation.

The model checks each field on its own; these checks look across fields: ids are unique, every
reference resolves, conditions only look back, scores and levels add up, every translation is there.
Pure: the caller passes `line_of` to turn a path into a line of the YAML file.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from app.instruments.errors import InstrumentError, Loc, format_path
from app.instruments.models import Instrument, Item, Scale
from app.instruments.translations import has_language, missing_entry_hint, overlay_name, text_entries

LineLookup = Callable[[Loc], int | None]


class _Findings:
    def __init__(self, file: str, line_of: LineLookup | None, overlays: Mapping[str, str]) -> None:
        self.file = file
        self.line_of = line_of
        self.overlays = overlays
        self.errors: list[InstrumentError] = []

    def add(self, code: str, loc: Loc, message: str) -> None:
        line = self.line_of(loc) if self.line_of else None
        self.errors.append(InstrumentError(code, self.file, line, format_path(loc), message))


def check_instrument(
    instrument: Instrument,
    *,
    file: str = "<instrument>",
    line_of: LineLookup | None = None,
    overlays: Mapping[str, str] | None = None,
) -> list[InstrumentError]:
    """Every cross-field problem in `instrument`, each with its path (and line when `line_of` is given).

    `overlays` names the translation file read for each language (`{"es": "x.es.yaml"}`), so a
    missing translation says where to add it.
    """
    findings = _Findings(file, line_of, overlays or {})
    for check in (
        _check_unique_ids,
        _check_references,
        _check_show_if,
        _check_scales,
        _check_scoring,
        _check_domains_are_scored,
        _check_actions,
        _check_translations,
    ):
        check(instrument, findings)
    return findings.errors


# --- unique ids -----------------------------------------------------------------------------


def _check_unique_ids(instrument: Instrument, findings: _Findings) -> None:
    collections: list[tuple[Loc, Iterable[Any], str]] = [
        (("groups",), instrument.groups, "id"),
        (("scales",), instrument.scales, "id"),
        (("domains",), instrument.domains, "id"),
        (("items",), instrument.items, "id"),
        (("actions",), instrument.actions, "id"),
        (("scoring", "levels"), instrument.scoring.levels, "id"),
    ]
    collections += [
        (("scales", index, "options"), scale.options, "value")
        for index, scale in enumerate(instrument.scales)
    ]
    for loc, entries, attribute in collections:
        first_seen: dict[str, int] = {}
        for index, entry in enumerate(entries):
            value = getattr(entry, attribute)
            if value in first_seen:
                findings.add(
                    "duplicate-id",
                    (*loc, index, attribute),
                    f"{attribute} '{value}' is already used by {format_path((*loc, first_seen[value]))}",
                )
            else:
                first_seen[value] = index
    seen_languages: set[str] = set()
    for index, language in enumerate(instrument.languages):
        if language in seen_languages:
            findings.add("duplicate-id", ("languages", index), f"language '{language}' is listed twice")
        seen_languages.add(language)


# --- references -----------------------------------------------------------------------------


def _check_references(instrument: Instrument, findings: _Findings) -> None:
    domain_ids = {d.id for d in instrument.domains}
    scale_ids = {s.id for s in instrument.scales}
    group_ids = {g.id for g in instrument.groups}

    def require(value: str, known: set[str], kind: str, loc: Loc) -> None:
        if value not in known:
            known_list = ", ".join(sorted(known)) or "none"
            findings.add("unknown-reference", loc, f"no {kind} has the id '{value}' (known: {known_list})")

    for index, domain in enumerate(instrument.domains):
        _check_evidence(instrument, domain.evidence, ("domains", index, "evidence"), findings)
    for index, item in enumerate(instrument.items):
        loc: Loc = ("items", index)
        require(item.domain, domain_ids, "domain", (*loc, "domain"))
        require(item.scale, scale_ids, "scale", (*loc, "scale"))
        for position, group in enumerate(item.groups):
            require(group, group_ids, "respondent group", (*loc, "groups", position))
        _check_evidence(instrument, item.evidence, (*loc, "evidence"), findings)
    for index, action in enumerate(instrument.actions):
        require(action.domain, domain_ids, "domain", ("actions", index, "domain"))
        _check_evidence(instrument, action.evidence, ("actions", index, "evidence"), findings)


def _check_evidence(instrument: Instrument, keys: list[str], loc: Loc, findings: _Findings) -> None:
    for position, key in enumerate(keys):
        if key not in instrument.references:
            findings.add(
                "unknown-reference", (*loc, position), f"evidence key '{key}' is not one of the references"
            )


# --- conditional items ----------------------------------------------------------------------


def _check_show_if(instrument: Instrument, findings: _Findings) -> None:
    position = {item.id: index for index, item in enumerate(instrument.items)}
    all_groups = [g.id for g in instrument.groups]

    for index, item in enumerate(instrument.items):
        condition = item.show_if
        if condition is None:
            continue
        loc: Loc = ("items", index, "show_if")
        if (condition.in_ is None) == (condition.not_in is None):
            findings.add("invalid-condition", loc, "show_if needs exactly one of 'in' or 'not_in'")
        source_index = position.get(condition.item)
        if source_index is None:
            findings.add("unknown-reference", (*loc, "item"), f"no item has the id '{condition.item}'")
            continue
        if _show_if_loops(instrument, item.id):
            findings.add(
                "show-if-loop", (*loc, "item"), f"show_if conditions starting at '{item.id}' lead back to it"
            )
        elif source_index >= index:
            findings.add(
                "show-if-order",
                (*loc, "item"),
                f"show_if must refer to an earlier item; '{condition.item}' comes later",
            )
        source = instrument.items[source_index]
        _check_condition_values(instrument, source, condition.in_, (*loc, "in"), findings)
        _check_condition_values(instrument, source, condition.not_in, (*loc, "not_in"), findings)

        shown_to = set(item.groups or all_groups)
        source_shown_to = set(source.groups or all_groups)
        never_answered_by = sorted(shown_to - source_shown_to)
        if never_answered_by:
            findings.add(
                "show-if-groups",
                ("items", index, "groups"),
                f"item '{item.id}' is shown to {', '.join(never_answered_by)}, "
                f"who never see '{source.id}', the item its show_if depends on",
            )


def _show_if_loops(instrument: Instrument, start: str) -> bool:
    seen: set[str] = set()
    current = start
    while True:
        item = instrument.item_by_id(current) if instrument.has_item(current) else None
        if item is None or item.show_if is None:
            return False
        current = item.show_if.item
        if current == start:
            return True
        if current in seen:  # a loop that does not pass through `start`: reported at its own items
            return False
        seen.add(current)


def _check_condition_values(
    instrument: Instrument, source: Item, values: list[str] | None, loc: Loc, findings: _Findings
) -> None:
    scale = _scale_or_none(instrument, source.scale)
    if values is None or scale is None:
        return
    allowed = [o.value for o in scale.options]
    for position, value in enumerate(values):
        if value not in allowed:
            findings.add(
                "unknown-option",
                (*loc, position),
                f"'{value}' is not an option of scale '{scale.id}' used by '{source.id}' "
                f"(options: {', '.join(allowed)})",
            )


# --- scales, scoring, domains, actions ------------------------------------------------------


def _check_scales(instrument: Instrument, findings: _Findings) -> None:
    for index, scale in enumerate(instrument.scales):
        scored = [o for o in scale.options if o.kind == "scored"]
        # Answers are rescaled between the lowest and highest score (docs/scoring.md, section 2),
        # which needs two different scores; the rules refuse such a scale, so say so here first.
        # (A missing or infinite score is reported on its own below, so it is left out here.)
        scores = [o.score for o in scored if o.score is not None and math.isfinite(o.score)]
        distinct = set(scores)
        if len(scored) == 1:
            findings.add(
                "scale-scoring",
                ("scales", index, "options"),
                f"scale '{scale.id}' has one scored option; a scored scale needs at least 2",
            )
        elif len(scores) == len(scored) >= 2 and len(distinct) == 1:
            findings.add(
                "scale-scoring",
                ("scales", index, "options"),
                f"all scored options of scale '{scale.id}' have the same score ({next(iter(distinct)):g}); "
                "a scored scale needs at least two different scores, such as 1 (lowest) to 5 (highest)",
            )
        for position, option in enumerate(scale.options):
            loc: Loc = ("scales", index, "options", position, "score")
            if option.kind == "scored" and option.score is None:
                findings.add("missing-score", loc, f"scored option '{option.value}' needs a numeric score")
            elif option.kind == "scored" and option.score is not None and not math.isfinite(option.score):
                findings.add("missing-score", loc, f"option '{option.value}' needs a finite score")
            elif option.kind != "scored" and option.score is not None:
                findings.add(
                    "unexpected-score",
                    loc,
                    f"option '{option.value}' is '{option.kind}', which is never scored; remove its score",
                )


def _check_scoring(instrument: Instrument, findings: _Findings) -> None:
    levels = instrument.scoring.levels
    loc: Loc = ("scoring", "levels")
    if levels[0].min != 0:
        findings.add("levels", (*loc, 0, "min"), "the first readiness level must start at 0")
    if levels[-1].max != 100:
        findings.add("levels", (*loc, len(levels) - 1, "max"), "the last readiness level must end at 100")
    for index, level in enumerate(levels):
        if level.min >= level.max:
            findings.add("levels", (*loc, index, "max"), f"level '{level.id}' must have max above its min")
        if index and level.min != levels[index - 1].max:
            findings.add(
                "levels",
                (*loc, index, "min"),
                f"level '{level.id}' must start where '{levels[index - 1].id}' ends "
                f"({levels[index - 1].max:g}); levels are listed from lowest to highest with no gaps",
            )
    scoring = instrument.scoring
    if scoring.agreement_high_sd >= scoring.agreement_moderate_sd:
        findings.add(
            "threshold-order",
            ("scoring", "agreement_high_sd"),
            "agreement_high_sd must be below agreement_moderate_sd",
        )


def _check_domains_are_scored(instrument: Instrument, findings: _Findings) -> None:
    for index, domain in enumerate(instrument.domains):
        if not any(_is_scored(instrument, item) for item in instrument.items_in(domain.id)):
            findings.add("empty-domain", ("domains", index), f"domain '{domain.id}' has no scored item")
    for index, item in enumerate(instrument.items):
        if item.critical and _scale_or_none(instrument, item.scale) and not _is_scored(instrument, item):
            findings.add(
                "critical-unscored",
                ("items", index, "critical"),
                f"critical item '{item.id}' must use a scored scale",
            )


def _check_actions(instrument: Instrument, findings: _Findings) -> None:
    for index, action in enumerate(instrument.actions):
        rule = action.when
        loc: Loc = ("actions", index, "when")
        if all(value is None for _, value in rule):
            findings.add("invalid-condition", loc, f"action '{action.id}' has no trigger under 'when'")
        if rule.items_below:
            for position, item_id in enumerate(rule.items_below.items):
                item_loc: Loc = (*loc, "items_below", "items", position)
                if not instrument.has_item(item_id):
                    findings.add("unknown-reference", item_loc, f"no item has the id '{item_id}'")
                elif not _is_scored(instrument, instrument.item_by_id(item_id)):
                    findings.add("unscored-item", item_loc, f"item '{item_id}' is not scored")
        for position, item_id in enumerate(rule.critical_items or []):
            item_loc = (*loc, "critical_items", position)
            if not instrument.has_item(item_id):
                findings.add("unknown-reference", item_loc, f"no item has the id '{item_id}'")
            elif not instrument.item_by_id(item_id).critical:
                findings.add("not-critical", item_loc, f"item '{item_id}' is not marked critical: true")
        if rule.gap_between:
            _check_gap_between(instrument, rule.gap_between.groups, (*loc, "gap_between", "groups"), findings)


def _check_gap_between(instrument: Instrument, groups: list[str], loc: Loc, findings: _Findings) -> None:
    known = ", ".join(sorted(g.id for g in instrument.groups))
    for position, group_id in enumerate(groups):
        if not instrument.has_group(group_id):
            findings.add(
                "unknown-reference",
                (*loc, position),
                f"no respondent group has the id '{group_id}' (known: {known})",
            )
    if len(groups) == 2 and groups[0] == groups[1]:
        findings.add(
            "invalid-condition",
            (*loc, 1),
            f"gap_between needs two different groups; '{groups[0]}' is named twice",
        )


def _scale_or_none(instrument: Instrument, scale_id: str) -> Scale | None:
    return next((s for s in instrument.scales if s.id == scale_id), None)


def _is_scored(instrument: Instrument, item: Item) -> bool:
    scale = _scale_or_none(instrument, item.scale)
    return scale is not None and any(o.kind == "scored" for o in scale.options)


# --- translations ---------------------------------------------------------------------------


def _check_translations(instrument: Instrument, findings: _Findings) -> None:
    languages = instrument.languages
    entries = text_entries(instrument)
    overlays = findings.overlays
    # A language no text is translated into gets one error, not one per text.
    untouched = {
        language
        for language in languages[1:]
        if entries and not any(has_language(entry.value, language) for entry in entries)
    }
    for index, language in enumerate(languages):
        if language in untouched:
            where = overlays.get(language) or overlay_name(findings.file, language)
            findings.add(
                "translation-missing",
                ("languages", index),
                f"languages lists '{language}', but no text is translated into it; "
                f"add the translations in {where} beside this file, or remove '{language}'",
            )
    for entry in entries:
        loc, value = entry.loc, entry.value
        if isinstance(value, str):
            if not value.strip():
                findings.add("empty-text", loc, "text is empty")
            for language in languages[1:]:
                if language not in untouched:
                    where = overlays.get(language) or overlay_name(findings.file, language)
                    findings.add(
                        "translation-missing",
                        loc,
                        f"the '{language}' translation is missing; add '{entry.key}' to {where}",
                    )
            continue
        for language in languages:
            if language in untouched:
                continue
            if language not in value:
                findings.add("translation-missing", loc, missing_entry_hint(entry.key, language, overlays))
            elif not value[language].strip():
                findings.add("empty-text", (*loc, language), f"the '{language}' text is empty")
        for language in value:
            if language not in languages:
                findings.add(
                    "translation-unknown-language",
                    (*loc, language),
                    f"language '{language}' is not declared in languages ({', '.join(languages)})",
                )
