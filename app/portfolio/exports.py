"""CSV and XLSX of a portfolio's site table (the same rows, the same privacy rules as the page).

Layout: one row per site and compared condition ("long" format, so sites on different instrument
versions fit one table). A site without a completed cycle, or below the privacy threshold, still
gets its rows, with the status saying why the figures are blank. The columns are documented in
COLUMNS, which the download page, the XLSX "Data dictionary" sheet and docs/portfolio-exports.md
all show (the download page in the reader's language: the meanings are marked for the catalog and
translated where shown; the files keep English, like their column names).
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime

from openpyxl import Workbook

from app.i18n import N_
from app.portfolio.schemas import ConditionRef, SiteOut
from app.portfolio.view import PortfolioView
from app.scoring.numbers import csv_rate, csv_score

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

COLUMNS: list[tuple[str, str]] = [
    ("portfolio_id", N_("Id of the portfolio.")),
    ("portfolio_name", N_("Name of the portfolio.")),
    ("site_id", N_("Id of the site (organization).")),
    ("site_name", N_("Name of the site.")),
    ("region", N_("Region of the site in this portfolio (blank when not set).")),
    ("cohort", N_("Cohort of the site in this portfolio (blank when not set).")),
    (
        "site_status",
        N_(
            "scored; below_threshold (the latest completed cycle has fewer respondents than the privacy "
            "threshold, so no figures are given); no_completed_cycle (no closed cycle with scores yet)."
        ),
    ),
    ("cycle_id", N_("Id of the latest completed cycle (assessment).")),
    ("cycle_name", N_("Name of the latest completed cycle.")),
    ("cycle_date", N_("Date of the latest completed cycle (its closing date), YYYY-MM-DD.")),
    ("instrument_id", N_("Instrument of the latest completed cycle.")),
    ("instrument_version", N_("Version of that instrument.")),
    ("n_respondents", N_("Respondents scored in the latest cycle; blank when below the privacy threshold.")),
    ("expected_respondents", N_("Respondents the site expected (blank when not set).")),
    (
        "response_rate",
        N_(
            "n_respondents / expected_respondents, from 0 to 1, three decimals (0.833), rounded half up; "
            "blank when unknown or below the threshold."
        ),
    ),
    ("condition_id", N_("Condition (domain) id; only conditions every compared instrument version shares.")),
    ("condition_title", N_("Condition title.")),
    (
        "score_status",
        N_(
            "shown; suppressed (fewer respondents with a score than the privacy threshold); "
            "no_score (nobody answered enough items); no_completed_cycle."
        ),
    ),
    (
        "score",
        N_(
            "Site score for the condition, 0-100, always one decimal (59.5, 60.0) as on the page "
            "(mean of respondent scores, rounded half up); else blank."
        ),
    ),
    ("level_id", N_("Readiness level id of the score.")),
    ("level_label", N_("Readiness level name of the score.")),
    ("condition_n", N_("Respondents with a score for this condition; blank unless shown.")),
    ("baseline_cycle_name", N_("Name of the earliest completed cycle, when the site has more than one.")),
    ("baseline_cycle_date", N_("Date of the earliest completed cycle.")),
    (
        "baseline_score",
        N_("Score for the condition in the earliest cycle, one decimal; blank unless shown there."),
    ),
    (
        "change_from_baseline",
        N_("score - baseline_score, in points, one decimal (-2.5, 0.0, 3.0); blank unless both are shown."),
    ),
    ("privacy_threshold", N_("Smallest number of respondents for which any figure is shown.")),
]
COLUMN_NAMES = [name for name, _ in COLUMNS]

# A cell that starts with one of these would run as a formula in a spreadsheet (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe_text(value: str | None) -> str | None:
    if value and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def file_stem(view: PortfolioView) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", view.summary.portfolio.name.lower()).strip("-")[:60] or "portfolio"
    return f"peerready-portfolio-{view.summary.portfolio.id}-{slug}"


def _site_rows(view: PortfolioView, site: SiteOut, conditions: list[ConditionRef]) -> Iterator[dict]:
    latest, baseline = site.latest, site.baseline
    base = {
        "portfolio_id": view.summary.portfolio.id,
        "portfolio_name": _safe_text(view.summary.portfolio.name),
        "site_id": site.organization_id,
        "site_name": _safe_text(site.name),
        "region": _safe_text(site.region),
        "cohort": _safe_text(site.cohort),
        "site_status": site.status,
        "cycle_id": latest.assessment_id if latest else None,
        "cycle_name": _safe_text(latest.name) if latest else None,
        "cycle_date": latest.date.isoformat() if latest else None,
        "instrument_id": latest.instrument_id if latest else None,
        "instrument_version": latest.instrument_version if latest else None,
        "n_respondents": latest.n_respondents if latest else None,
        "expected_respondents": latest.expected_respondents if latest else None,
        "response_rate": latest.response_rate if latest else None,
        "baseline_cycle_name": _safe_text(baseline.name) if baseline else None,
        "baseline_cycle_date": baseline.date.isoformat() if baseline else None,
        "privacy_threshold": view.summary.privacy_threshold,
    }
    if not conditions:
        yield base
        return
    for condition in conditions:
        row = dict(base, condition_id=condition.id, condition_title=_safe_text(condition.title))
        cell = site.score_for(condition.id)
        change = site.change_for(condition.id)
        if site.status == "no_completed_cycle":
            row["score_status"] = "no_completed_cycle"
        elif site.status == "below_threshold":
            row["score_status"] = "suppressed"
        elif cell is not None:
            row.update(
                score_status=cell.status,
                score=cell.score,
                level_id=cell.level_id,
                level_label=_safe_text(cell.level_label),
                condition_n=cell.n,
            )
        if change is not None and site.status == "scored":
            row.update(baseline_score=change.baseline_score, change_from_baseline=change.change)
        yield row


def rows(view: PortfolioView) -> Iterator[list]:
    """The data rows, in COLUMNS order, sites in the page's sort order."""
    conditions = view.summary.shared_conditions
    for site in view.sites:
        for row in _site_rows(view, site, conditions):
            yield [row.get(name) for name in COLUMN_NAMES]


# Figures in the CSV are written by the number formatter: the same digits as the page ("59.5",
# "60.0"), with a point and an ASCII minus (docs/scoring.md, section 14).
_CSV_NUMBERS = {
    "score": csv_score,
    "baseline_score": csv_score,
    "change_from_baseline": csv_score,
    "response_rate": csv_rate,
}
_CSV_WRITERS = [_CSV_NUMBERS.get(name) for name in COLUMN_NAMES]


def iter_csv(view: PortfolioView, *, rows_per_chunk: int = 500) -> Iterator[str]:
    """The CSV in pieces of `rows_per_chunk` rows, for a streamed download: the first bytes leave
    before the last rows are written, and the whole file is never held as one string."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMN_NAMES)
    for number, row in enumerate(rows(view), start=1):
        writer.writerow(
            [
                write(v) if write is not None else ("" if v is None else v)
                for write, v in zip(_CSV_WRITERS, row, strict=True)
            ]
        )
        if number % rows_per_chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def to_csv(view: PortfolioView) -> str:
    return "".join(iter_csv(view))


def to_xlsx(view: PortfolioView) -> bytes:
    return b"".join(iter_xlsx(view))


XLSX_CHUNK = 64 * 1024


def iter_xlsx(view: PortfolioView) -> Iterator[bytes]:
    """The workbook in chunks. openpyxl's write-only mode writes each row as it is appended (no
    cell objects kept) and the zip goes to a temporary file, which is then sent in 64 KiB
    chunks: memory stays flat whatever the number of sites."""
    workbook = Workbook(write_only=True)

    sites = workbook.create_sheet("Sites")
    sites.freeze_panes = "A2"
    sites.append(COLUMN_NAMES)
    for row in rows(view):
        sites.append(row)

    dictionary = workbook.create_sheet("Data dictionary")
    dictionary.append(["column", "meaning"])
    for name, meaning in COLUMNS:
        dictionary.append([name, meaning])

    about = workbook.create_sheet("About")
    summary = view.summary
    filters = view.filters.query()
    facts = [
        ("Portfolio", _safe_text(summary.portfolio.name)),
        ("Generated (UTC)", datetime.now(UTC).strftime("%Y-%m-%d %H:%M")),
        ("Filters", _safe_text(", ".join(f"{k}={v}" for k, v in filters.items())) or "none"),
        ("Sites", summary.n_sites),
        ("Sites scored", summary.n_scored),
        ("Sites below the privacy threshold", summary.n_below_threshold),
        ("Sites without a completed cycle", summary.n_no_completed_cycle),
        ("Privacy threshold", summary.privacy_threshold),
        ("Comparability", summary.comparability_note or "All scored sites used the same instrument version."),
        (
            "Privacy",
            "Aggregates only: no individual response, answer, comment or respondent-group figure.",
        ),
    ]
    for label, value in facts:
        about.append([label, value])
    with tempfile.TemporaryFile() as handle:
        workbook.save(handle)
        handle.seek(0)
        while chunk := handle.read(XLSX_CHUNK):
            yield chunk
