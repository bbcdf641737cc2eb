"""Read-only JSON API (`/api/v1/...`) for funders and administrators, signed in with the session
cookie. The same data and privacy rules as the portfolio page (app.services.portfolio); documented
in docs/api.md and at /api/docs. A portfolio the caller may not see answers 404."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from app.db.models import Role, User
from app.portfolio.params import MAX_PAGE_SIZE, PortfolioFilters, SitePage
from app.portfolio.schemas import PortfolioRef, PortfolioSummary, SitesPage
from app.services.portfolio import list_portfolios, portfolio_view
from app.web.deps import SessionDep, SettingsDep, require_roles
from app.web.routes.portfolio import paged_view_for_request

router = APIRouter(prefix="/api/v1", tags=["portfolios"])
API_PAGE_SIZE = 100

FunderOrAdmin = Annotated[User, Depends(require_roles(Role.funder, Role.admin))]
FilterParam = Annotated[str | None, Query(max_length=100)]
SortParam = Annotated[str | None, Query(max_length=80, description="e.g. -score_purpose")]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in."},
    403: {"description": "Signed in, but not as a funder or administrator."},
}


@router.get("/portfolios", response_model=list[PortfolioRef], responses=ERRORS, summary="Your portfolios")
def api_portfolios(session: SessionDep, user: FunderOrAdmin) -> list[PortfolioRef]:
    """The portfolios the signed-in funder belongs to (administrators: all), by name."""
    return list_portfolios(session, user=user)


@router.get(
    "/portfolios/{portfolio_id}/sites",
    response_model=SitesPage,
    responses={**ERRORS, 404: {"description": "No such portfolio, or not yours."}},
    summary="Site-level results of a portfolio",
)
def api_portfolio_sites(
    settings: SettingsDep,
    session: SessionDep,
    user: FunderOrAdmin,
    portfolio_id: int,
    region: FilterParam = None,
    cohort: FilterParam = None,
    instrument: FilterParam = None,
    sort: SortParam = None,
    q: Annotated[str | None, Query(max_length=100, description="Part of a site name (any case).")] = None,
    page: Annotated[int | None, Query(ge=1, le=100_000, description="Page number, from 1.")] = None,
    per_page: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Sites per page.")] = API_PAGE_SIZE,
) -> SitesPage:
    """The sites, a page at a time (`page`, `per_page`; `total_sites` and `pages` say how many),
    each with its latest and baseline completed cycle, condition scores and change. Figures
    below the privacy threshold are null with a status saying why."""
    view = paged_view_for_request(
        settings, session, user, portfolio_id, region, cohort, instrument, sort, q, page, per_page
    )
    return view.sites_page


@router.get(
    "/portfolios/{portfolio_id}/summary",
    response_model=PortfolioSummary,
    responses={**ERRORS, 404: {"description": "No such portfolio, or not yours."}},
    summary="Distributions and level counts of a portfolio",
)
def api_portfolio_summary(
    settings: SettingsDep,
    session: SessionDep,
    user: FunderOrAdmin,
    portfolio_id: int,
    region: FilterParam = None,
    cohort: FilterParam = None,
    instrument: FilterParam = None,
) -> PortfolioSummary:
    """Counts of sites by status, instruments in use, the compared conditions, and per condition
    the distribution of site scores and the number of sites at each readiness level."""
    view = portfolio_view(
        session,
        user=user,
        portfolio_id=portfolio_id,
        privacy_threshold=settings.privacy_threshold,
        filters=PortfolioFilters.parse(region=region, cohort=cohort, instrument=instrument),
        page=SitePage(size=0),  # the summary covers every site; no site record is needed
    )
    return view.summary


docs_router = APIRouter()


@docs_router.get("/api/docs", include_in_schema=False)
def api_docs(request: Request):
    """Human-readable API reference drawn from the OpenAPI schema. Swagger UI is not used: it
    loads from a CDN and runs inline scripts, both of which our Content-Security-Policy refuses."""
    from app.web.templating import render

    schema = request.app.openapi()
    operations = []
    for path, methods in schema.get("paths", {}).items():
        for method, operation in methods.items():
            responses = operation.get("responses", {})
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "parameters": operation.get("parameters", []),
                    "responses": [(code, r.get("description", "")) for code, r in responses.items()],
                }
            )
    return render(request, "api_docs.html", operations=operations, info=schema.get("info", {}))
