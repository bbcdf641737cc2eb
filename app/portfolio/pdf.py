"""The portfolio PDF: `reports/portfolio.html` printed by WeasyPrint.

The template is self-contained (its CSS is inside it). The URL fetcher refuses every URL, so
nothing named in the content (a site name, a description) can make the renderer fetch a file or
reach the network.

The PDF is written in the current language (`app.i18n.use_locale`; the `portfolio_pdf` job sets
the language of the person who asked for it): the template's text, `<html lang>` and the page
footer, whose words come from CSS (margin boxes have no HTML).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from app import i18n
from app.portfolio.view import PortfolioView
from app.reports.pdf import report_environment

TEMPLATE_NAME = "portfolio.html"


class RefuseAllFetcher(URLFetcher):
    """Fetches nothing; remembers what was asked so tests can check."""

    def __init__(self) -> None:
        super().__init__(timeout=1, allowed_protocols=[], allow_redirects=False)
        self.refused: list[str] = []

    def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> URLFetcherResponse:
        self.refused.append(url)
        raise ValueError(f"The portfolio PDF does not fetch {url[:80]!r}")


# Same environment (autoescape, strict undefined, filters) as the action-plan report.
_ENV = report_environment()


def _css_string(value: str) -> str:
    # Escaped for CSS, and no "<" (the string is inside a <style> element).
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("<", "\\3c ")
    return '"' + escaped + '"'


def footer_content() -> str:
    """The CSS `content` of the page footer ("PeerReady portfolio · page 3 of 12") in the
    current language: the sentence's words as CSS strings around the page counters."""
    words = i18n.gettext("PeerReady portfolio · page %(page)s of %(pages)s")
    parts = []
    for piece in re.split(r"(%\(page\)s|%\(pages\)s)", words):
        if piece == "%(page)s":
            parts.append("counter(page)")
        elif piece == "%(pages)s":
            parts.append("counter(pages)")
        elif piece:
            parts.append(_css_string(piece))
    return " ".join(parts)


def render_portfolio_html(view: PortfolioView) -> str:
    return _ENV.get_template(TEMPLATE_NAME).render(
        view=view,
        summary=view.summary,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        lang=i18n.current_locale(),
        footer_content=footer_content(),
    )


def render_portfolio_pdf(view: PortfolioView, *, fetcher: RefuseAllFetcher | None = None) -> bytes:
    document = HTML(
        string=render_portfolio_html(view), url_fetcher=fetcher or RefuseAllFetcher(), base_url="about:blank"
    )
    return document.write_pdf(pdf_variant="pdf/ua-1", pdf_tags=True)
