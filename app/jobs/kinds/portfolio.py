"""The portfolio PDF as a job (`portfolio_pdf`): the same privacy-checked view as the portfolio
page (app.services.portfolio.portfolio_view), printed by app.portfolio.pdf into the job's folder."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlmodel import Session

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
    portfolio = access.get_portfolio(session, user=user, portfolio_id=portfolio_id)
    normalized = {"portfolio_id": portfolio_id, **filters.query(), "sort": sort.param}
    digest = hashlib.sha256(json.dumps(normalized, sort_keys=True).encode()).hexdigest()[:24]
    return Prepared(
        title=f"Portfolio PDF: {portfolio.name}",
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
    ctx.progress(0, 2, "Gathering the site figures")
    with ctx.session() as session:
        view = portfolio_view(
            session,
            user=ctx.user,
            portfolio_id=int(params["portfolio_id"]),
            privacy_threshold=ctx.settings.privacy_threshold,
            filters=filters,
            sort=sort,
        )
    ctx.progress(1, 2, f"Printing the PDF ({view.summary.n_sites} sites)")
    body = render_portfolio_pdf(view)
    filename = exports.file_stem(view) + ".pdf"
    path = ctx.output_dir() / filename
    partial = path.with_suffix(".part")
    partial.write_bytes(body)
    partial.replace(path)
    ctx.progress(2, 2, "Ready")
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
