"""Funder portfolio pages and downloads. Aggregates only: everything comes from
`app.services.portfolio.portfolio_view`, which applies the privacy rules once for all outputs.
The view is built in the page's language (condition titles, level names, notes), and the PDF job
is started in it, so the PDF is in the language of the person who asked for it."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, StreamingResponse

from app import i18n
from app.db.models import JobStatus, Role
from app.portfolio import exports
from app.portfolio.params import DEFAULT_PAGE_SIZE, FIXED_SORT_KEYS, PortfolioFilters, SitePage, SortOrder
from app.portfolio.view import PortfolioView
from app.services import audit, jobs
from app.services.portfolio import list_portfolios, portfolio_view
from app.web.deps import CurrentUser, SessionDep, SettingsDep, require_roles
from app.web.templating import page_locale, render

router = APIRouter()

FilterParam = Annotated[str | None, Query(max_length=100)]
SortParam = Annotated[str | None, Query(max_length=80)]
_funder_or_admin = require_roles(Role.funder, Role.admin)
_PORTFOLIOS = i18n.lazy_gettext("Portfolios")


def portfolio_view_for_request(
    settings: SettingsDep,
    session: SessionDep,
    user: CurrentUser,
    portfolio_id: int,
    region: FilterParam = None,
    cohort: FilterParam = None,
    instrument: FilterParam = None,
    sort: SortParam = None,
) -> PortfolioView:
    """The privacy-checked view every portfolio download starts from. Its words (condition
    titles, level names) are English: the CSV and XLSX files are data, like their column names."""
    _funder_or_admin(user)
    return portfolio_view(
        session,
        user=user,
        portfolio_id=portfolio_id,
        privacy_threshold=settings.privacy_threshold,
        filters=PortfolioFilters.parse(region=region, cohort=cohort, instrument=instrument),
        sort=SortOrder.parse(sort),
    )


ViewDep = Annotated[PortfolioView, Depends(portfolio_view_for_request)]
SearchParam = Annotated[str | None, Query(max_length=100)]
PageParam = Annotated[int | None, Query(ge=1, le=100_000)]


def paged_view_for_request(
    settings: SettingsDep,
    session: SessionDep,
    user: CurrentUser,
    portfolio_id: int,
    region: FilterParam = None,
    cohort: FilterParam = None,
    instrument: FilterParam = None,
    sort: SortParam = None,
    q: SearchParam = None,
    page: PageParam = None,
    per_page: int = DEFAULT_PAGE_SIZE,
) -> PortfolioView:
    """The same view with one page of the site table built (and searched by name): the JSON
    API (English). Downloads use the whole table (`portfolio_view_for_request`)."""
    _funder_or_admin(user)
    return portfolio_view(
        session,
        user=user,
        portfolio_id=portfolio_id,
        privacy_threshold=settings.privacy_threshold,
        filters=PortfolioFilters.parse(region=region, cohort=cohort, instrument=instrument),
        sort=SortOrder.parse(sort),
        page=SitePage.parse(q=q, page=page, per_page=per_page),
    )


def page_view_for_request(
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    user: CurrentUser,
    portfolio_id: int,
    region: FilterParam = None,
    cohort: FilterParam = None,
    instrument: FilterParam = None,
    sort: SortParam = None,
    q: SearchParam = None,
    page: PageParam = None,
    per_page: int = DEFAULT_PAGE_SIZE,
) -> PortfolioView:
    """The portfolio page's view: one page of the site table, its words (condition titles, level
    names, the comparability note) in the page's language."""
    with i18n.use_locale(page_locale(request)):
        return paged_view_for_request(
            settings, session, user, portfolio_id, region, cohort, instrument, sort, q, page, per_page
        )


PagedViewDep = Annotated[PortfolioView, Depends(page_view_for_request)]


def _link(
    portfolio_id: int,
    view: PortfolioView,
    *,
    suffix: str = "",
    sort: str | None = None,
    q: str | None = None,
    page: int | None = None,
    layout: str | None = None,
) -> str:
    params = dict(view.filters.query())
    if sort is not None:
        params["sort"] = sort
    if q:
        params["q"] = q
    if page is not None and page > 1:
        params["page"] = str(page)
    if layout == "full":
        params["layout"] = layout
    query = urlencode(params)
    return f"/portfolio/{portfolio_id}{suffix}" + (f"?{query}" if query else "")


@router.get("/portfolio", include_in_schema=False)
def portfolio_index(request: Request, session: SessionDep, user: CurrentUser):
    _funder_or_admin(user)
    portfolios = list_portfolios(session, user=user)
    if len(portfolios) == 1:
        return RedirectResponse(f"/portfolio/{portfolios[0].id}", status_code=303)
    return render(request, "portfolio/index.html", portfolios=portfolios, breadcrumbs=[(_PORTFOLIOS, None)])


@router.get("/portfolio/{portfolio_id}", include_in_schema=False)
def portfolio_page(
    request: Request,
    view: PagedViewDep,
    portfolio_id: int,
    layout: Annotated[Literal["compact", "full"] | None, Query()] = None,
):
    """The portfolio page. The site table is compact by default (each condition's score, level and
    change in one cell: it fits a 1,280 px screen); `layout=full` gives separate score and change
    columns (wider, scrolls sideways)."""

    def header(key: str) -> dict:
        # A new order starts at the first page; the search and the layout are kept.
        href = _link(portfolio_id, view, sort=view.sort.param_for(key), q=view.page.q, layout=layout)
        return {"href": href, "aria": view.sort.aria_for(key)}

    def page_link(number: int) -> str:
        return _link(portfolio_id, view, sort=view.sort.param, q=view.page.q, page=number, layout=layout)

    def layout_link(choice: str | None) -> str:
        number = view.page.number
        return _link(portfolio_id, view, sort=view.sort.param, q=view.page.q, page=number, layout=choice)

    return render(
        request,
        "portfolio/portfolio.html",
        view=view,
        summary=view.summary,
        fixed_columns=FIXED_SORT_KEYS,
        header=header,
        page_link=page_link,
        layout=layout,
        layout_link=layout_link,
        without_search=_link(portfolio_id, view, sort=view.sort.param, layout=layout),
        export_link=lambda suffix: _link(portfolio_id, view, suffix=suffix, sort=view.sort.param),
        breadcrumbs=[(_PORTFOLIOS, "/portfolio"), (view.summary.portfolio.name, None)],
    )


@router.get("/portfolio/{portfolio_id}/exports", include_in_schema=False)
def portfolio_exports_page(request: Request, view: ViewDep, portfolio_id: int):
    return render(
        request,
        "portfolio/exports.html",
        view=view,
        summary=view.summary,
        columns=exports.COLUMNS,  # the meanings are translated where shown
        export_link=lambda suffix: _link(portfolio_id, view, suffix=suffix, sort=view.sort.param),
        breadcrumbs=[
            (_PORTFOLIOS, "/portfolio"),
            (view.summary.portfolio.name, _link(portfolio_id, view, sort=view.sort.param)),
            (i18n.lazy_gettext("Downloads"), None),
        ],
    )


def _audit_download(session, user, view: PortfolioView, kind: str) -> dict[str, str]:
    """Record the export and return the download headers."""
    name = exports.file_stem(view) + "." + kind
    audit.record(
        session,
        actor=user,
        action=f"portfolio.export_{kind}",
        target=f"portfolio:{view.summary.portfolio.id}",
        detail={"filters": view.filters.query(), "sites": view.summary.n_sites},
    )
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}


@router.get("/portfolio/{portfolio_id}/export.csv", include_in_schema=False)
def portfolio_csv(session: SessionDep, user: CurrentUser, view: ViewDep):
    # Streamed: rows leave as they are written (the view is already built and privacy-checked).
    headers = _audit_download(session, user, view, "csv")
    chunks = (chunk.encode("utf-8") for chunk in exports.iter_csv(view))
    return StreamingResponse(chunks, media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/portfolio/{portfolio_id}/export.xlsx", include_in_schema=False)
def portfolio_xlsx(session: SessionDep, user: CurrentUser, view: ViewDep):
    # Streamed from openpyxl's write-only workbook (app.portfolio.exports.iter_xlsx).
    headers = _audit_download(session, user, view, "xlsx")
    return StreamingResponse(exports.iter_xlsx(view), media_type=exports.XLSX_MEDIA_TYPE, headers=headers)


@router.get("/portfolio/{portfolio_id}/report.pdf", include_in_schema=False)
def portfolio_pdf(
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    user: CurrentUser,
    portfolio_id: int,
    region: FilterParam = None,
    cohort: FilterParam = None,
    instrument: FilterParam = None,
    sort: SortParam = None,
):
    """The portfolio PDF is printed by a background job (minutes for thousands of sites): this
    starts it, or joins the same one already running, and shows its page (progress, cancel, the
    download when done). The download is audited as the PDF export. The PDF is in the page's
    language (`?lang=`, else the account's, else the browser's): another language is another job."""
    _funder_or_admin(user)
    params = {"portfolio_id": portfolio_id, "region": region, "cohort": cohort, "instrument": instrument}
    params |= {"sort": sort, "lang": page_locale(request)}
    job = jobs.start(session, "portfolio_pdf", params=params, user=user, settings=settings)
    if job.status == JobStatus.done:  # the immediate queue ran it already
        return RedirectResponse(f"/jobs/{job.id}/download", status_code=303)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)
