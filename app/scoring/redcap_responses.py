"""A REDCap data export -> ResponseInput list. Pure: text in, models out.

The layout is what REDCap writes ("CSV / Microsoft Excel (raw data)" or "(labels)") for a project
built from `peerready export redcap` (app.instruments.interop.redcap_dictionary;
docs/csv-layout.md, "REDCap data exports"). Every row is checked with the same rules as a paper
CSV (`app.scoring.csv_responses.check_row`); every problem is reported at once, named by the
file's line and the column's REDCap name, and a file with any problem imports nothing.
"""

from __future__ import annotations

import csv
import difflib
import io
import re

from app.instruments.interop import GROUP_FIELD, RECORD_ID
from app.instruments.models import Instrument
from app.scoring.csv_responses import CsvError, ResponsesCsvInvalid, _, check_row
from app.scoring.models import ResponseInput

__all__ = ["COMPLETE", "RECORD_ID", "REDCAP_IGNORED", "looks_like_redcap", "parse_redcap_export"]

#: `{form}_complete`: 0 Incomplete, 1 Unverified, 2 Complete. Only complete records are imported.
COMPLETE = ("2", "complete")
#: Columns REDCap adds by itself. They are read past and never stored (dates, survey ids, events).
REDCAP_IGNORED = (
    "redcap_event_name",
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
    "redcap_data_access_group",
    "redcap_survey_identifier",
)
_CHECKED = {"1": True, "checked": True, "0": False, "unchecked": False, "": False}
_CHECKBOX = re.compile(r"^(?P<field>[a-z][a-z0-9_]*?)___(?P<code>[a-z0-9_]+)$")


def _dialect(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def looks_like_redcap(content: str) -> bool:
    """A REDCap data export of our dictionary: its header starts with `record_id` or has a
    `respondent_group` column (a paper CSV has `group` instead)."""
    first = content.lstrip("\ufeff").split("\n", 1)[0]
    header = [h.strip().strip('"').lower() for h in first.split(_dialect(first))]
    return bool(header) and (header[0] == RECORD_ID or (GROUP_FIELD in header and "group" not in header))


def _checkbox_code(instrument: Instrument, item_id: str, code: str) -> str | None:
    """The option of `item_id` whose REDCap checkbox column suffix is `code` (REDCap writes the
    code in lower case there, and a "-" as "_")."""
    for option in instrument.scale_by_id(instrument.item_by_id(item_id).scale).options:
        if option.value.lower().replace("-", "_").replace(".", "_") == code:
            return option.value
    return None


def parse_redcap_export(instrument: Instrument, content: str) -> list[ResponseInput]:
    """Read a REDCap data export (raw codes or labels) of a project built from this instrument's
    dictionary. Returns one ResponseInput per record, or raises ResponsesCsvInvalid listing every
    error, each with the file's line (the header is line 1) and the column's name."""
    content = content.lstrip("\ufeff")
    lines = content.splitlines()
    if not lines or not lines[0].strip():
        raise ResponsesCsvInvalid([CsvError(1, None, _("the file is empty; expected REDCap's header row"))])
    reader = csv.reader(io.StringIO(content), delimiter=_dialect(lines[0]))
    header = [h.strip() for h in next(reader)]
    errors: list[CsvError] = []
    form = instrument.id
    complete_column = f"{form}_complete"
    ignored = {*REDCAP_IGNORED, f"{form}_timestamp"}

    # --- header: record id, group, one radio column per item (or checkbox columns) ----------
    radio: dict[str, int] = {}
    boxes: dict[str, list[tuple[str, int, str]]] = {}  # item -> (option value, index, column)
    special: dict[str, int] = {}
    for index, raw in enumerate(header):
        name = raw.lower()
        box = _CHECKBOX.match(name)
        if not name:
            errors.append(
                CsvError(1, _("column %(number)s") % {"number": index + 1}, _("the column has no header"))
            )
        elif name in radio or name in special:
            errors.append(CsvError(1, raw, _("the column %(column)s appears twice") % {"column": repr(raw)}))
        elif name in (RECORD_ID, GROUP_FIELD, complete_column):
            special[name] = index
        elif instrument.has_item(name):
            radio[name] = index
        elif name in ignored or name.endswith(("_complete", "_timestamp")):
            continue  # REDCap's own columns (another form's status or a survey's time): not ours
        elif box and instrument.has_item(box["field"]):
            value = _checkbox_code(instrument, box["field"], box["code"])
            if value is None:
                errors.append(
                    CsvError(
                        1,
                        raw,
                        _("%(code)s is not an answer code of %(item)s")
                        % {"code": repr(box["code"]), "item": box["field"]},
                    )
                )
            else:
                boxes.setdefault(box["field"], []).append((value, index, raw))
        else:
            close = difflib.get_close_matches(name, [i.id for i in instrument.items], n=1)
            words = {"column": repr(raw), "form": form, "close": repr(close[0]) if close else ""}
            if close:
                message = _(
                    "unknown column %(column)s: not a field of the %(form)s dictionary;"
                    " did you mean %(close)s?"
                )
            else:
                message = _("unknown column %(column)s: not a field of the %(form)s dictionary")
            errors.append(CsvError(1, raw, message % words))
    for item_id in set(radio) & set(boxes):
        errors.append(
            CsvError(
                1, item_id, _("%(item)s has both a radio column and checkbox columns") % {"item": item_id}
            )
        )
    for required in (RECORD_ID, GROUP_FIELD):
        if required not in special:
            errors.append(
                CsvError(
                    1,
                    None,
                    _("the header has no %(column)s column (REDCap writes it for our dictionary)")
                    % {"column": repr(required)},
                )
            )
    if errors:
        raise ResponsesCsvInvalid(errors)

    # --- records -----------------------------------------------------------------------------
    responses: list[ResponseInput] = []
    seen: dict[str, int] = {}
    line = reader.line_num  # where the header ended (a quoted header cell may span lines)
    for cells in reader:
        row_line, line = line + 1, reader.line_num
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue
        if len(cells) > len(header):
            errors.append(
                CsvError(
                    row_line,
                    None,
                    _("the row has %(cells)s cells but the header has %(columns)s")
                    % {"cells": len(cells), "columns": len(header)},
                )
            )
            continue
        cells += [""] * (len(header) - len(cells))
        record = cells[special[RECORD_ID]]
        if not record:
            errors.append(CsvError(row_line, RECORD_ID, _("the record id is blank")))
        elif record in seen:
            errors.append(
                CsvError(
                    row_line,
                    RECORD_ID,
                    _("record %(record)s already appears on line %(line)s")
                    % {"record": repr(record), "line": seen[record]},
                )
            )
        seen.setdefault(record, row_line)
        if complete_column in special:
            status = cells[special[complete_column]]
            if status.lower() not in COMPLETE:
                errors.append(
                    CsvError(
                        row_line,
                        complete_column,
                        _(
                            "record %(record)s is not marked Complete (2) but %(status)s; only complete"
                            " records are imported (mark it complete in REDCap, or leave it out)"
                        )
                        % {"record": repr(record), "status": repr(status or "blank")},
                    )
                )
                continue
        values = [(item_id, cells[index], header[index]) for item_id, index in radio.items()]
        for item_id, columns in boxes.items():
            chosen = []
            for value, index, column in columns:
                state = _CHECKED.get(cells[index].lower())
                if state is None:
                    errors.append(
                        CsvError(
                            row_line,
                            column,
                            _("%(value)s is not 1/0 (Checked/Unchecked)") % {"value": repr(cells[index])},
                        )
                    )
                elif state:
                    chosen.append((value, column))
            if len(chosen) > 1:
                errors.append(
                    CsvError(
                        row_line,
                        ", ".join(c for _value, c in chosen),
                        _("%(item)s takes one answer but %(num)s boxes are checked")
                        % {"item": item_id, "num": len(chosen)},
                    )
                )
            values.append((item_id, chosen[0][0] if len(chosen) == 1 else "", columns[0][2]))
        checked = check_row(
            instrument,
            row_number=row_line,
            respondent=record or f"line-{row_line}",
            raw_group=cells[special[GROUP_FIELD]],
            group_column=GROUP_FIELD,
            values=values,
            errors=errors,
            labels=True,
            allowed_note=_("(codes or their labels; blank for no answer)"),
        )
        if checked is not None:
            responses.append(checked)
    if not responses and not errors:
        errors.append(CsvError(2, None, _("the file has a header but no records")))
    if errors:
        raise ResponsesCsvInvalid(errors)
    return responses
