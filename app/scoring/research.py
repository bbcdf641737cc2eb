"""The research download: respondent x item raw answers, with a codebook. Pure: data in, bytes out.

What it holds and what it leaves out is decided here, once, for the CLI and the web alike
(docs/privacy.md, "Downloads"):

* one row per counted respondent, in a random order, labelled R001, R002, ... AFTER shuffling,
  so neither the order nor the label says who answered first;
* one column per item, holding the raw option value exactly as the instrument lists it (not
  reverse-scored: the codebook says which items are reversed), blank for "shown but not
  answered", and NOT_ASKED (".") for an item the respondent was not shown;
* never the respondent group, comments, dates, invitation or response ids, or link tokens.

The file is laid out as docs/csv-layout.md's research export, so `peerready score` re-scores it to
the same condition scores as the results page.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Sequence
from dataclasses import dataclass

from app.instruments.models import Instrument, Item, text
from app.scoring.csv_responses import NOT_ASKED, RESPONDENT
from app.scoring.models import ResponseInput
from app.scoring.rules import shown_items

__all__ = [
    "CODEBOOK_COLUMNS",
    "ResearchTable",
    "codebook_rows",
    "research_csv",
    "research_table",
    "research_xlsx",
]

CODEBOOK_COLUMNS = (
    "variable",
    "condition",
    "condition_title",
    "text",
    "scale",
    "codes",
    "scored",
    "reverse",
    "asked_of_groups",
    "asked_when",
)


@dataclass(frozen=True)
class ResearchTable:
    instrument_id: str
    instrument_version: str
    content_hash: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def _check_codes(instrument: Instrument) -> None:
    for scale in instrument.scales:
        if any(option.value == NOT_ASKED for option in scale.options):
            raise ValueError(
                f"scale {scale.id!r} has an option {NOT_ASKED!r}, which a research export uses for"
                " 'not asked'; rename the option to export this instrument's answers"
            )


def research_table(
    instrument: Instrument,
    responses: Sequence[ResponseInput],
    *,
    content_hash: str = "",
    rng: random.Random | None = None,
) -> ResearchTable:
    """The respondent x item table of `responses` (see the module docstring for what is in it).
    `rng` decides the row order; by default the operating system's randomness, so two downloads
    of the same cycle come in different orders and cannot be lined up by position."""
    _check_codes(instrument)
    order = rng or random.SystemRandom()
    rows = []
    for response in responses:
        shown = {item.id for item in shown_items(instrument, response)}
        rows.append(
            tuple(
                response.answers.get(item.id, "") if item.id in shown else NOT_ASKED
                for item in instrument.items
            )
        )
    order.shuffle(rows)
    width = max(3, len(str(len(rows))))
    labelled = tuple((f"R{index:0{width}d}", *row) for index, row in enumerate(rows, start=1))
    return ResearchTable(
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        content_hash=content_hash,
        header=(RESPONDENT, *(item.id for item in instrument.items)),
        rows=labelled,
    )


def _codes(instrument: Instrument, item: Item, lang: str) -> str:
    parts = []
    for option in instrument.scale_by_id(item.scale).options:
        label = text(option.label, lang)
        if option.kind == "scored":
            parts.append(f"{option.value} = {label}")
        else:
            what = {"dont_know": "not scored", "not_applicable": "not scored", "choice": "not scored"}
            parts.append(f"{option.value} = {label} ({what[option.kind]})")
    return "; ".join(parts)


def _asked_when(item: Item) -> str:
    cond = item.show_if
    if cond is None:
        return ""
    if cond.in_ is not None:
        return f"{cond.item} is one of: {', '.join(cond.in_)}"
    assert cond.not_in is not None
    return f"{cond.item} is answered and is not one of: {', '.join(cond.not_in)}"


def codebook_rows(instrument: Instrument, *, lang: str = "en") -> list[tuple[str, ...]]:
    """One row per variable of the research table (the respondent label first), with
    CODEBOOK_COLUMNS: the item's condition, text, scale and codes, whether it is scored and
    reversed, and who is asked it."""
    rows: list[tuple[str, ...]] = [
        (
            RESPONDENT,
            "",
            "",
            "A label given after the rows were shuffled; it is not a person or response id.",
            "",
            "",
            "",
            "",
            "",
            "",
        )
    ]
    for item in instrument.items:
        rows.append(
            (
                item.id,
                item.domain,
                text(instrument.domain_by_id(item.domain).title, lang),
                text(item.text, lang),
                item.scale,
                _codes(instrument, item, lang),
                "yes" if instrument.is_scored(item) else "no",
                "yes" if item.reverse else "no",
                ", ".join(item.groups) or "all",
                _asked_when(item),
            )
        )
    return rows


def _notes(table: ResearchTable) -> list[tuple[str, str]]:
    return [
        ("instrument", table.instrument_id),
        ("version", table.instrument_version),
        ("content hash", table.content_hash),
        ("respondents", str(len(table.rows))),
        ("cell values", "the option value the respondent chose, as the instrument lists it"),
        ("blank cell", "the item was shown but not answered"),
        (f"{NOT_ASKED!r} cell", "the item was not shown to this respondent (group or asked_when)"),
        ("reverse items", "stored as answered; reverse-score with (max + min - value) before analysis"),
        ("row order", "random; labels R001... were given after shuffling"),
        ("left out", "respondent group, comments, dates, ids and link tokens"),
        ("re-score", "peerready score --instrument ID responses.csv (docs/csv-layout.md)"),
    ]


def _csv(rows: Sequence[Sequence[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def research_csv(
    table: ResearchTable, instrument: Instrument, *, lang: str = "en"
) -> tuple[bytes, bytes, bytes]:
    """(responses.csv, codebook.csv, notes.csv), UTF-8: the same three tables as the workbook."""
    return (
        _csv([table.header, *table.rows]),
        _csv([CODEBOOK_COLUMNS, *codebook_rows(instrument, lang=lang)]),
        _csv([("note", "meaning"), *_notes(table)]),
    )


def research_xlsx(table: ResearchTable, instrument: Instrument, *, lang: str = "en") -> bytes:
    """One workbook: sheet "responses" (the table), "codebook" (one row per variable) and
    "notes". Every cell is text, so a spreadsheet never turns "1.0" or "." into something else."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "responses"
    for row in (table.header, *table.rows):
        sheet.append(list(row))
    for cells in sheet.iter_rows():
        for cell in cells:
            cell.number_format = "@"
    codebook = book.create_sheet("codebook")
    for row in (CODEBOOK_COLUMNS, *codebook_rows(instrument, lang=lang)):
        codebook.append(list(row))
    notes = book.create_sheet("notes")
    for row in (("note", "meaning"), *_notes(table)):
        notes.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
