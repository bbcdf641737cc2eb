"""The printable paper form of one respondent group, as PDF (WeasyPrint). Pure of the database.

The same questions, options and conditional rules as the web form (one `Outline`, shared with the
web preview), the rules said in words ("Answer questions 5 to 8 only if you answered ... to
question 1. Otherwise go on to question 9."), and each question's item id in small print so that
whoever types the answers into the CSV template (docs/csv-layout.md) finds its column.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup
from weasyprint import HTML

from app import i18n
from app.instruments.models import text
from app.instruments.outline import Outline
from app.reports.pdf import (
    ASSET_SCHEME,
    PAGE_SIZES,
    ReportAssetFetcher,
    page_numbers_content,
    report_environment,
)

TEMPLATE_NAME = "paper_form.html"

_ENV = report_environment()
_ENV.filters["t"] = text


@dataclass(frozen=True)
class PaperForm:
    outline: Outline
    cycle: str | None = None  # the cycle's name, when printed for one
    organization: str | None = None
    paper: str = "letter"
    lang: str = "en"


def render_paper_html(form: PaperForm) -> str:
    """The form's HTML, its instructions in `form.lang` (as are the instrument's words, where the
    instrument has that language)."""
    instrument = form.outline.instrument
    with i18n.use_locale(form.lang):
        return _ENV.get_template(TEMPLATE_NAME).render(
            form=form,
            outline=form.outline,
            instrument=instrument,
            group=instrument.group_by_id(form.outline.group),
            page_size=PAGE_SIZES[form.paper],
            # CSS, built from the catalog's words and quoted there; not HTML.
            page_numbers=Markup(page_numbers_content(form.lang)),
        )


def render_paper_pdf(form: PaperForm) -> bytes:
    if form.paper not in PAGE_SIZES:
        raise ValueError(f"paper must be one of {', '.join(PAGE_SIZES)}")
    # Its own stylesheet (in the template), not the report's running heads. Fetches nothing: the
    # form has no images, and any URL in instrument text is refused.
    document = HTML(
        string=render_paper_html(form), url_fetcher=ReportAssetFetcher(), base_url=f"{ASSET_SCHEME}:"
    )
    return document.write_pdf(pdf_variant="pdf/ua-1", pdf_tags=True)


def paper_filename(form: PaperForm) -> str:
    raw = f"peerready-paper-{form.outline.instrument.id}-{form.outline.group}"
    safe = "".join(ch.lower() if ch.isascii() and ch.isalnum() else "-" for ch in raw)
    while "--" in safe:
        safe = safe.replace("--", "-")
    return safe.strip("-")[:100] + ".pdf"
