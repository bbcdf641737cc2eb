"""The scoring rules: (instrument, responses) -> Scorecard. Pure and deterministic.

Every rule here is written out in plain words, with a worked example, in docs/scoring.md; keep the
two in step (tests/scoring/test_worked_example.py runs the document's example against this code).

Two levels of numbers exist:

* internal, per respondent: item values and condition scores, kept at full precision. They are
  intermediates only (see `respondent_condition_scores`) and never appear in a Scorecard, because
  PeerReady assesses organizations, never individuals;
* shown, per site and per group: rounded to one decimal. Every threshold decision (levels,
  priorities, strengths, critical items, gaps, action triggers) is taken on the shown number, so a
  consultant checking by hand from the report reaches the same result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from statistics import fmean, stdev

from app.instruments.models import Action, Instrument, Item, ReadinessLevel, ScaleOption, text
from app.scoring.models import (
    DomainResult,
    GroupScore,
    ItemResult,
    PerceptionGap,
    ResponseInput,
    Scorecard,
    SelectedAction,
)

POOLED = "pooled"
POOLED_LABEL = "Other groups (combined)"
# When no group can be shown on its own, the one pooled row holds everybody.
POOLED_ALL_LABEL = "All groups (combined)"

__all__ = [
    "POOLED",
    "POOLED_ALL_LABEL",
    "POOLED_LABEL",
    "item_value",
    "readiness_level",
    "respondent_condition_scores",
    "round1",
    "score_responses",
    "visible_items",
]


# --- small helpers ---------------------------------------------------------------------------


def round1(value: float) -> float:
    """Round half up to one decimal, as a person with a calculator would (62.25 -> 62.3)."""
    return float(Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _round3(value: float) -> float:
    return float(Decimal(repr(value)).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))


def _num(value: float) -> str:
    """A number for a sentence: one decimal, without a trailing ".0" (48 / 48.5)."""
    shown = f"{round1(value):.1f}"
    return shown[:-2] if shown.endswith(".0") else shown


def _percent(value: float) -> str:
    return f"{_num(value * 100)}%"


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

    def shown(item: Item, path: frozenset[str]) -> bool:
        if item.id in state:
            return state[item.id]
        if item.groups and group not in item.groups:
            result = False
        elif item.show_if is None:
            result = True
        else:
            cond = item.show_if
            if cond.item in path or cond.item == item.id or not instrument.has_item(cond.item):
                result = False
            elif not shown(instrument.item_by_id(cond.item), path | {item.id}):
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


# --- item values -----------------------------------------------------------------------------


def _scored_range(instrument: Instrument, item: Item) -> tuple[float, float]:
    scale = instrument.scale_by_id(item.scale)
    scores = []
    for option in scale.options:
        if option.kind == "scored":
            if option.score is None:
                raise ValueError(f"scale {scale.id!r}: scored option {option.value!r} has no score")
            scores.append(option.score)
    if len(set(scores)) < 2:
        raise ValueError(f"scale {scale.id!r} needs at least two different scored values to be rescaled")
    return min(scores), max(scores)


def item_value(instrument: Instrument, item: Item, option: ScaleOption) -> float | None:
    """An answer's value on 0-100, after reverse-scoring; None for an option that is not scored.

    value = (score - lowest scored score) / (highest - lowest) * 100, and 100 - value for a
    reverse item. "Don't know", "Not applicable" and "choice" options have no value.
    """
    if option.kind != "scored" or option.score is None:
        return None
    low, high = _scored_range(instrument, item)
    value = (option.score - low) / (high - low) * 100
    return 100 - value if item.reverse else value


# --- one respondent (internal) ---------------------------------------------------------------


@dataclass
class _DomainTally:
    """One respondent's answers within one condition (visible scored items only)."""

    shown: int = 0  # visible scored items
    values: list[float] = field(default_factory=list)
    dont_know: int = 0
    not_applicable: int = 0
    choice: int = 0

    def status(self, coverage: float) -> str:
        if self.shown == 0:
            return "not_shown"
        applicable = self.shown - self.not_applicable
        if applicable == 0:
            return "all_na"
        # Exact arithmetic so that 1 of 2 meets a coverage of 0.5 without float surprises.
        if Fraction(len(self.values), applicable) >= Fraction(str(coverage)):
            return "scored"
        return "below_coverage"


@dataclass
class _Respondent:
    response: ResponseInput
    visible: list[Item]
    visible_ids: frozenset[str]
    options: dict[str, ScaleOption]  # visible, answered items only
    tallies: dict[str, _DomainTally]
    scores: dict[str, float | None]  # full precision; internal only


def _check(instrument: Instrument, response: ResponseInput) -> None:
    who = f"respondent {response.respondent_id!r}"
    if not instrument.has_group(response.group):
        allowed = ", ".join(g.id for g in instrument.groups)
        raise ValueError(f"{who}: unknown respondent group {response.group!r} (expected one of: {allowed})")
    for item_id, value in response.answers.items():
        if not instrument.has_item(item_id):
            raise ValueError(f"{who}: unknown item {item_id!r}")
        if not _answered(value):
            continue
        item = instrument.item_by_id(item_id)
        if instrument.option(item, value) is None:
            allowed = ", ".join(o.value for o in instrument.scale_by_id(item.scale).options)
            raise ValueError(
                f"{who}: item {item_id!r}: {value!r} is not an option of scale {item.scale!r} "
                f"(expected one of: {allowed})"
            )


def _respondent(instrument: Instrument, response: ResponseInput) -> _Respondent:
    _check(instrument, response)
    visible = visible_items(instrument, group=response.group, answers=response.answers)
    options: dict[str, ScaleOption] = {}
    tallies = {d.id: _DomainTally() for d in instrument.domains}
    for item in visible:
        value = response.answers.get(item.id)
        option = instrument.option(item, value) if _answered(value) else None
        if option is not None:
            options[item.id] = option
        if not instrument.is_scored(item):
            continue
        tally = tallies.setdefault(item.domain, _DomainTally())
        tally.shown += 1
        if option is None:
            continue
        if option.kind == "scored":
            tally.values.append(item_value(instrument, item, option))  # type: ignore[arg-type]
        elif option.kind == "dont_know":
            tally.dont_know += 1
        elif option.kind == "not_applicable":
            tally.not_applicable += 1
        else:
            tally.choice += 1
    coverage = instrument.scoring.coverage
    scores = {
        domain_id: (fmean(t.values) if t.status(coverage) == "scored" else None)
        for domain_id, t in tallies.items()
    }
    return _Respondent(response, visible, frozenset(i.id for i in visible), options, tallies, scores)


def respondent_condition_scores(instrument: Instrument, response: ResponseInput) -> dict[str, float | None]:
    """INTERNAL: one respondent's condition scores (0-100, full precision), None where no score.

    For tests and for the web app's stored-score cache only. Never show these, or anything
    derived from fewer than privacy_threshold respondents, to anyone: PeerReady assesses
    organizations, not individuals. Raises ValueError like `score_responses`.
    """
    return {d.id: _respondent(instrument, response).scores.get(d.id) for d in instrument.domains}


# --- levels ----------------------------------------------------------------------------------


def readiness_level(instrument: Instrument, score: float | None) -> ReadinessLevel | None:
    """The level whose [min, max) range holds `score`; the top level also holds its max (100)."""
    if score is None:
        return None
    levels = instrument.scoring.levels
    for level in levels:
        if level.min <= score < level.max:
            return level
    top = max(levels, key=lambda lv: lv.max)
    if score == top.max:
        return top
    return None


# --- groups and gaps -------------------------------------------------------------------------


def _group_rows(
    instrument: Instrument, by_group: dict[str, list[float]], threshold: int, lang: str
) -> tuple[list[GroupScore], set[str]]:
    """Group rows for one condition, and the groups that could not be shown on their own.

    A group is shown alone only with n >= threshold. Smaller groups are pooled into one row. If
    that pool is still too small while other groups are shown, the smallest shown group joins the
    pool (so nobody can subtract the shown groups from the site score to recover a small group).
    """
    order = [g.id for g in instrument.groups]
    present = [g for g in order if by_group.get(g)]
    shown = [g for g in present if len(by_group[g]) >= threshold]
    pooled = [g for g in present if len(by_group[g]) < threshold]

    def pool_n() -> int:
        return sum(len(by_group[g]) for g in pooled)

    if pooled and pool_n() < threshold and shown:
        # smallest shown group (the later one in instrument order on a tie) joins the pool
        smallest = min(shown, key=lambda g: (len(by_group[g]), -order.index(g)))
        shown.remove(smallest)
        pooled = [g for g in order if g in pooled or g == smallest]

    rows = []
    for group_id in shown:
        values = by_group[group_id]
        rows.append(
            GroupScore(
                group=group_id,
                label=text(instrument.group_by_id(group_id).label, lang),
                n=len(values),
                score=round1(fmean(values)),
            )
        )
    if pooled:
        values = [v for g in pooled for v in by_group[g]]
        ok = len(values) >= threshold
        rows.append(
            GroupScore(
                group=POOLED,
                label=POOLED_LABEL if shown else POOLED_ALL_LABEL,
                n=len(values),
                score=round1(fmean(values)) if ok else None,
                suppressed=not ok,
                pooled_groups=list(pooled),
            )
        )
    return rows, set(pooled)


def _gap_pairs(rows: list[GroupScore]) -> list[PerceptionGap]:
    """Every pair of shown rows, largest difference first (ties: instrument order)."""
    shown = [r for r in rows if r.score is not None]
    pairs = []
    for i, a in enumerate(shown):
        for b in shown[i + 1 :]:
            high, low = (a, b) if a.score >= b.score else (b, a)  # type: ignore[operator]
            pairs.append(
                PerceptionGap(
                    higher_group=high.group,
                    lower_group=low.group,
                    higher_score=high.score,  # type: ignore[arg-type]
                    lower_score=low.score,  # type: ignore[arg-type]
                    difference=round1(high.score - low.score),  # type: ignore[operator]
                )
            )
    pairs.sort(key=lambda g: -g.difference)  # stable: keeps instrument order on ties
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
    if sd <= instrument.scoring.agreement_high_sd:
        return "high"
    if sd <= instrument.scoring.agreement_moderate_sd:
        return "moderate"
    return "low"


def _score_domain(
    instrument: Instrument, domain_id: str, people: list[_Respondent], threshold: int, lang: str
) -> tuple[_DomainWork, set[str]]:
    scoring = instrument.scoring
    domain = instrument.domain_by_id(domain_id)
    title = text(domain.title, lang)
    coverage = scoring.coverage

    scores: list[float] = []
    by_group: dict[str, list[float]] = {}
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
            by_group.setdefault(person.response.group, []).append(value)

    n = len(scores)
    site_ok = n >= threshold and n > 0
    score = round1(fmean(scores)) if site_ok else None
    sd = round1(stdev(scores)) if site_ok and n >= 2 else None
    level = readiness_level(instrument, score)

    # Items (site means over respondents who saw the item and gave a scored answer).
    items: list[ItemResult] = []
    critical_flags: list[str] = []
    for item in instrument.items_in(domain_id):
        values: list[float] = []
        shown_to = i_dk = i_na = i_choice = 0
        for person in people:
            if item.id not in person.visible_ids:
                continue
            shown_to += 1
            option = person.options.get(item.id)
            if option is None:
                continue
            if option.kind == "scored":
                values.append(item_value(instrument, item, option))  # type: ignore[arg-type]
            elif option.kind == "dont_know":
                i_dk += 1
            elif option.kind == "not_applicable":
                i_na += 1
            else:
                i_choice += 1
        mean_ok = len(values) >= threshold and len(values) > 0
        mean = round1(fmean(values)) if mean_ok else None
        flag = bool(item.critical and mean is not None and mean < scoring.critical_below)
        if flag:
            critical_flags.append(item.id)
        items.append(
            ItemResult(
                item_id=item.id,
                n_scored=len(values),
                mean=mean,
                dont_know=i_dk,
                not_applicable=i_na,
                choice=i_choice,
                shown_to=shown_to,
                critical=item.critical,
                critical_flag=flag,
                suppressed=bool(values) and not mean_ok,
            )
        )

    rows, not_alone = _group_rows(instrument, by_group, threshold, lang)
    pairs = _gap_pairs(rows)
    gaps = [g for g in pairs if g.difference >= scoring.gap_threshold]

    rate = Fraction(dk, shown_pairs) if shown_pairs else Fraction(0)
    dk_flag = shown_pairs > 0 and rate >= Fraction(str(scoring.dont_know_flag_rate))

    reasons: list[str] = []
    if score is not None and score < scoring.priority_below:
        line = _num(scoring.priority_below)
        reasons.append(f"{title} scored {_num(score)}, below the priority line of {line}")
    item_results = {r.item_id: r for r in items}
    for item_id in critical_flags:
        item = instrument.item_by_id(item_id)
        reasons.append(
            f"Critical item \u201c{text(item.text, lang)}\u201d averaged "
            f"{_num(item_results[item_id].mean)}, below {_num(scoring.critical_below)}"  # type: ignore[arg-type]
        )
    is_priority = bool(reasons)
    is_strength = score is not None and score >= scoring.strength_at and not critical_flags

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
        min=round1(min(scores)) if site_ok else None,
        max=round1(max(scores)) if site_ok else None,
        agreement=_agreement(instrument, sd),
        dont_know=dk,
        not_applicable=na,
        answers_shown=shown_pairs,
        dont_know_rate=_round3(float(rate)),
        dont_know_flag=dk_flag,
        groups=rows,
        gaps=gaps,
        items=items,
        critical_flags=critical_flags,
        is_strength=is_strength,
        is_priority=is_priority,
        priority_reasons=reasons,
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
) -> tuple[list[str], bool]:
    """Plain-language reasons an action is selected (empty: not selected), and whether a critical
    flag triggered it."""
    rule = action.when
    scoring = instrument.scoring
    domain_work = work.get(action.domain)
    domain = domain_work.result if domain_work else None
    reasons: list[str] = []
    by_critical = False

    def item_label(item_id: str) -> str:
        return f"\u201c{text(instrument.item_by_id(item_id).text, lang)}\u201d"

    if rule.critical_items:
        for item_id in rule.critical_items:
            result = item_results.get(item_id)
            if result is not None and result.critical_flag:
                by_critical = True
                reasons.append(
                    f"Critical item {item_label(item_id)} averaged {_num(result.mean)}, "  # type: ignore[arg-type]
                    f"below {_num(scoring.critical_below)}"
                )
    if domain is not None and rule.domain_below is not None and domain.score is not None:
        if domain.score < rule.domain_below:
            reasons.append(f"{domain.title} scored {_num(domain.score)}, below {_num(rule.domain_below)}")
    if rule.items_below is not None:
        for item_id in rule.items_below.items:
            result = item_results.get(item_id)
            if result is not None and result.mean is not None and result.mean < rule.items_below.score:
                limit = _num(rule.items_below.score)
                reasons.append(f"{item_label(item_id)} averaged {_num(result.mean)}, below {limit}")
    if domain is not None and rule.dont_know_above is not None and domain.answers_shown:
        rate = Fraction(domain.dont_know, domain.answers_shown)
        if rate > Fraction(str(rule.dont_know_above)):
            reasons.append(
                f"{_percent(float(rate))} of answers in {domain.title} were \u201cDon't know\u201d "
                f"(more than {_percent(rule.dont_know_above)})"
            )
    if domain_work is not None and rule.gap_at_least is not None and domain_work.largest_gap is not None:
        gap = domain_work.largest_gap
        if domain is not None and domain.score is not None and gap.difference >= rule.gap_at_least:
            labels = domain_work.labels
            reasons.append(
                f"{labels[gap.higher_group]} and {labels[gap.lower_group]} see {domain.title} differently "
                f"({_num(gap.higher_score)} vs {_num(gap.lower_score)}, "
                f"a gap of {_num(gap.difference)} points)"
            )
    if domain_work is not None and domain is not None and rule.gap_between is not None:
        reason = _gap_between_reason(rule.gap_between.groups, rule.gap_between.at_least, domain_work, domain)
        if reason:
            reasons.append(reason)
    return reasons, by_critical


def _gap_between_reason(
    groups: list[str], at_least: float, domain_work: _DomainWork, domain: DomainResult
) -> str | None:
    """The reason for a `gap_between` trigger, or None when it does not hold.

    Both named groups must be shown on their own for this condition; a group that is pooled or
    suppressed has no score of its own to compare, so the trigger cannot hold.
    """
    first, second = groups
    if first == second or first not in domain_work.alone or second not in domain_work.alone:
        return None
    first_score, second_score = domain_work.alone[first], domain_work.alone[second]
    difference = round1(abs(first_score - second_score))
    if difference < at_least:
        return None
    second_label = _mid_sentence(domain_work.labels[second])
    # One decimal throughout, as the report's group table shows these scores.
    return (
        f"{domain_work.labels[first]} scored {first_score:.1f} and {second_label} {second_score:.1f} "
        f"on {domain.title}: a gap of {difference:.1f} points"
    )


def _mid_sentence(label: str) -> str:
    """A group label as it reads after "and": "Peer staff" -> "peer staff", but "HR staff" stays."""
    if len(label) > 1 and label[0].isupper() and not label[1].isupper():
        return label[0].lower() + label[1:]
    return label


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
    if privacy_threshold < 1:
        raise ValueError("privacy_threshold must be at least 1")
    people = [_respondent(instrument, r) for r in responses]

    work: dict[str, _DomainWork] = {}
    not_alone: set[str] = set()
    for domain in instrument.domains:
        work[domain.id], hidden = _score_domain(instrument, domain.id, people, privacy_threshold, lang)
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
    )
