"""The portfolio PDF printed where it is asked for (`peerready portfolio pdf` without --job): the
same checks, view and printing as the `portfolio_pdf` job (app/jobs/kinds/portfolio.py), and the
same audit entry as its download."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from app.config import Settings
from app.errors import NotFound
from app.jobs.kinds.portfolio import prepare_portfolio_pdf, view_inputs
from app.portfolio import exports
from app.portfolio.pdf import render_portfolio_pdf
from app.services import accounts, audit
from app.services.portfolio import portfolio_view


def print_as(
    session: Session, *, params: dict[str, Any], email: str, settings: Settings
) -> tuple[bytes, str]:
    """(the PDF, its file name) of the portfolio in `params` as the account `email` sees it."""
    user = accounts.find_user_by_email(session, email=email)
    if user is None or not user.is_active:
        raise NotFound(f"No active account with the email {email!r}.")
    prepared = prepare_portfolio_pdf(session, params, user, settings)
    filters, sort = view_inputs(prepared.params)
    view = portfolio_view(
        session,
        user=user,
        portfolio_id=int(prepared.params["portfolio_id"]),
        privacy_threshold=settings.privacy_threshold,
        filters=filters,
        sort=sort,
    )
    body = render_portfolio_pdf(view)
    audit.record(
        session,
        actor=user,
        action="portfolio.export_pdf",
        target=f"portfolio:{view.summary.portfolio.id}",
        detail={"filters": filters.query(), "sites": view.summary.n_sites, "via": "command line"},
    )
    return body, exports.file_stem(view) + ".pdf"
