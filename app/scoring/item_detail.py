"""Per-question detail: for every scored item, its mean, n, "Don't know"/N/A counts and the
distribution of answers, grouped by condition. Pure.

Every figure goes through the disclosure layer (`app.disclosure.policy`, docs/privacy.md):

* the mean is the disclosed scorecard's (shown only when at least k people gave a scored answer);
* the "Don't know" / N/A counts only when `may_show_item_detail` holds for the people who saw it;
* the distribution (how many chose each option) only when `may_show_distribution` holds for the
  people who answered: at least max(k, 5), each source (web, import) on its own.

The same rows feed the results page, the PDF and the CSV/XLSX download, so they cannot disagree.

The download adds, under each item, a row per respondent group (`item_details(..., by_group=True)`)
where `policy.pool_item_groups` allows it: the group is shown on its own in the condition's
results, it has k scored answers (max(k, 5) answers for its distribution), and the groups left
over are empty or reach the same size together (shown as one "combined" row), so no figure can
be worked out by taking the shown groups from the whole-agency row. Every other group's row says
"Not shown" and holds no figure (docs/privacy.md, "Downloads").
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from app.disclosure import policy
from app.i18n import gettext
from app.instruments.models import Instrument, Item, text
from app.scoring.models import DomainResult, ResponseInput, Scorecard
from app.scoring.numbers import csv_rate, csv_score, mean, score_value
from app.scoring.rules import item_value, shown_items

__all__ = [
    "ConditionItems",
    "GroupDetail",
    "ItemDetail",
    "OptionCount",
    "item_details",
    "item_table_csv",
    "item_table_xlsx",
]


@dataclass(frozen=True)
class OptionCount:
    value: str
    label: str
    count: int
    share: float  # of the people who answered the item (0-1)


@dataclass(frozen=True)
class GroupDetail:
    """One item's figures for one respondent group, or for the groups combined (`groups` lists
    them); `shown` False means the row holds no figure at all, and `withheld` says why."""

    groups: tuple[str, ...]
    label: str
    shown: bool
    shown_to: int | None = None
    answered: int | None = None
    n_scored: int | None = None
    mean: float | None = None
    dont_know: int | None = None
    not_applicable: int | None = None
    distribution: tuple[OptionCount, ...] | None = None
    withheld: str = ""

    @property
    def key(self) -> str:
        return self.groups[0] if len(self.groups) == 1 else "combined:" + "+".join(self.groups)


@dataclass(frozen=True)
class ItemDetail:
    item_id: str
    text: str
    reverse: bool
    shown_to: int  # people who saw the item
    answered: int | None  # people who gave any answer (scored, "Don't know", N/A); None when withheld
    n_scored: int
    mean: float | None  # 0-100 after reverse-scoring; None when withheld
    dont_know: int | None  # None when withheld
    not_applicable: int | None
    distribution: tuple[OptionCount, ...] | None  # None when withheld
    withheld: str  # plain words for what is held back, "" when nothing is
    by_group: tuple[GroupDetail, ...] = field(default=())  # only with item_details(by_group=True)


@dataclass(frozen=True)
class ConditionItems:
    domain_id: str
    title: str
    options: tuple[tuple[str, str], ...]  # (value, label) of the condition's scale, for headings
    items: tuple[ItemDetail, ...]


def _eligible_groups(domain: DomainResult) -> set[str]:
    """Groups the condition's (disclosed) results show on their own."""
    return {
        row.group
        for row in domain.groups
        if not row.pooled_groups and not row.suppressed and row.score is not None
    }


def _group_rows(
    instrument: Instrument,
    item: Item,
    responses: Sequence[ResponseInput],
    shown_to: dict[str, set[str]],
    eligible: set[str],
    in_cycle: Sequence[str],
    threshold: int,
    lang: str,
) -> tuple[GroupDetail, ...]:
    """The item's rows per group, through `policy.pool_item_groups` (module docstring).

    Candidates are the groups with respondents in the cycle that the item is asked of: whether
    anybody in a group actually saw a `show_if` item is itself an answer, so a group that nobody
    in it saw the item is treated like any other hidden group (in the pool, with no people)."""
    options = instrument.scale_by_id(item.scale).options
    by_value = {o.value: o for o in options}
    candidates = [g for g in in_cycle if not item.groups or g in item.groups]
    saw: Counter[str] = Counter()
    counts: dict[str, Counter[str]] = {g: Counter() for g in candidates}
    values: dict[str, list[Fraction]] = {g: [] for g in candidates}
    scored_by: dict[str, Counter[str]] = {g: Counter() for g in candidates}
    answered_by: dict[str, Counter[str]] = {g: Counter() for g in candidates}
    for response in responses:
        if response.group not in counts or item.id not in shown_to[response.respondent_id]:
            continue
        saw[response.group] += 1
        value = response.answers.get(item.id)
        if value is None or value not in by_value:
            continue
        counts[response.group][value] += 1
        answered_by[response.group][response.source] += 1
        scored = item_value(instrument, item, by_value[value])
        if scored is not None:
            values[response.group].append(scored)
            scored_by[response.group][response.source] += 1
    plan = policy.pool_item_groups(
        {g: dict(scored_by[g]) for g in candidates}, candidates, threshold, eligible=eligible
    )
    spread_min = max(threshold, policy.DISTRIBUTION_MIN)
    spread = policy.pool_item_groups(
        {g: dict(answered_by[g]) for g in candidates}, candidates, spread_min, eligible=set(plan.shown)
    )

    def label_of(group: str) -> str:
        return text(instrument.group_by_id(group).label, lang)

    def figures(groups: list[str], with_distribution: bool) -> GroupDetail:
        chosen: Counter[str] = Counter()
        for g in groups:
            chosen.update(counts[g])
        answered = sum(chosen.values())
        scored = [v for g in groups for v in values[g]]
        kinds = {o.value: o.kind for o in options}
        return GroupDetail(
            groups=tuple(groups),
            label=label_of(groups[0])
            if len(groups) == 1
            else "Other groups (combined): " + ", ".join(label_of(g) for g in groups),
            shown=True,
            shown_to=sum(saw[g] for g in groups),
            answered=answered,
            n_scored=len(scored),
            mean=score_value(mean(scored)) if scored else None,
            dont_know=sum(c for v, c in chosen.items() if kinds[v] == "dont_know"),
            not_applicable=sum(c for v, c in chosen.items() if kinds[v] == "not_applicable"),
            distribution=tuple(
                OptionCount(o.value, text(o.label, lang), chosen[o.value], chosen[o.value] / answered)
                for o in options
            )
            if with_distribution and answered
            else None,
            withheld=""
            if with_distribution or not answered
            else f"Not shown: the answers (shown from {spread_min} people in the row, and in the other"
            " groups together).",
        )

    if not plan.shown:  # the only row would be the whole agency's, already above
        hidden = (
            f"Not shown: a group's row needs {threshold} people with a scored answer in the group,"
            " and in the other groups together."
        )
        return tuple(GroupDetail((g,), label_of(g), False, withheld=hidden) for g in candidates)
    combined = None
    if plan.pooled:  # may be shown: pool_item_groups leaves no hidden pool beside shown groups
        assert plan.pooled_visible
        combined = figures(plan.pooled, spread.pooled_visible and set(spread.pooled) == set(plan.pooled))
    rows = []
    for g in candidates:
        if g in plan.shown:
            rows.append(figures([g], g in spread.shown))
            continue
        why = (
            "the condition's results combine this group with others"
            if g not in eligible
            else "too few people with a scored answer here, or in the other groups together"
        )
        where = f" Its answers are in the row {combined.key}." if combined else ""
        rows.append(GroupDetail((g,), label_of(g), False, withheld=f"Not shown on its own: {why}.{where}"))
    if combined is not None:
        rows.append(combined)
    return tuple(rows)


def item_details(
    instrument: Instrument,
    responses: Sequence[ResponseInput],
    scorecard: Scorecard,
    *,
    lang: str = "en",
    by_group: bool = False,
    changed_since_release: bool = False,
) -> list[ConditionItems]:
    """The per-question rows of a disclosed scorecard and the responses it was computed from;
    with `by_group`, each item's rows per respondent group too (module docstring).

    `answered`, the distributions and the group rows are counted from `responses` (the rest comes
    from the frozen scorecard), so they are only given while those are the answers the scorecard
    was released from. With `changed_since_release` (the caller compared the release's
    fingerprints) they are withheld and every group row is marked; group rows also when the
    group counts differ from the scorecard's. Figures that moved with one person's changed answer
    would tell that answer."""
    threshold = scorecard.privacy_threshold
    shown_to = {r.respondent_id: {i.id for i in shown_items(instrument, r)} for r in responses}
    in_cycle = [g.id for g in instrument.groups if scorecard.respondents_by_group.get(g.id)]
    changed = changed_since_release or dict(Counter(r.group for r in responses)) != {
        g: n for g, n in scorecard.respondents_by_group.items() if n
    }

    def group_rows(item: Item, eligible: set[str]) -> tuple[GroupDetail, ...]:
        if not by_group:
            return ()
        if changed:
            note = (
                "Not shown: answers changed since the results were released; group rows return"
                " with the next release."
            )
            return tuple(
                GroupDetail((g,), text(instrument.group_by_id(g).label, lang), False, withheld=note)
                for g in in_cycle
                if not item.groups or g in item.groups
            )
        return _group_rows(instrument, item, responses, shown_to, eligible, in_cycle, threshold, lang)

    conditions = []
    for domain in scorecard.domains:
        eligible = _eligible_groups(domain)
        results = {i.item_id: i for i in domain.items}
        rows = []
        scale_options: tuple[tuple[str, str], ...] = ()
        for item in instrument.items_in(domain.domain_id):
            if not instrument.is_scored(item) or item.id not in results:
                continue
            result = results[item.id]
            options = instrument.scale_by_id(item.scale).options
            scale_options = scale_options or tuple((o.value, text(o.label, lang)) for o in options)
            counts = {o.value: 0 for o in options}
            by_source: dict[str, int] = {}
            for response in responses:
                value = response.answers.get(item.id)
                if item.id in shown_to[response.respondent_id] and value in counts:
                    counts[value] += 1
                    by_source[response.source] = by_source.get(response.source, 0) + 1
            answered = sum(counts.values())
            show_counts = (
                policy.may_show_item_detail(result.shown_to, threshold) and not result.counts_withheld
            )
            show_distribution = (
                answered > 0
                and not changed_since_release
                and policy.may_show_distribution(answered, threshold, by_source)
            )
            distribution = (
                tuple(
                    OptionCount(o.value, text(o.label, lang), counts[o.value], counts[o.value] / answered)
                    for o in options
                )
                if show_distribution
                else None
            )
            # In the current language (app.i18n): English for the downloads, the page's on the page.
            withheld = []
            if result.mean is None and result.n_scored:
                withheld.append(
                    gettext("the mean (fewer than %(threshold)s scored answers)") % {"threshold": threshold}
                )
            if not show_counts and (result.dont_know or result.not_applicable or result.counts_withheld):
                withheld.append(gettext("the “Don't know” and N/A counts"))
            if changed_since_release:
                withheld.append(
                    gettext(
                        "the answers and how many answered (they changed since the results were released)"
                    )
                )
            elif distribution is None and answered:
                withheld.append(
                    gettext("the answers (shown from %(num)s people)")
                    % {"num": max(threshold, policy.DISTRIBUTION_MIN)}
                )
            rows.append(
                ItemDetail(
                    item_id=item.id,
                    text=text(item.text, lang),
                    reverse=item.reverse,
                    shown_to=result.shown_to,
                    answered=None if changed_since_release else answered,
                    n_scored=result.n_scored,
                    mean=result.mean,
                    dont_know=result.dont_know if show_counts else None,
                    not_applicable=result.not_applicable if show_counts else None,
                    distribution=distribution,
                    withheld=(gettext("Not shown: %(parts)s.") % {"parts": "; ".join(withheld)})
                    if withheld
                    else "",
                    by_group=group_rows(item, eligible),
                )
            )
        conditions.append(ConditionItems(domain.domain_id, domain.title, scale_options, tuple(rows)))
    return conditions


TABLE_COLUMNS = (
    "condition",
    "item",
    "group",
    "group_label",
    "text",
    "reverse",
    "shown_to",
    "answered",
    "n_scored",
    "mean_0_100",
    "dont_know",
    "not_applicable",
)
#: The `group` cell of an item's whole-agency row (its group rows follow it).
ALL_GROUPS = "all"


def _count(value: int | None) -> str:
    return "" if value is None else str(value)


def _table(conditions: Sequence[ConditionItems]) -> list[list[str]]:
    ordered = [v for c in conditions for v, _ in c.options]
    values = list(dict.fromkeys(ordered))
    header = [*TABLE_COLUMNS, *(f"answer_{v}" for v in values), *(f"share_{v}" for v in values), "withheld"]
    rows = [header]

    def cells(distribution: tuple[OptionCount, ...] | None) -> list[str]:
        counts = {o.value: o for o in distribution} if distribution else {}
        return [
            *(str(counts[v].count) if v in counts else "" for v in values),
            *(csv_rate(counts[v].share) if v in counts else "" for v in values),
        ]

    for condition in conditions:
        for item in condition.items:
            rows.append(
                [
                    condition.domain_id,
                    item.item_id,
                    ALL_GROUPS,
                    "All respondents",
                    item.text,
                    "yes" if item.reverse else "no",
                    str(item.shown_to),
                    _count(item.answered),
                    str(item.n_scored),
                    csv_score(item.mean),
                    _count(item.dont_know),
                    _count(item.not_applicable),
                    *cells(item.distribution),
                    item.withheld,
                ]
            )
            for group in item.by_group:
                rows.append(
                    [
                        condition.domain_id,
                        item.item_id,
                        group.key,
                        group.label,
                        item.text,
                        "yes" if item.reverse else "no",
                        _count(group.shown_to),
                        _count(group.answered),
                        _count(group.n_scored),
                        csv_score(group.mean),
                        _count(group.dont_know),
                        _count(group.not_applicable),
                        *cells(group.distribution),
                        group.withheld,
                    ]
                )
    return rows


def item_table_csv(conditions: Sequence[ConditionItems]) -> bytes:
    """The per-question table as CSV (UTF-8 with BOM, for spreadsheets): one row per item (group
    `all`), then its rows per group when the conditions were made with `by_group`; blank cells
    where the disclosure rules hold a figure back, and the reason in `withheld`."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(_table(conditions))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def item_table_xlsx(conditions: Sequence[ConditionItems]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "questions"
    for row in _table(conditions):
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
