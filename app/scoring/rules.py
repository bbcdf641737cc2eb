"""The scoring rules: (instrument, responses) -> Scorecard. Pure and deterministic.

Every rule here is written out in plain words, with a worked example, in docs/scoring.md; keep the
two in step (tests/scoring/test_worked_example.py runs the document's example against this code).

Two levels of numbers exist:

* internal, per respondent: item values and condition scores, kept as exact fractions. They are
  intermediates only and never appear in a Scorecard, because PeerReady assesses organizations,
  never individuals;
* shown, per site, per group and per item: computed exactly from the answers and rounded ONCE by
  `app.scoring.numbers` (one decimal, half up; rates to three decimals). Every threshold decision
  (levels, priorities, strengths, critical items, the "Don't know" flag, gaps, item lists, action
  triggers) is taken on the shown number, so a consultant checking by hand from the report
  reaches the same result.

Reasons are produced as data (`Reason`: a code and its values); `app.scoring.reasons` writes them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from app.disclosure import policy
from app.instruments.models import Action, Instrument, Item, ReadinessLevel, Scale, ScaleOption, text
from app.scoring.models import (
    DomainResult,
    GroupScore,
    ItemResult,
    PerceptionGap,
    Reason,
    ResponseInput,
    Scorecard,
    SelectedAction,
)
from app.scoring.numbers import (
    Number,
    exact,
    mean,
    rate_value,
    sample_sd,
    score_value,
)

POOLED = "pooled"
POOLED_LABEL = "Other groups (combined)"
# When no group can be shown on its own, the one pooled row holds everybody.
POOLED_ALL_LABEL = "All groups (combined)"
# The pooled row of the comparison by language (section 10 of docs/scoring.md).
POOLED_LANGUAGES_LABEL = "Other languages (combined)"
# Items listed per condition under "going well" / "to work on", and in the summary's top items.
ITEMS_PER_LIST = 3

__all__ = [
    "ITEMS_PER_LIST",
    "POOLED",
    "POOLED_ALL_LABEL",
    "POOLED_LABEL",
    "POOLED_LANGUAGES_LABEL",
    "Coverage",
    "coverage_of",
    "Membership",
    "item_value",
    "language_of",
    "language_order",
    "membership",
    "readiness_level",
    "respondent_scores",
    "round1",
    "score_responses",
    "shown_items",
    "visible_items",
]

# Kept for callers that round a difference of two shown scores; it is the formatter's rounding.
round1 = score_value


# --- visibility ------------------------------------------------------------------------------


def _answered(value: str | None) -> bool:
    return value is not None and value != ""


def visible_items(instrument: Instrument, *, group: str, answers: Mapping[str, str]) -> list[Item]:
    """The items shown to a respondent of `group` who gave `answers`, in instrument order.

    An item is shown when its `groups` list is empty or contains `group`, and its `show_if` (if
    any) holds: the source item is itself shown, has been answered, and its answer is in `in`
    (when given) and not in `not_in` (when given). An unanswered source hides the item either
    way. A condition that refers to an unknown item, or that loops, hides the item.
    """
    state: dict[str, bool] = {}
    by_id = {i.id: i for i in instrument.items}  # a plain dict: the model's lookups are slower

    def shown(item: Item, path: frozenset[str]) -> bool:
        if item.id in state:
            return state[item.id]
        if item.groups and group not in item.groups:
            result = False
        elif item.show_if is None:
            result = True
        else:
            cond = item.show_if
            if cond.item in path or cond.item == item.id or cond.item not in by_id:
                result = False
            elif not shown(by_id[cond.item], path | {item.id}):
                result = False
            else:
                value = answers.get(cond.item)
                result = (
                    _answered(value)
                    and (cond.in_ is None or value in cond.in_)
                    and (cond.not_in is None or value not in cond.not_in)
                )
        state[item.id] = result
        return result

    return [item for item in instrument.items if shown(item, frozenset())]


def shown_items(instrument: Instrument, response: ResponseInput) -> list[Item]:
    """The items `response` was shown: from its group and answers (`visible_items`), or, for a
    row of a research export (no group), the items it records as asked."""
    if response.asked is not None:
        return [item for item in instrument.items if item.id in response.asked]
    return visible_items(instrument, group=response.group, answers=response.answers)


# --- item values -----------------------------------------------------------------------------


def _scale_values(scale: Scale) -> tuple[dict[str, Fraction] | None, str | None]:
    """The 0-100 value of each scored option of `scale` (before reverse-scoring), exactly; or None
    and the reason the scale cannot be rescaled."""
    scores: dict[str, Fraction] = {}
    for option in scale.options:
        if option.kind == "scored":
            if option.score is None:
                return None, f"scale {scale.id!r}: scored option {option.value!r} has no score"
            scores[option.value] = exact(option.score)
    if len(set(scores.values())) < 2:
        return None, f"scale {scale.id!r} needs at least two different scored values to be rescaled"
    low, high = min(scores.values()), max(scores.values())
    return {value: (score - low) / (high - low) * 100 for value, score in scores.items()}, None


@dataclass(frozen=True)
class _ItemInfo:
    """What the rules need of one item, looked up once per scorecard."""

    item: Item
    options: dict[str, ScaleOption]
    scored: bool  # the item's scale has scored options (context questions have none)
    values: dict[str, Fraction] | None  # value of each scored option, after reverse-scoring
    problem: str | None  # why `values` is None

    def value(self, option: ScaleOption) -> Fraction | None:
        if option.kind != "scored":
            return None
        if self.values is None:
            raise ValueError(self.problem)
        return self.values[option.value]


def _item_infos(instrument: Instrument) -> dict[str, _ItemInfo]:
    scales = {scale.id: (scale, *_scale_values(scale)) for scale in instrument.scales}
    infos = {}
    for item in instrument.items:
        scale, forward, problem = scales[item.scale]
        values = forward
        if forward is not None and item.reverse:
            values = {value: 100 - v for value, v in forward.items()}
        infos[item.id] = _ItemInfo(
            item=item,
            options={o.value: o for o in scale.options},
            scored=any(o.kind == "scored" for o in scale.options),
            values=values,
            problem=problem,
        )
    return infos


def item_value(instrument: Instrument, item: Item, option: ScaleOption) -> Fraction | None:
    """An answer's exact value on 0-100, after reverse-scoring; None for an option that is not
    scored.

    value = (score - lowest scored score) / (highest - lowest) * 100, and 100 - value for a
    reverse item. "Don't know", "Not applicable" and "choice" options have no value. Raises
    ValueError for a scale that cannot be rescaled.
    """
    if option.kind != "scored":
        return None
    forward, problem = _scale_values(instrument.scale_by_id(item.scale))
    if forward is None:
        raise ValueError(problem)
    value = forward[option.value]
    return 100 - value if item.reverse else value


# --- one respondent (internal) ---------------------------------------------------------------


@dataclass
class _DomainTally:
    """One respondent's answers within one condition (visible scored items only)."""

    shown: int = 0  # visible scored items
    values: list[Fraction] = field(default_factory=list)
    dont_know: int = 0
    not_applicable: int = 0
    choice: int = 0

    def status(self, coverage: Fraction) -> str:
        if self.shown == 0:
            return "not_shown"
        applicable = self.shown - self.not_applicable
        if applicable == 0:
            return "all_na"
        # Exact (answered / applicable >= coverage, in integers), so that 1 of 2 meets a coverage
        # of 0.5 without float surprises.
        if len(self.values) * coverage.denominator >= applicable * coverage.numerator:
            return "scored"
        return "below_coverage"


@dataclass
class _Respondent:
    response: ResponseInput
    visible_ids: frozenset[str]
    options: dict[str, ScaleOption]  # visible, answered items only
    tallies: dict[str, _DomainTally]
    scores: dict[str, Fraction | None]  # exact; internal only


def _check(instrument: Instrument, infos: Mapping[str, _ItemInfo], response: ResponseInput) -> None:
    who = f"respondent {response.respondent_id!r}"
    if response.asked is not None and not response.group:
        unknown = sorted(i for i in response.asked if not instrument.has_item(i))
        if unknown:
            raise ValueError(f"{who}: unknown item {unknown[0]!r} among the items asked")
    elif not instrument.has_group(response.group):
        allowed = ", ".join(g.id for g in instrument.groups)
        raise ValueError(f"{who}: unknown respondent group {response.group!r} (expected one of: {allowed})")
    for item_id, value in response.answers.items():
        info = infos.get(item_id)
        if info is None:
            raise ValueError(f"{who}: unknown item {item_id!r}")
        if _answered(value) and value not in info.options:
            allowed = ", ".join(info.options)
            raise ValueError(
                f"{who}: item {item_id!r}: {value!r} is not an option of scale {info.item.scale!r} "
                f"(expected one of: {allowed})"
            )


def _respondent(
    instrument: Instrument, infos: Mapping[str, _ItemInfo], coverage: Fraction, response: ResponseInput
) -> _Respondent:
    _check(instrument, infos, response)
    visible = shown_items(instrument, response)
    options: dict[str, ScaleOption] = {}
    tallies = {d.id: _DomainTally() for d in instrument.domains}
    for item in visible:
        info = infos[item.id]
        value = response.answers.get(item.id)
        option = info.options.get(value) if value is not None and _answered(value) else None
        if option is not None:
            options[item.id] = option
        if not info.scored:
            continue
        tally = tallies.setdefault(item.domain, _DomainTally())
        tally.shown += 1
        if option is None:
            continue
        if option.kind == "scored":
            tally.values.append(info.value(option))  # type: ignore[arg-type]
        elif option.kind == "dont_know":
            tally.dont_know += 1
        elif option.kind == "not_applicable":
            tally.not_applicable += 1
        else:
            tally.choice += 1
    scores = {
        domain_id: (mean(t.values) if t.status(coverage) == "scored" else None)
        for domain_id, t in tallies.items()
    }
    return _Respondent(response, frozenset(i.id for i in visible), options, tallies, scores)


@dataclass(frozen=True)
class Membership:
    """Who is behind each figure (respondent ids only, never a value): for the disclosure
    layer's release audit, which must know which people each released sum adds up."""

    # domain id -> respondent id -> group, for respondents with a condition score
    domains: dict[str, dict[str, str]]
    # item id -> respondent ids with a scored answer to the (visible) item
    items: dict[str, list[str]]


def membership(instrument: Instrument, responses: Sequence[ResponseInput]) -> Membership:
    """Which respondents count in each condition score and each item mean (same rules as
    `score_responses`)."""
    infos = _item_infos(instrument)
    coverage = exact(instrument.scoring.coverage)
    domains: dict[str, dict[str, str]] = {d.id: {} for d in instrument.domains}
    items: dict[str, list[str]] = {i.id: [] for i in instrument.items}
    for response in responses:
        person = _respondent(instrument, infos, coverage, response)
        for domain_id, score in person.scores.items():
            if score is not None:
                domains.setdefault(domain_id, {})[response.respondent_id] = response.group
        for item_id, option in person.options.items():
            if option.kind == "scored":
                items[item_id].append(response.respondent_id)
    return Membership(domains=domains, items=items)


def respondent_scores(
    instrument: Instrument, responses: Sequence[ResponseInput], domain_id: str
) -> list[Fraction]:
    """INTERNAL: the condition score (0-100, exact) of each respondent who has one, in order.
    Never shown; for statistics over sites such as ICC(1)/ICC(2), which need the spread within
    sites as well as between them."""
    infos = _item_infos(instrument)
    coverage = exact(instrument.scoring.coverage)
    found = []
    for response in responses:
        value = _respondent(instrument, infos, coverage, response).scores.get(domain_id)
        if value is not None:
            found.append(value)
    return found


@dataclass(frozen=True)
class Coverage:
    """Whether one respondent's answers to one condition are enough to count (section 3 of
    docs/scoring.md), with the counts a respondent can act on. Never a score."""

    domain_id: str
    status: str  # "scored", "below_coverage", "all_na" or "not_shown"
    answered: int  # scored answers ("Don't know" and blanks are not)
    applicable: int  # visible scored items minus "Not applicable" answers
    needed: int  # the smallest number of scored answers that would count

    @property
    def missing(self) -> int:
        return max(self.needed - self.answered, 0)


def coverage_of(instrument: Instrument, response: ResponseInput) -> list[Coverage]:
    """For one respondent (for example while they answer): each condition's coverage, in
    instrument order, by the same rule the scores use."""
    coverage = exact(instrument.scoring.coverage)
    person = _respondent(instrument, _item_infos(instrument), coverage, response)
    found = []
    for domain in instrument.domains:
        tally = person.tallies.get(domain.id, _DomainTally())
        applicable = tally.shown - tally.not_applicable
        # The least whole number n with n / applicable >= coverage, compared exactly.
        needed = math.ceil(applicable * coverage) if applicable > 0 else 0
        found.append(Coverage(domain.id, tally.status(coverage), len(tally.values), applicable, needed))
    return found


# --- levels ----------------------------------------------------------------------------------


def readiness_level(instrument: Instrument, score: Number | None) -> ReadinessLevel | None:
    """The level whose [min, max) range holds the shown `score`; the top level also holds its max
    (100). Compared exactly."""
    if score is None:
        return None
    value = exact(score)
    levels = instrument.scoring.levels
    for level in levels:
        if exact(level.min) <= value < exact(level.max):
            return level
    top = max(levels, key=lambda lv: lv.max)
    if value == exact(top.max):
        return top
    return None


# --- groups and gaps -------------------------------------------------------------------------


def _group_rows(
    instrument: Instrument,
    by_group: dict[str, list[Fraction]],
    sources: dict[str, dict[str, int]],
    threshold: int,
    lang: str,
) -> tuple[list[GroupScore], set[str]]:
    """Group rows for one condition, and the groups that could not be shown on their own.

    Which groups are shown alone, pooled or hidden is decided by the disclosure layer
    (`app.disclosure.policy.pool_groups`: pooling with complementary suppression, each source
    reaching the threshold on its own). Rows: the groups shown alone in the instrument's group
    order, then the pooled row.
    """
    order = [g.id for g in instrument.groups]
    plan = policy.pool_groups(
        {g: sources.get(g, {"web": len(v)}) for g, v in by_group.items() if v}, order, threshold
    )
    rows = []
    for group_id in plan.shown:
        values = by_group[group_id]
        rows.append(
            GroupScore(
                group=group_id,
                label=text(instrument.group_by_id(group_id).label, lang),
                n=len(values),
                score=score_value(mean(values)),
            )
        )
    if plan.pooled:
        values = [v for g in plan.pooled for v in by_group[g]]
        rows.append(
            GroupScore(
                group=POOLED,
                label=POOLED_LABEL if plan.shown else POOLED_ALL_LABEL,
                n=len(values),
                score=score_value(mean(values)) if plan.pooled_visible else None,
                suppressed=not plan.pooled_visible,
                pooled_groups=list(plan.pooled),
            )
        )
    return rows, set(plan.pooled)


# The block of the group comparison holding everybody not in a group row shown on its own.
_REST = "*"


def language_of(response: ResponseInput) -> str:
    """The language code a response counts under in the comparison by language ("es-MX" and
    "ES" are "es"); `policy.NOT_RECORDED` when none was recorded (paper rows)."""
    code = (response.language or "").strip().replace("_", "-").split("-", 1)[0].lower()
    return code or policy.NOT_RECORDED


def language_order(instrument: Instrument, codes: set[str]) -> list[str]:
    """The instrument's languages first (in its order), then any other recorded ones (sorted),
    "not recorded" last."""
    known = [c for c in instrument.languages if c in codes]
    rest = sorted(c for c in codes if c not in known and c != policy.NOT_RECORDED)
    return known + rest + ([policy.NOT_RECORDED] if policy.NOT_RECORDED in codes else [])


def _language_rows(
    instrument: Instrument,
    scored: list[tuple[str, str, str, Fraction]],
    rows: list[GroupScore],
    threshold: int,
) -> list[GroupScore]:
    """The comparison by language of one condition: `scored` holds (group, language, source,
    value) of each respondent with a condition score, `rows` the condition's group rows. Which
    languages are shown, pooled or not at all is the disclosure layer's decision
    (`app.disclosure.policy.pool_languages`, which also checks every cell of language x group
    row). Rows: the languages shown on their own (in `language_order`), then the pooled row."""
    alone = {r.group for r in rows if r.group != POOLED and r.score is not None}
    cross: dict[str, dict[str, dict[str, int]]] = {}
    values: dict[str, list[Fraction]] = {}
    for group, language, source, value in scored:
        block = group if group in alone else _REST
        cell = cross.setdefault(language, {}).setdefault(block, {})
        cell[source] = cell.get(source, 0) + 1
        values.setdefault(language, []).append(value)
    order = language_order(instrument, set(cross))
    eligible = {c for c in order if c != policy.NOT_RECORDED}
    plan = policy.pool_languages(cross, order, threshold, eligible=eligible)
    if not plan.shown:
        return []
    found = [
        GroupScore(group=code, label=code, n=len(values[code]), score=score_value(mean(values[code])))
        for code in plan.shown
    ]
    if plan.pooled:
        pooled = [v for code in plan.pooled for v in values[code]]
        found.append(
            GroupScore(
                group=POOLED,
                label=POOLED_LANGUAGES_LABEL,
                n=len(pooled),
                score=score_value(mean(pooled)),
                pooled_groups=list(plan.pooled),
            )
        )
    return found


def _gap_pairs(rows: list[GroupScore]) -> list[PerceptionGap]:
    """Every pair of rows that show a score, largest difference first; ties keep the row order
    (the pair whose first row comes first, then whose second row comes first)."""
    shown = [(r, r.score) for r in rows if r.score is not None]
    pairs = []
    for i, (a, a_score) in enumerate(shown):
        for b, b_score in shown[i + 1 :]:
            (high, high_score), (low, low_score) = (
                ((a, a_score), (b, b_score)) if a_score >= b_score else ((b, b_score), (a, a_score))
            )
            pairs.append(
                PerceptionGap(
                    higher_group=high.group,
                    lower_group=low.group,
                    higher_score=high_score,
                    lower_score=low_score,
                    difference=score_value(exact(high_score) - exact(low_score)),
                )
            )
    pairs.sort(key=lambda g: -g.difference)  # stable: keeps the row order on ties
    return pairs


# --- the scorecard ---------------------------------------------------------------------------


@dataclass
class _DomainWork:
    result: DomainResult
    largest_gap: PerceptionGap | None
    labels: dict[str, str]  # row group id -> label
    # Shown score of each group shown on its own (never the pooled row, never a suppressed one).
    alone: dict[str, float] = field(default_factory=dict)


def _agreement(instrument: Instrument, sd: float | None) -> str | None:
    if sd is None:
        return None
    shown = exact(sd)
    if shown <= exact(instrument.scoring.agreement_high_sd):
        return "high"
    if shown <= exact(instrument.scoring.agreement_moderate_sd):
        return "moderate"
    return "low"


def _decimal(value: float) -> Decimal:
    """A shown value or a threshold as the exact decimal it stands for (59.5, 60, 0.25)."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _below(value: float | None, line: float) -> bool:
    """The shown `value` is strictly below the threshold `line` (exactly; None never is)."""
    return value is not None and _decimal(value) < _decimal(line)


def _at_least(value: float | None, line: float) -> bool:
    return value is not None and _decimal(value) >= _decimal(line)


def _item_lists(instrument: Instrument, items: list[ItemResult]) -> tuple[list[str], list[str]]:
    """The condition's "going well" and "to work on" items (ids), from shown item means.

    going well: shown mean >= strength_at, highest first; to work on: shown mean < priority_below
    and not critical-flagged (the priority reasons already name those), lowest first. Ties keep
    the instrument's order; at most ITEMS_PER_LIST each; withheld means are never listed.
    """
    scoring = instrument.scoring
    # Shown means are one-decimal floats, which sort exactly as the decimals they stand for.
    shown = [(r, r.mean) for r in items if r.mean is not None and not r.suppressed]
    going_well = [
        r.item_id
        for r, mean_ in sorted(shown, key=lambda pair: -pair[1])
        if _at_least(mean_, scoring.strength_at)
    ]
    to_work_on = [
        r.item_id
        for r, mean_ in sorted(shown, key=lambda pair: pair[1])
        if _below(mean_, scoring.priority_below) and not r.critical_flag
    ]
    return going_well[:ITEMS_PER_LIST], to_work_on[:ITEMS_PER_LIST]


def _top_items(instrument: Instrument, results: list[DomainResult]) -> list[str]:
    """The best items across all conditions (shown mean >= strength_at), highest first; ties in
    condition order, then item order; at most ITEMS_PER_LIST."""
    candidates = [(r, r.mean) for d in results for r in d.items if r.mean is not None and not r.suppressed]
    best = [
        r.item_id
        for r, mean_ in sorted(candidates, key=lambda pair: -pair[1])
        if _at_least(mean_, instrument.scoring.strength_at)
    ]
    return best[:ITEMS_PER_LIST]


def _critical_reason(instrument: Instrument, domain_id: str, item: ItemResult, lang: str) -> Reason:
    return Reason(
        code="critical_item",
        params={
            "domain": domain_id,
            "item": item.item_id,
            "item_text": text(instrument.item_by_id(item.item_id).text, lang),
            "mean": item.mean,  # type: ignore[dict-item]
            "limit": instrument.scoring.critical_below,
        },
    )


def _score_domain(
    instrument: Instrument,
    infos: Mapping[str, _ItemInfo],
    domain_id: str,
    people: list[_Respondent],
    threshold: int,
    lang: str,
) -> tuple[_DomainWork, set[str]]:
    scoring = instrument.scoring
    domain = instrument.domain_by_id(domain_id)
    title = text(domain.title, lang)
    coverage = exact(scoring.coverage)

    scores: list[Fraction] = []
    by_group: dict[str, list[Fraction]] = {}
    site_sources: dict[str, int] = {}
    group_sources: dict[str, dict[str, int]] = {}
    scored_people: list[tuple[str, str, str, Fraction]] = []  # for the comparison by language
    n_below = n_all_na = dk = na = shown_pairs = 0
    for person in people:
        tally = person.tallies.get(domain_id, _DomainTally())
        status = tally.status(coverage)
        dk += tally.dont_know
        na += tally.not_applicable
        shown_pairs += tally.shown
        if status == "below_coverage":
            n_below += 1
        elif status == "all_na":
            n_all_na += 1
        elif status == "scored":
            value = person.scores[domain_id]
            assert value is not None
            scores.append(value)
            source = person.response.source
            site_sources[source] = site_sources.get(source, 0) + 1
            scored_people.append((person.response.group, language_of(person.response), source, value))
            if person.response.group:  # a research export's rows have no group
                by_group.setdefault(person.response.group, []).append(value)
                counts = group_sources.setdefault(person.response.group, {})
                counts[source] = counts.get(source, 0) + 1

    n = len(scores)
    site_ok = policy.may_show_site(n, threshold, site_sources)
    score = score_value(mean(scores)) if site_ok else None
    spread_ok = policy.may_show_spread(n, threshold, site_row=True, by_source=site_sources)
    shown_sd = sample_sd(scores) if spread_ok else None
    sd = float(shown_sd) if shown_sd is not None else None
    level = readiness_level(instrument, score)

    # Items (site means over respondents who saw the item and gave a scored answer).
    items: list[ItemResult] = []
    critical_flags: list[str] = []
    for item in instrument.items_in(domain_id):
        info = infos[item.id]
        values: list[Fraction] = []
        value_sources: dict[str, int] = {}
        shown_to = i_dk = i_na = i_choice = 0
        for person in people:
            if item.id not in person.visible_ids:
                continue
            shown_to += 1
            option = person.options.get(item.id)
            if option is None:
                continue
            if option.kind == "scored":
                values.append(info.value(option))  # type: ignore[arg-type]
                source = person.response.source
                value_sources[source] = value_sources.get(source, 0) + 1
            elif option.kind == "dont_know":
                i_dk += 1
            elif option.kind == "not_applicable":
                i_na += 1
            else:
                i_choice += 1
        mean_ok = policy.may_show_item_detail(len(values), threshold, value_sources)
        item_mean = score_value(mean(values)) if mean_ok else None
        flag = bool(item.critical and _below(item_mean, scoring.critical_below))
        if flag:
            critical_flags.append(item.id)
        items.append(
            ItemResult(
                item_id=item.id,
                n_scored=len(values),
                mean=item_mean,
                dont_know=i_dk,
                not_applicable=i_na,
                choice=i_choice,
                shown_to=shown_to,
                critical=item.critical,
                critical_flag=flag,
                suppressed=bool(values) and not mean_ok,
            )
        )

    rows, not_alone = _group_rows(instrument, by_group, group_sources, threshold, lang)
    language_rows = _language_rows(instrument, scored_people, rows, threshold) if site_ok else []
    pairs = _gap_pairs(rows)
    gaps = [g for g in pairs if _at_least(g.difference, scoring.gap_threshold)]

    # The shown rate (three decimals) is what the flag compares. Nobody saw the condition: 0.
    rate = rate_value(Fraction(dk, shown_pairs)) if shown_pairs else 0.0
    dk_flag = shown_pairs > 0 and _at_least(rate, scoring.dont_know_flag_rate)

    reasons: list[Reason] = []
    if _below(score, scoring.priority_below):
        reasons.append(
            Reason(
                code="priority_line",
                params={
                    "domain": domain_id,
                    "domain_title": title,
                    "score": score,  # type: ignore[dict-item]
                    "line": scoring.priority_below,
                },
            )
        )
    item_results = {r.item_id: r for r in items}
    reasons += [_critical_reason(instrument, domain_id, item_results[i], lang) for i in critical_flags]
    is_priority = bool(reasons)
    is_strength = _at_least(score, scoring.strength_at) and not critical_flags
    going_well, to_work_on = _item_lists(instrument, items)

    result = DomainResult(
        domain_id=domain_id,
        title=title,
        score=score,
        level_id=level.id if level else None,
        level_label=text(level.label, lang) if level else None,
        n=n,
        n_below_coverage=n_below,
        n_all_not_applicable=n_all_na,
        sd=sd,
        # Never a range: the minimum and maximum are two respondents' own values
        # (app.disclosure.policy.may_show_range).
        min=None,
        max=None,
        agreement=_agreement(instrument, sd),
        dont_know=dk,
        not_applicable=na,
        answers_shown=shown_pairs,
        dont_know_rate=rate,
        dont_know_flag=dk_flag,
        groups=rows,
        gaps=gaps,
        languages=language_rows,
        items=items,
        critical_flags=critical_flags,
        is_strength=is_strength,
        is_priority=is_priority,
        priority_reasons=reasons,
        going_well=going_well,
        to_work_on=to_work_on,
        # Withheld for privacy only when somebody has a score; n = 0 is "no score", not withheld.
        suppressed=n > 0 and not site_ok,
    )
    labels = {r.group: r.label for r in rows}
    alone = {r.group: r.score for r in rows if r.group != POOLED and r.score is not None}
    return _DomainWork(result, pairs[0] if pairs else None, labels, alone), not_alone


def _action_reasons(
    instrument: Instrument,
    action: Action,
    work: dict[str, _DomainWork],
    item_results: dict[str, ItemResult],
    lang: str,
) -> tuple[list[Reason], bool]:
    """The reasons an action is selected (empty: not selected), and whether a critical flag
    triggered it. One reason per listed item that holds for `critical_items` and `items_below`,
    one per trigger otherwise, in this order: critical_items, domain_below, items_below,
    dont_know_above, gap_at_least, gap_between."""
    rule = action.when
    domain_work = work.get(action.domain)
    domain = domain_work.result if domain_work else None
    reasons: list[Reason] = []
    by_critical = False

    if rule.critical_items:
        for item_id in rule.critical_items:
            result = item_results.get(item_id)
            if result is not None and result.critical_flag:
                by_critical = True
                reasons.append(_critical_reason(instrument, action.domain, result, lang))
    if domain is not None and rule.domain_below is not None and _below(domain.score, rule.domain_below):
        reasons.append(
            Reason(
                code="domain_below",
                params={
                    "domain": domain.domain_id,
                    "domain_title": domain.title,
                    "score": domain.score,  # type: ignore[dict-item]
                    "limit": rule.domain_below,
                },
            )
        )
    if rule.items_below is not None:
        for item_id in rule.items_below.items:
            result = item_results.get(item_id)
            if result is not None and _below(result.mean, rule.items_below.score):
                reasons.append(
                    Reason(
                        code="item_below",
                        params={
                            "domain": instrument.item_by_id(item_id).domain,
                            "item": item_id,
                            "item_text": text(instrument.item_by_id(item_id).text, lang),
                            "mean": result.mean,  # type: ignore[dict-item]
                            "limit": rule.items_below.score,
                        },
                    )
                )
    if (
        domain is not None
        and rule.dont_know_above is not None
        and domain.answers_shown
        and exact(domain.dont_know_rate) > exact(rule.dont_know_above)
    ):
        reasons.append(
            Reason(
                code="dont_know_above",
                params={
                    "domain": domain.domain_id,
                    "domain_title": domain.title,
                    "rate": domain.dont_know_rate,
                    "rate_limit": rule.dont_know_above,
                },
            )
        )
    if domain_work is not None and domain is not None and rule.gap_at_least is not None:
        gap = domain_work.largest_gap
        if gap is not None and domain.score is not None and _at_least(gap.difference, rule.gap_at_least):
            labels = domain_work.labels
            reasons.append(
                Reason(
                    code="gap_at_least",
                    params={
                        "domain": domain.domain_id,
                        "domain_title": domain.title,
                        "higher_group": gap.higher_group,
                        "higher_label": labels[gap.higher_group],
                        "lower_group": gap.lower_group,
                        "lower_label": labels[gap.lower_group],
                        "higher_score": gap.higher_score,
                        "lower_score": gap.lower_score,
                        "difference": gap.difference,
                    },
                )
            )
    if domain_work is not None and domain is not None and rule.gap_between is not None:
        reason = _gap_between_reason(rule.gap_between.groups, rule.gap_between.at_least, domain_work, domain)
        if reason:
            reasons.append(reason)
    return reasons, by_critical


def _gap_between_reason(
    groups: list[str], at_least: float, domain_work: _DomainWork, domain: DomainResult
) -> Reason | None:
    """The reason for a `gap_between` trigger, or None when it does not hold.

    Both named groups must be shown on their own for this condition; a group that is pooled or
    suppressed has no score of its own to compare, so the trigger cannot hold.
    """
    first, second = groups
    if first == second or first not in domain_work.alone or second not in domain_work.alone:
        return None
    first_score, second_score = domain_work.alone[first], domain_work.alone[second]
    difference = score_value(abs(exact(first_score) - exact(second_score)))
    if not _at_least(difference, at_least):
        return None
    return Reason(
        code="gap_between",
        params={
            "domain": domain.domain_id,
            "domain_title": domain.title,
            "first_group": first,
            "first_label": domain_work.labels[first],
            "second_group": second,
            "second_label": domain_work.labels[second],
            "first_score": first_score,
            "second_score": second_score,
            "difference": difference,
        },
    )


def score_responses(
    instrument: Instrument,
    responses: Sequence[ResponseInput],
    *,
    privacy_threshold: int = 3,
    lang: str = "en",
) -> Scorecard:
    """Score a site's responses. See docs/scoring.md for every rule in plain words.

    Raises ValueError, naming the respondent and the item, for an unknown group, an unknown item
    id or a value that is not an option of the item's scale. Answers to items that are hidden
    for the respondent (other group, or show_if not met) are ignored.
    """
    policy.check_threshold(privacy_threshold)
    infos = _item_infos(instrument)
    coverage = exact(instrument.scoring.coverage)
    people = [_respondent(instrument, infos, coverage, r) for r in responses]

    work: dict[str, _DomainWork] = {}
    not_alone: set[str] = set()
    for domain in instrument.domains:
        work[domain.id], hidden = _score_domain(instrument, infos, domain.id, people, privacy_threshold, lang)
        not_alone |= hidden
    results = [work[d.id].result for d in instrument.domains]
    order = {d.id: i for i, d in enumerate(instrument.domains)}

    strengths = sorted(
        (d for d in results if d.is_strength), key=lambda d: (-(d.score or 0), order[d.domain_id])
    )
    priorities = sorted(
        (d for d in results if d.is_priority),
        key=lambda d: (
            0 if d.critical_flags else 1,
            math.inf if d.score is None else d.score,
            order[d.domain_id],
        ),
    )
    priority_rank = {d.domain_id: i for i, d in enumerate(priorities)}

    item_results = {r.item_id: r for d in results for r in d.items}
    chosen = []
    for index, action in enumerate(instrument.actions):
        reasons, by_critical = _action_reasons(instrument, action, work, item_results, lang)
        if reasons:
            key = (
                0 if by_critical else 1,
                priority_rank.get(action.domain, len(priority_rank)),
                action.priority,
                index,
            )
            chosen.append((key, action, reasons))
    chosen.sort(key=lambda c: c[0])
    actions = [
        SelectedAction(
            action_id=action.id,
            domain_id=action.domain,
            title=text(action.title, lang),
            rank=rank,
            reasons=reasons,
            timeframe=text(action.timeframe, lang),
            evidence=list(action.evidence),
        )
        for rank, (_, action, reasons) in enumerate(chosen, start=1)
    ]

    by_group = {g.id: 0 for g in instrument.groups}
    for r in responses:
        if r.group:
            by_group[r.group] += 1
    return Scorecard(
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        n_respondents=len(responses),
        respondents_by_group=by_group,
        privacy_threshold=privacy_threshold,
        suppressed_groups=[g.id for g in instrument.groups if g.id in not_alone],
        domains=results,
        strengths=[d.domain_id for d in strengths],
        priorities=[d.domain_id for d in priorities],
        actions=actions,
        top_items=_top_items(instrument, results),
        languages=sorted({language_of(r) for r in responses} - {policy.NOT_RECORDED}),
    )
