"""Per-question detail: for every scored item, its mean, n, "Don't know"/N/A counts and the
distribution of answers, grouped by condition. Pure.

Every figure goes through the disclosure layer (`app.disclosure.policy`, docs/privacy.md):

* the mean is the disclosed scorecard's (shown only when at least k people gave a scored answer);
* the "Don't know" / N/A counts only when `may_show_item_detail` holds for the people who saw it;
* the distribution (how many chose each option) only when `may_show_distribution` holds for the
  people who answered: at least max(k, 5), each source (web, import) on its own.

The same rows feed the results page, the PDF and the CSV/XLSX download, so they cannot disagree.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from app.disclosure import policy
from app.instruments.models import Instrument, text
from app.scoring.models import ResponseInput, Scorecard
from app.scoring.numbers import csv_rate, csv_score
from app.scoring.rules import shown_items

__all__ = ["ConditionItems", "ItemDetail", "OptionCount", "item_details", "item_table_csv", "item_table_xlsx"]


@dataclass(frozen=True)
class OptionCount:
    value: str
    label: str
    count: int
    share: float  # of the people who answered the item (0-1)


@dataclass(frozen=True)
class ItemDetail:
    item_id: str
    text: str
    reverse: bool
    shown_to: int  # people who saw the item
    answered: int  # people who gave any answer (scored, "Don't know", N/A)
    n_scored: int
    mean: float | None  # 0-100 after reverse-scoring; None when withheld
    dont_know: int | None  # None when withheld
    not_applicable: int | None
    distribution: tuple[OptionCount, ...] | None  # None when withheld
    withheld: str  # plain words for what is held back, "" when nothing is


@dataclass(frozen=True)
class ConditionItems:
    domain_id: str
    title: str
    options: tuple[tuple[str, str], ...]  # (value, label) of the condition's scale, for headings
    items: tuple[ItemDetail, ...]


def item_details(
    instrument: Instrument, responses: Sequence[ResponseInput], scorecard: Scorecard, *, lang: str = "en"
) -> list[ConditionItems]:
    """The per-question rows of a disclosed scorecard and the responses it was computed from."""
    threshold = scorecard.privacy_threshold
    shown_to = {r.respondent_id: {i.id for i in shown_items(instrument, r)} for r in responses}
    conditions = []
    for domain in scorecard.domains:
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
            show_distribution = answered > 0 and policy.may_show_distribution(answered, threshold, by_source)
            distribution = (
                tuple(
                    OptionCount(o.value, text(o.label, lang), counts[o.value], counts[o.value] / answered)
                    for o in options
                )
                if show_distribution
                else None
            )
            withheld = []
            if result.mean is None and result.n_scored:
                withheld.append(f"the mean (fewer than {threshold} scored answers)")
            if not show_counts and (result.dont_know or result.not_applicable or result.counts_withheld):
                withheld.append("the “Don't know” and N/A counts")
            if distribution is None and answered:
                withheld.append(f"the answers (shown from {max(threshold, policy.DISTRIBUTION_MIN)} people)")
            rows.append(
                ItemDetail(
                    item_id=item.id,
                    text=text(item.text, lang),
                    reverse=item.reverse,
                    shown_to=result.shown_to,
                    answered=answered,
                    n_scored=result.n_scored,
                    mean=result.mean,
                    dont_know=result.dont_know if show_counts else None,
                    not_applicable=result.not_applicable if show_counts else None,
                    distribution=distribution,
                    withheld=("Not shown: " + "; ".join(withheld) + ".") if withheld else "",
                )
            )
        conditions.append(ConditionItems(domain.domain_id, domain.title, scale_options, tuple(rows)))
    return conditions


TABLE_COLUMNS = (
    "condition",
    "item",
    "text",
    "reverse",
    "shown_to",
    "answered",
    "n_scored",
    "mean_0_100",
    "dont_know",
    "not_applicable",
)


def _table(conditions: Sequence[ConditionItems]) -> list[list[str]]:
    values = sorted({value for c in conditions for value, _ in c.options}, key=str)
    ordered = [v for c in conditions for v, _ in c.options]
    values = list(dict.fromkeys(ordered)) or values
    header = [*TABLE_COLUMNS, *(f"answer_{v}" for v in values), *(f"share_{v}" for v in values), "withheld"]
    rows = [header]
    for condition in conditions:
        for item in condition.items:
            counts = {o.value: o for o in item.distribution} if item.distribution else {}
            rows.append(
                [
                    condition.domain_id,
                    item.item_id,
                    item.text,
                    "yes" if item.reverse else "no",
                    str(item.shown_to),
                    str(item.answered),
                    str(item.n_scored),
                    csv_score(item.mean),
                    "" if item.dont_know is None else str(item.dont_know),
                    "" if item.not_applicable is None else str(item.not_applicable),
                    *(str(counts[v].count) if v in counts else "" for v in values),
                    *(csv_rate(counts[v].share) if v in counts else "" for v in values),
                    item.withheld,
                ]
            )
    return rows


def item_table_csv(conditions: Sequence[ConditionItems]) -> bytes:
    """The per-question table as CSV (UTF-8 with BOM, for spreadsheets): one row per item; blank
    cells where the disclosure rules hold a figure back, and the reason in `withheld`."""
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
