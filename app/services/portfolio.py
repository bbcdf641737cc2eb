"""Portfolio queries: what a funder's portfolio page, its exports and the JSON API are built from.

Everything here reads RELEASED site-level scores (the latest `Release` of each cycle and the
`DomainScore` rows written with it by `app.services.releases`), never live scores, responses,
answers or comments, and never the group or item parts of a stored scorecard. The downloads
(every site) are three set-based queries whatever the number of sites (sites; released cycles
with their condition scores, ranked by a window function; instrument versions in use), plus the
instruments from the catalog's cache. A page of the site table and the summary alone read each
site's stored figures instead (`app.services.site_figures`: the same rules' results, kept per
site) and build in full only the sites on the page. The view itself (comparability, statistics, sorting) is
`app.portfolio.view`; the privacy rules are `app.portfolio.privacy`.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.db.models import (
    Assessment,
    AssessmentStatus,
    DomainScore,
    InstrumentVersion,
    Organization,
    Portfolio,
    PortfolioSite,
    Release,
    Role,
    User,
)
from app.errors import Forbidden
from app.instruments.models import Instrument
from app.portfolio.params import PortfolioFilters, SitePage, SortOrder
from app.portfolio.schemas import ConditionRef, PortfolioRef
from app.portfolio.view import (
    CycleRow,
    FilterOptions,
    PortfolioView,
    SiteRow,
    StoredCondition,
    build_portfolio_view,
    build_stored_view,
)
from app.services import access, instruments_store, releases, site_figures


def list_portfolios(session: Session, *, user: User) -> list[PortfolioRef]:
    """The portfolios `user` may open (funder: their memberships; admin: all), by name."""
    if user.role not in (Role.admin, Role.funder):
        raise Forbidden("Only funders and administrators see portfolios.")
    allowed = access.portfolio_ids_for(session, user=user)
    counts = (
        select(col(PortfolioSite.portfolio_id), func.count(col(PortfolioSite.id)).label("n"))
        .group_by(col(PortfolioSite.portfolio_id))
        .subquery()
    )
    stmt = (
        select(
            col(Portfolio.id), col(Portfolio.name), col(Portfolio.description), func.coalesce(counts.c.n, 0)
        )
        .outerjoin(counts, counts.c.portfolio_id == col(Portfolio.id))
        .order_by(col(Portfolio.name))
    )
    if allowed is not None:
        if not allowed:
            return []
        stmt = stmt.where(col(Portfolio.id).in_(sorted(allowed)))
    return [
        PortfolioRef(id=pid, name=name, description=description, n_sites=n)
        for pid, name, description, n in session.exec(stmt).all()
    ]


def portfolio_view(
    session: Session,
    *,
    user: User,
    portfolio_id: int,
    privacy_threshold: int,
    filters: PortfolioFilters | None = None,
    sort: SortOrder | None = None,
    page: SitePage | None = None,
) -> PortfolioView:
    """Everything the portfolio page, its exports and the JSON API show, privacy rules applied.
    `page` picks the part of the site table built in full (default: every site, for exports).

    Raises NotFound for a portfolio the user may not see and BadInput for an unknown sort key.
    """
    portfolio = access.get_portfolio(session, user=user, portfolio_id=portfolio_id)
    filters = filters or PortfolioFilters()
    if page is not None and page.size is not None:
        return _stored_view(
            session,
            portfolio=portfolio,
            privacy_threshold=privacy_threshold,
            filters=filters,
            sort=sort or SortOrder(),
            page=page,
        )
    sites = _sites(session, portfolio_id=portfolio_id)
    releases.release_missing(
        session, organization_ids=[s.organization_id for s in sites], privacy_threshold=privacy_threshold
    )
    baseline, latest = _baseline_and_latest(
        session, portfolio_id=portfolio_id, instrument_id=filters.instrument
    )
    version_ids = {c.version_id for c in (*latest.values(), *baseline.values())}
    return build_portfolio_view(
        portfolio=PortfolioRef(
            id=portfolio.id, name=portfolio.name, description=portfolio.description, n_sites=len(sites)
        ),
        sites=sites,
        options=_filter_options(session, portfolio_id=portfolio_id, sites=sites),
        baseline=baseline,
        latest=latest,
        instruments=instruments_store.instruments_of_versions(session, version_ids=version_ids),
        filters=filters,
        sort=sort or SortOrder(),
        privacy_threshold=privacy_threshold,
        page=page,
    )


def _stored_view(
    session: Session,
    *,
    portfolio: Portfolio,
    privacy_threshold: int,
    filters: PortfolioFilters,
    sort: SortOrder,
    page: SitePage,
) -> PortfolioView:
    """A page of the portfolio (or its summary alone) from the stored per-site figures
    (app.services.site_figures), made again first for any site whose releases changed: the
    same view `build_portfolio_view` makes from every site's cycles, in a few set-based queries
    whose work in Python is one small tuple per site."""
    releases.release_missing_in_portfolio(
        session, portfolio_id=portfolio.id, privacy_threshold=privacy_threshold
    )
    site_figures.ensure_fresh(session, portfolio_id=portfolio.id, privacy_threshold=privacy_threshold)
    sort_condition = None
    if sort.key.startswith(("score_", "change_")):
        kind, _, condition_id = sort.key.partition("_")
        sort_condition = (kind, condition_id)
    stored = site_figures.sites(
        session, portfolio_id=portfolio.id, filters=filters, sort_condition=sort_condition
    )
    regions, cohorts, n_sites = site_figures.filter_values(session, portfolio_id=portfolio.id)
    instruments = instruments_store.instruments_of_versions(
        session, version_ids={s.version_id for s in stored if s.version_id is not None}
    )

    def condition_figures(conditions: list[ConditionRef]) -> dict[str, StoredCondition]:
        return site_figures.condition_figures(
            session, portfolio_id=portfolio.id, filters=filters, condition_ids=[c.id for c in conditions]
        )

    def page_cycles(assessment_ids: list[int]) -> tuple[dict[int, CycleRow], dict[int, Instrument]]:
        cycles = site_figures.released_cycles(session, assessment_ids=assessment_ids)
        versions = {c.version_id for c in cycles.values()} - set(instruments)
        return cycles, instruments_store.instruments_of_versions(session, version_ids=versions)

    return build_stored_view(
        portfolio=PortfolioRef(
            id=portfolio.id, name=portfolio.name, description=portfolio.description, n_sites=n_sites
        ),
        stored=stored,
        options=FilterOptions(
            regions=regions,
            cohorts=cohorts,
            instruments=_instrument_options(session, portfolio_id=portfolio.id),
        ),
        instruments=instruments,
        condition_figures=condition_figures,
        page_cycles=page_cycles,
        filters=filters,
        sort=sort,
        privacy_threshold=privacy_threshold,
        page=page,
    )


def _sites(session: Session, *, portfolio_id: int) -> list[SiteRow]:
    stmt = (
        select(
            col(Organization.id),
            col(Organization.name),
            func.coalesce(col(PortfolioSite.region), col(Organization.region)),
            func.coalesce(col(PortfolioSite.cohort), col(Organization.cohort)),
        )
        .join(PortfolioSite, col(PortfolioSite.organization_id) == col(Organization.id))
        .where(col(PortfolioSite.portfolio_id) == portfolio_id)
    )
    return [SiteRow(*row) for row in session.exec(stmt).all()]


def _cycle_date(close_date: date | None, closed_at: datetime | None, created_at: datetime) -> date:
    if close_date is not None:
        return close_date
    return (closed_at or created_at).date()


def _baseline_and_latest(
    session: Session, *, portfolio_id: int, instrument_id: str | None
) -> tuple[dict[int, CycleRow], dict[int, CycleRow]]:
    """Each site's oldest and newest completed cycle with its stored condition scores (two queries).

    Returns (baseline by organization, latest by organization); a site with one completed cycle
    has it as latest only.
    """
    latest_release = (
        select(col(Release.assessment_id), func.max(col(Release.number)).label("number"))
        .group_by(col(Release.assessment_id))
        .subquery()
    )
    order_new = (col(Assessment.created_at).desc(), col(Assessment.id).desc())
    order_old = (col(Assessment.created_at).asc(), col(Assessment.id).asc())
    ranked = (
        sa_select(
            col(Assessment.id).label("assessment_id"),
            col(Assessment.organization_id).label("organization_id"),
            col(Assessment.name).label("name"),
            col(Assessment.close_date).label("close_date"),
            col(Assessment.closed_at).label("closed_at"),
            col(Assessment.created_at).label("created_at"),
            col(Assessment.expected_respondents).label("expected"),
            col(Assessment.instrument_version_id).label("version_id"),
            col(Release.n_respondents).label("n_respondents"),
            func.row_number()
            .over(partition_by=col(Assessment.organization_id), order_by=order_new)
            .label("newest"),
            func.row_number()
            .over(partition_by=col(Assessment.organization_id), order_by=order_old)
            .label("oldest"),
        )
        # The latest RELEASE of each cycle, whatever the cycle's status now: a cycle reopened
        # after close keeps showing what it released (docs/privacy.md, "Releases").
        .join(latest_release, latest_release.c.assessment_id == col(Assessment.id))
        .join(
            Release,
            (col(Release.assessment_id) == col(Assessment.id))
            & (col(Release.number) == latest_release.c.number),
        )
        .join(PortfolioSite, col(PortfolioSite.organization_id) == col(Assessment.organization_id))
        .where(
            col(PortfolioSite.portfolio_id) == portfolio_id,
            col(Release.n_respondents) > 0,
        )
    )
    if instrument_id is not None:
        ranked = ranked.join(
            InstrumentVersion, col(InstrumentVersion.id) == col(Assessment.instrument_version_id)
        ).where(col(InstrumentVersion.instrument_id) == instrument_id)
    ranked_sq = ranked.subquery()
    chosen = sa_select(ranked_sq).where(or_(ranked_sq.c.newest == 1, ranked_sq.c.oldest == 1)).subquery()
    cycles: dict[int, CycleRow] = {}
    baseline: dict[int, CycleRow] = {}
    latest: dict[int, CycleRow] = {}
    # Positional rows (not mappings): this loop runs once per cycle of every site.
    for (
        assessment_id,
        organization_id,
        name,
        close_date,
        closed_at,
        created_at,
        expected,
        version_id,
        n_respondents,
        newest,
        _oldest,
    ) in session.execute(sa_select(*chosen.c)).all():
        cycle = cycles[assessment_id] = CycleRow(
            assessment_id=assessment_id,
            organization_id=organization_id,
            name=name,
            when=_cycle_date(close_date, closed_at, created_at),
            version_id=version_id,
            n_respondents=n_respondents,
            expected=expected,
        )
        if newest == 1:
            latest[organization_id] = cycle
        else:
            baseline[organization_id] = cycle
    # The condition scores of the same cycles: a second query on the same ranked set, so the
    # (wider) cycle columns are not repeated once per condition.
    scores = sa_select(
        col(DomainScore.assessment_id),
        col(DomainScore.domain_id),
        col(DomainScore.score),
        col(DomainScore.level_id),
        col(DomainScore.n),
    ).join(chosen, chosen.c.assessment_id == col(DomainScore.assessment_id))
    for assessment_id, domain_id, score, level_id, n in session.execute(scores).all():
        cycles[assessment_id].domains[domain_id] = (score, level_id, n or 0)
    return baseline, latest


def _filter_options(session: Session, *, portfolio_id: int, sites: list[SiteRow]) -> FilterOptions:
    return FilterOptions(
        regions=sorted({s.region for s in sites if s.region}),
        cohorts=sorted({s.cohort for s in sites if s.cohort}),
        instruments=_instrument_options(session, portfolio_id=portfolio_id),
    )


def _instrument_options(session: Session, *, portfolio_id: int) -> list[tuple[str, str]]:
    """(instrument id, title) of the instruments of the portfolio's closed cycles."""
    instruments = session.exec(
        select(col(InstrumentVersion.instrument_id), func.min(col(InstrumentVersion.title)))
        .join(Assessment, col(Assessment.instrument_version_id) == col(InstrumentVersion.id))
        .join(PortfolioSite, col(PortfolioSite.organization_id) == col(Assessment.organization_id))
        .where(
            col(PortfolioSite.portfolio_id) == portfolio_id, col(Assessment.status) == AssessmentStatus.closed
        )
        .group_by(col(InstrumentVersion.instrument_id))
        .order_by(col(InstrumentVersion.instrument_id))
    ).all()
    return [(i, t) for i, t in instruments]
