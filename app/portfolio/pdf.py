"""The portfolio PDF: `reports/portfolio.html` printed by WeasyPrint.

The template is self-contained (its CSS is inside it). The URL fetcher refuses every URL, so
nothing named in the content (a site name, a description) can make the renderer fetch a file or
reach the network.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

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


def render_portfolio_html(view: PortfolioView) -> str:
    return _ENV.get_template(TEMPLATE_NAME).render(
        view=view,
        summary=view.summary,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def render_portfolio_pdf(view: PortfolioView, *, fetcher: RefuseAllFetcher | None = None) -> bytes:
    document = HTML(
        string=render_portfolio_html(view), url_fetcher=fetcher or RefuseAllFetcher(), base_url="about:blank"
    )
    return document.write_pdf(pdf_variant="pdf/ua-1", pdf_tags=True)
