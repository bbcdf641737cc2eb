"""The portfolio PDF as a job (`portfolio_pdf`): the same privacy-checked view as the portfolio
page (app.services.portfolio.portfolio_view), printed by app.portfolio.pdf into the job's folder.

The job carries the language of the person who asked for it (`lang`: the page's, else their
account's, else English): the view, the PDF, the job's title and its progress messages are
written in it. A PDF in another language is another job (its own lock key), so everyone who
joins a job reads it in the language they asked for."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlmodel import Session

from app import i18n
from app.config import Settings
from app.db.models import User
from app.errors import BadInput
from app.jobs.kinds.reports import PDF, _id
from app.jobs.registry import JobKind, Output, Prepared, register
from app.jobs.runner import JobContext
from app.portfolio import exports
from app.portfolio.params import PortfolioFilters, SortOrder
from app.portfolio.pdf import render_portfolio_pdf
from app.services import access
from app.services.portfolio import portfolio_view


def _text(value: Any, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise BadInput(f"{name} must be text.")


def view_inputs(params: dict[str, Any]) -> tuple[PortfolioFilters, SortOrder]:
    filters = PortfolioFilters.parse(
        region=_text(params.get("region"), "region"),
        cohort=_text(params.get("cohort"), "cohort"),
        instrument=_text(params.get("instrument"), "instrument"),
    )
    return filters, SortOrder.parse(_text(params.get("sort"), "sort"))


def prepare_portfolio_pdf(
    session: Session, params: dict[str, Any], user: User | None, settings: Settings
) -> Prepared:
    if user is None:
        raise BadInput("A portfolio PDF is started by a person (it shows what they may see).")
    portfolio_id = _id(params.get("portfolio_id"), "portfolio_id")
    filters, sort = view_inputs(params)
    lang = i18n.normalize(_text(params.get("lang"), "lang")) or i18n.normalize(user.language)
    lang = lang or i18n.SOURCE_LANGUAGE
    portfolio = access.get_portfolio(session, user=user, portfolio_id=portfolio_id)
    normalized = {"portfolio_id": portfolio_id, **filters.query(), "sort": sort.param, "lang": lang}
    digest = hashlib.sha256(json.dumps(normalized, sort_keys=True).encode()).hexdigest()[:24]
    with i18n.use_locale(lang):
        title = i18n.gettext("Portfolio PDF: %(portfolio)s") % {"portfolio": portfolio.name}
    return Prepared(
        title=title,
        params=normalized,
        portfolio_id=portfolio_id,
        lock_key=f"portfolio_pdf:{digest}",
        timeout_seconds=1800,
        total=2,
    )


def run_portfolio_pdf(ctx: JobContext, params: dict[str, Any]) -> Output:
    if ctx.user is None:
        raise BadInput("A portfolio PDF is started by a person.")
    filters, sort = view_inputs(params)
    # A job started before jobs carried a language has none: English, as it was then.
    with i18n.use_locale(params.get("lang")):
        ctx.progress(0, 2, i18n.gettext("Gathering the site figures"))
        with ctx.session() as session:
            view = portfolio_view(
                session,
                user=ctx.user,
                portfolio_id=int(params["portfolio_id"]),
                privacy_threshold=ctx.settings.privacy_threshold,
                filters=filters,
                sort=sort,
            )
        n_sites = view.summary.n_sites
        printing = i18n.ngettext(
            "Printing the PDF (%(num)s site)", "Printing the PDF (%(num)s sites)", n_sites
        )
        ctx.progress(1, 2, printing % {"num": n_sites})
        body = render_portfolio_pdf(view)
        filename = exports.file_stem(view) + ".pdf"
        path = ctx.output_dir() / filename
        partial = path.with_suffix(".part")
        partial.write_bytes(body)
        partial.replace(path)
        ctx.progress(2, 2, i18n.gettext("Ready"))
    return Output(
        path=path,
        filename=filename,
        media_type=PDF,
        detail={"sites": view.summary.n_sites, "filters": filters.query(), "bytes": len(body)},
    )


register(
    JobKind(
        name="portfolio_pdf",
        label="Portfolio PDF",
        prepare=prepare_portfolio_pdf,
        run=run_portfolio_pdf,
        audit_action="portfolio.export_pdf",
    )
)
