"""Paper-collected responses from a CSV file -> ResponseInput list. Pure: text in, models out.

The layout is documented in docs/csv-layout.md. Every problem is reported at once, each naming
the row (as a spreadsheet numbers it: the header is row 1) and the column, so a consultant can fix
the file in one pass.
"""

from __future__ import annotations

import csv
import difflib
import io
from dataclasses import dataclass

from app.instruments.models import Instrument, Item, text
from app.instruments.outline import outline
from app.scoring.models import ResponseInput
from app.scoring.rules import visible_items

RESPONDENT = "respondent"
GROUP = "group"
#: In a research export (no group column), the cell of an item the respondent was not shown.
#: A dot, as Stata and SAS write a missing value; never an option value (the exporter checks).
NOT_ASKED = "."


def _(message: str) -> str:
    """The message in the current interface language: the web import lists a file's problems in
    the page's language. The command line sets none, so it prints the English of
    docs/csv-layout.md. (Imported here, not at the top: app.i18n imports app.scoring.)"""
    from app.i18n import gettext

    return gettext(message)


__all__ = [
    "NOT_ASKED",
    "CsvError",
    "ResponsesCsvInvalid",
    "blank_template",
    "parse_responses_csv",
    "column_letter",
]


@dataclass(frozen=True)
class CsvError:
    row: int  # 1 = the header row
    column: str | None  # the column's header (or its letter when it has none); None = whole row
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


class ResponsesCsvInvalid(ValueError):
    """The CSV cannot be imported; `errors` lists every problem found."""

    def __init__(self, errors: list[CsvError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA (as spreadsheets name columns)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def blank_template(instrument: Instrument, group: str | None = None) -> str:
    """A CSV with only the header row, for typing in paper answers (docs/csv-layout.md).

    For one group: `respondent`, `group`, then the items that group may be asked, in the order of
    its paper form (conditional items included: leave them blank when the form said to skip
    them). Without a group: every item, in form order, for a file that mixes groups."""
    if group is None:
        item_ids = [i.id for d in instrument.domains for i in instrument.items if i.domain == d.id]
    else:
        item_ids = outline(instrument, group).item_ids
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([RESPONDENT, GROUP, *item_ids])
    return buffer.getvalue()


def _dialect(first_line: str) -> str:
    # Spreadsheets in some locales save with ";" (or tabs); pick whichever the header uses.
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _match(value: str, allowed: list[str]) -> str | None:
    """Exact match, else a case-insensitive match when it is unambiguous ("dk" -> "DK")."""
    if value in allowed:
        return value
    folded = [a for a in allowed if a.casefold() == value.casefold()]
    return folded[0] if len(folded) == 1 else None


def _hidden_reason(instrument: Instrument, item: Item, group: str) -> str:
    if item.groups and group not in item.groups:
        return _("item %(item)s is not asked of group %(group)s") % {"item": item.id, "group": group}
    cond = item.show_if
    if cond is None:  # pragma: no cover - visible_items only hides by group or show_if
        return _("item %(item)s is not shown") % {"item": item.id}
    parts = []
    if cond.in_ is not None:
        parts.append(_("%(item)s is one of: %(values)s") % {"item": cond.item, "values": ", ".join(cond.in_)})
    if cond.not_in is not None:
        parts.append(
            _("%(item)s is answered and is not one of: %(values)s")
            % {"item": cond.item, "values": ", ".join(cond.not_in)}
        )
    when = (
        parts[0]
        if len(parts) == 1
        else _("%(first)s and %(second)s") % {"first": parts[0], "second": parts[1]}
    )
    return _("item %(item)s is only asked when %(when)s (leave %(item)s blank)") % {
        "item": item.id,
        "when": when,
    }


def match_group(instrument: Instrument, raw: str) -> str | None:
    """The group id that `raw` names: the id (case-insensitive when unambiguous) or a label in
    any of the instrument's languages."""
    labels = {
        text(g.label, lang).casefold(): g.id for g in instrument.groups for lang in instrument.languages
    }
    return _match(raw, [g.id for g in instrument.groups]) or labels.get(raw.casefold())


def match_option(instrument: Instrument, item: Item, raw: str, *, labels: bool = False) -> str | None:
    """The option value that `raw` gives for `item`: the value (case-insensitive when unambiguous)
    or, with `labels`, an option's label in any of the instrument's languages (a REDCap export
    "as labels")."""
    options = instrument.scale_by_id(item.scale).options
    found = _match(raw, [o.value for o in options])
    if found is None and labels:
        by_label = {text(o.label, lang).casefold(): o.value for o in options for lang in instrument.languages}
        found = by_label.get(raw.casefold())
    return found


def check_row(
    instrument: Instrument,
    *,
    row_number: int,
    respondent: str,
    raw_group: str,
    group_column: str,
    values: list[tuple[str, str, str]],
    errors: list[CsvError],
    labels: bool = False,
    allowed_note: str | None = None,
) -> ResponseInput | None:
    """One respondent's row, checked exactly as the web form applies the instrument: the group,
    each value on its item's scale, no answer to an item the row's group and answers hide, every
    shown required item answered. `values` holds (item id, raw cell, column name) for the
    columns present. Appends every problem to `errors`; returns None when the group is unknown."""
    groups = ", ".join(g.id for g in instrument.groups)
    group = match_group(instrument, raw_group)
    if group is None:
        if not raw_group:
            message = _("%(column)s is blank; allowed: %(allowed)s") % {"column": GROUP, "allowed": groups}
        else:
            message = _("%(column)s %(group)s is not a respondent group; allowed: %(allowed)s") % {
                "column": GROUP,
                "group": repr(raw_group),
                "allowed": groups,
            }
        errors.append(CsvError(row_number, group_column, message))
        return None
    note = allowed_note if allowed_note is not None else _("(or blank for no answer)")

    answers: dict[str, str] = {}
    invalid: set[str] = set()
    column_of: dict[str, str] = {}
    for item_id, value, column in values:
        column_of[item_id] = column
        if not value:
            continue
        item = instrument.item_by_id(item_id)
        matched = match_option(instrument, item, value, labels=labels)
        if matched is None:
            invalid.add(item_id)
            allowed = [o.value for o in instrument.scale_by_id(item.scale).options]
            errors.append(
                CsvError(
                    row_number,
                    column,
                    _("%(value)s is not an answer to %(item)s; allowed: %(allowed)s %(note)s")
                    % {"value": repr(value), "item": item_id, "allowed": ", ".join(allowed), "note": note},
                )
            )
        else:
            answers[item_id] = matched

    shown = {i.id for i in visible_items(instrument, group=group, answers=answers)}
    for item in instrument.items:
        depends_on_invalid = item.show_if is not None and item.show_if.item in invalid
        if item.id in invalid or depends_on_invalid:
            continue
        column = column_of.get(item.id, item.id)
        if item.id in answers and item.id not in shown:
            errors.append(CsvError(row_number, column, _hidden_reason(instrument, item, group)))
        elif item.required and item.id in shown and item.id not in answers:
            if item.id in column_of:
                message = _("item %(item)s is required for group %(group)s but is blank")
            else:
                message = _("item %(item)s is required for group %(group)s but has no column")
            errors.append(CsvError(row_number, column, message % {"item": item.id, "group": group}))
    return ResponseInput(respondent_id=respondent, group=group, answers=answers)


def parse_responses_csv(
    instrument: Instrument, content: str, *, research: bool = False
) -> list[ResponseInput]:
    """Read responses from CSV text (layout: docs/csv-layout.md).

    Returns one ResponseInput per non-blank data row, or raises ResponsesCsvInvalid listing every
    error (row number, column and what is wrong). With `research=True` a file without a `group`
    column is read as a research export (`peerready export responses`): every item has a column,
    and a cell holding NOT_ASKED marks an item the respondent was not shown. Such rows have no
    group, so they can be scored (site and conditions) but never imported into a cycle.
    """
    content = content.lstrip("\ufeff")
    lines = content.splitlines()
    if not lines or not lines[0].strip():
        raise ResponsesCsvInvalid([CsvError(1, None, _("the file is empty; expected a header row"))])
    rows = list(csv.reader(io.StringIO(content), delimiter=_dialect(lines[0])))
    header = [h.strip() for h in rows[0]]
    errors: list[CsvError] = []

    # --- header ----------------------------------------------------------------------------
    item_ids = [i.id for i in instrument.items]
    columns: dict[str, int] = {}
    names: list[str] = []
    for index, raw in enumerate(header):
        letter = column_letter(index)
        name = raw.lower()
        names.append(f"{raw} ({letter})" if raw else letter)
        if not name:
            errors.append(CsvError(1, letter, _("the column has no header")))
        elif name in columns:
            errors.append(
                CsvError(1, names[-1], _("the column %(column)s appears twice") % {"column": repr(raw)})
            )
        elif name not in (RESPONDENT, GROUP) and not instrument.has_item(name):
            close = difflib.get_close_matches(name, [*item_ids, RESPONDENT, GROUP], n=1)
            values = {
                "column": repr(raw),
                "instrument": instrument.id,
                "close": repr(close[0]) if close else "",
            }
            if close:
                message = _(
                    "unknown column %(column)s: not an item of instrument %(instrument)s;"
                    " did you mean %(close)s?"
                )
            else:
                message = _("unknown column %(column)s: not an item of instrument %(instrument)s")
            errors.append(CsvError(1, names[-1], message % values))
        else:
            columns[name] = index
    research_rows = research and GROUP not in columns
    if research_rows:
        without = [i for i in item_ids if i not in columns]
        if without:
            errors.append(
                CsvError(
                    1,
                    None,
                    "a file without a 'group' column is read as a research export, which needs a column"
                    f" for every item; missing: {', '.join(without)}",
                )
            )
            raise ResponsesCsvInvalid(errors)
    elif GROUP not in columns:
        errors.append(CsvError(1, None, _("the header has no 'group' column (it is required)")))
        raise ResponsesCsvInvalid(errors)

    item_columns = [(name, index) for name, index in columns.items() if instrument.has_item(name)]

    # --- data rows ---------------------------------------------------------------------------
    responses: list[ResponseInput] = []
    seen_ids: dict[str, int] = {}
    for row_number, cells in enumerate(rows[1:], start=2):
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue
        if len(cells) > len(header):
            errors.append(
                CsvError(
                    row_number,
                    None,
                    _("the row has %(cells)s cells but the header has %(columns)s columns")
                    % {"cells": len(cells), "columns": len(header)},
                )
            )
            continue
        cells += [""] * (len(header) - len(cells))

        respondent = cells[columns[RESPONDENT]] if RESPONDENT in columns else ""
        respondent = respondent or f"row-{row_number}"
        if respondent in seen_ids:
            errors.append(
                CsvError(
                    row_number,
                    names[columns[RESPONDENT]] if RESPONDENT in columns else None,
                    _("respondent %(respondent)s already appears in row %(row)s")
                    % {"respondent": repr(respondent), "row": seen_ids[respondent]},
                )
            )
        seen_ids.setdefault(respondent, row_number)

        if research_rows:
            _research_row(instrument, cells, columns, names, row_number, respondent, errors, responses)
            continue
        checked = check_row(
            instrument,
            row_number=row_number,
            respondent=respondent,
            raw_group=cells[columns[GROUP]],
            group_column=names[columns[GROUP]],
            values=[(item_id, cells[index], names[index]) for item_id, index in item_columns],
            errors=errors,
        )
        if checked is not None:
            responses.append(checked)

    if not responses and not errors:
        errors.append(CsvError(2, None, _("the file has a header but no responses")))
    if errors:
        raise ResponsesCsvInvalid(errors)
    return responses


def _research_row(
    instrument: Instrument,
    cells: list[str],
    columns: dict[str, int],
    names: list[str],
    row_number: int,
    respondent: str,
    errors: list[CsvError],
    responses: list[ResponseInput],
) -> None:
    """One row of a research export: the items asked are those whose cell is not NOT_ASKED."""
    answers: dict[str, str] = {}
    asked: set[str] = set()
    for item in instrument.items:
        index = columns[item.id]
        value = cells[index]
        if value == NOT_ASKED:
            continue
        asked.add(item.id)
        if not value:
            if item.required:
                errors.append(CsvError(row_number, names[index], f"item {item.id} is required but is blank"))
            continue
        allowed = [o.value for o in instrument.scale_by_id(item.scale).options]
        matched = _match(value, allowed)
        if matched is None:
            errors.append(
                CsvError(
                    row_number,
                    names[index],
                    f"{value!r} is not an answer to {item.id}; allowed: {', '.join(allowed)} "
                    f"(or blank for no answer, {NOT_ASKED!r} for not asked)",
                )
            )
        else:
            answers[item.id] = matched
    responses.append(
        ResponseInput(respondent_id=respondent, group="", answers=answers, asked=frozenset(asked))
    )
