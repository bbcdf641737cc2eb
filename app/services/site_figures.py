"""Stored portfolio figures per site (`SiteFigures`, `SiteConditionFigures`): what the portfolio's
privacy rules (app.portfolio.privacy, through `app.portfolio.view`) let a funder see of each site,
written when a cycle of the site is released, closed or reopened, and made again before it is
read whenever it no longer matches the site's releases or the privacy threshold in use.

The rows are made by the same code that decides every other portfolio figure (`view._shown` over
the released cycles, as `app.services.portfolio` gathers them), so they hold exactly what a fresh
computation shows; they let the portfolio page and the JSON API sort, page, count and summarize
thousands of sites with SQL instead of applying the rules to every site on every request.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, Subquery, and_, delete, func, insert, or_, text
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.db.models import (
    Assessment,
    DomainScore,
    InstrumentVersion,
    Organization,
    PortfolioSite,
    Release,
    SiteConditionFigures,
    SiteFigures,
)
from app.portfolio.params import PortfolioFilters
from app.portfolio.schemas import ConditionRef
from app.portfolio.view import CycleRow, SiteRow, StoredCondition, _shown
from app.services import instruments_store

ALL_INSTRUMENTS = ""  # the scope of the unfiltered portfolio
CHUNK = 500  # organizations per refresh statement (bounded IN lists)
ANALYZE_AFTER = 500  # sites made again at once after which PostgreSQL's statistics are renewed


def cycle_date(close_date: date | None, closed_at: datetime | None, created_at: datetime) -> date:
    """A cycle's date as the portfolio shows it: its close date, else the day it was closed."""
    if close_date is not None:
        return close_date
    return (closed_at or created_at).date()


def score_bin(score: float | None) -> int | None:
    """The 10-point bin (0-9) of a shown score; 100 is in the last bin."""
    if score is None or not 0 <= score <= 100:
        return None
    return min(int(score // 10), 9)


def _latest_release(assessment_ids: Sequence[int] | None = None, organizations: Any = None) -> Subquery:
    """The number of each cycle's latest release (of these cycles, or these organizations')."""
    statement = sa_select(col(Release.assessment_id), func.max(col(Release.number)).label("number"))
    if assessment_ids is not None:
        statement = statement.where(col(Release.assessment_id).in_(assessment_ids))
    if organizations is not None:
        cycles = sa_select(col(Assessment.id)).where(col(Assessment.organization_id).in_(organizations))
        statement = statement.where(col(Release.assessment_id).in_(cycles))
    return statement.group_by(col(Release.assessment_id)).subquery()


def released_cycles(session: Session, *, assessment_ids: Sequence[int]) -> dict[int, CycleRow]:
    """These cycles as their latest release shows them, with their released condition scores."""
    cycles: dict[int, CycleRow] = {}
    ids = sorted(set(assessment_ids))
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        latest = _latest_release(part)
        rows = session.execute(
            sa_select(
                col(Assessment.id),
                col(Assessment.organization_id),
                col(Assessment.name),
                col(Assessment.close_date),
                col(Assessment.closed_at),
                col(Assessment.created_at),
                col(Assessment.expected_respondents),
                col(Assessment.instrument_version_id),
                col(Release.n_respondents),
            )
            .join(latest, latest.c.assessment_id == col(Assessment.id))
            .join(
                Release,
                (col(Release.assessment_id) == col(Assessment.id)) & (col(Release.number) == latest.c.number),
            )
            .where(col(Assessment.id).in_(part))
        ).all()
        for aid, org, name, close_date, closed_at, created_at, expected, version_id, n in rows:
            cycles[aid] = CycleRow(
                assessment_id=aid,
                organization_id=org,
                name=name,
                when=cycle_date(close_date, closed_at, created_at),
                version_id=version_id,
                n_respondents=n,
                expected=expected,
            )
        scores = session.execute(
            sa_select(
                col(DomainScore.assessment_id),
                col(DomainScore.domain_id),
                col(DomainScore.score),
                col(DomainScore.level_id),
                col(DomainScore.n),
            ).where(col(DomainScore.assessment_id).in_(part))
        ).all()
        for aid, domain_id, score, level_id, n in scores:
            if aid in cycles:
                cycles[aid].domains[domain_id] = (score, level_id, n or 0)
    return cycles


@dataclass
class _Candidate:
    assessment_id: int
    organization_id: int
    instrument_id: str
    order: tuple[datetime, int]


def _choose(candidates: Iterable[_Candidate]) -> dict[tuple[int, str], tuple[int, int | None]]:
    """(organization, scope) -> (latest, baseline) assessment ids: the newest and the oldest
    completed cycle (by creation time, then id), the baseline only when it is another cycle."""
    groups: dict[tuple[int, str], list[_Candidate]] = {}
    for c in candidates:
        groups.setdefault((c.organization_id, ALL_INSTRUMENTS), []).append(c)
        groups.setdefault((c.organization_id, c.instrument_id), []).append(c)
    chosen = {}
    for key, cycles in groups.items():
        newest = max(cycles, key=lambda c: c.order)
        oldest = min(cycles, key=lambda c: c.order)
        chosen[key] = (newest.assessment_id, None if oldest is newest else oldest.assessment_id)
    return chosen


def refresh(session: Session, *, organization_ids: Iterable[int], privacy_threshold: int) -> None:
    """Make the stored figures of these sites again from their latest releases (every scope)."""
    ids = sorted(set(organization_ids))
    for start in range(0, len(ids), CHUNK):
        _refresh_part(session, ids[start : start + CHUNK], privacy_threshold)


def _refresh_part(session: Session, organization_ids: list[int], threshold: int) -> None:
    stamps = {
        org: (last, n)
        for org, last, n in session.execute(
            sa_select(col(Assessment.organization_id), func.max(col(Release.id)), func.count(col(Release.id)))
            .join(Assessment, col(Assessment.id) == col(Release.assessment_id))
            .where(col(Assessment.organization_id).in_(organization_ids))
            .group_by(col(Assessment.organization_id))
        ).all()
    }
    latest = _latest_release(organizations=organization_ids)
    candidates = [
        _Candidate(aid, org, instrument_id, (created_at, aid))
        for aid, org, instrument_id, created_at in session.execute(
            sa_select(
                col(Assessment.id),
                col(Assessment.organization_id),
                col(InstrumentVersion.instrument_id),
                col(Assessment.created_at),
            )
            .join(latest, latest.c.assessment_id == col(Assessment.id))
            .join(
                Release,
                (col(Release.assessment_id) == col(Assessment.id)) & (col(Release.number) == latest.c.number),
            )
            .join(InstrumentVersion, col(InstrumentVersion.id) == col(Assessment.instrument_version_id))
            .where(col(Assessment.organization_id).in_(organization_ids), col(Release.n_respondents) > 0)
        ).all()
    ]
    chosen = _choose(candidates)
    cycles = released_cycles(
        session, assessment_ids=[i for pair in chosen.values() for i in pair if i is not None]
    )
    instruments = instruments_store.instruments_of_versions(
        session, version_ids={c.version_id for c in cycles.values()}
    )
    site_rows: list[dict] = []
    condition_rows: list[dict] = []
    for (org, scope), (latest_id, baseline_id) in chosen.items():
        if org not in stamps:
            continue
        last, n_releases = stamps[org]
        cycle = cycles[latest_id]
        baseline = cycles[baseline_id] if baseline_id is not None else None
        conditions = [ConditionRef(id=d.id, title="") for d in instruments[cycle.version_id].domains]
        shown = _shown(SiteRow(org, "", None, None), cycle, baseline, conditions, instruments, threshold)
        site_rows.append(
            {
                "organization_id": org,
                "scope": scope,
                "last_release_id": last,
                "n_releases": n_releases,
                "threshold": threshold,
                "status": shown.status,
                "latest_assessment_id": latest_id,
                "baseline_assessment_id": baseline_id,
                "latest_version_id": cycle.version_id,
                "cycle_date": shown.when,
                "n_respondents": shown.n_respondents,
                "response_rate": shown.response_rate,
            }
        )
        for condition_id, (score, level_id, n, status) in shown.scores.items():
            base_score, change = shown.changes.get(condition_id, (None, None))
            condition_rows.append(
                {
                    "organization_id": org,
                    "scope": scope,
                    "condition_id": condition_id,
                    "status": status,
                    "score": score,
                    "level_id": level_id,
                    "n": n,
                    "score_bin": score_bin(score),
                    "has_change": condition_id in shown.changes,
                    "baseline_score": base_score,
                    "change": change,
                }
            )
    for org, (last, n_releases) in stamps.items():
        if (org, ALL_INSTRUMENTS) not in chosen:  # releases, but none with a respondent
            site_rows.append(
                {
                    "organization_id": org,
                    "scope": ALL_INSTRUMENTS,
                    "last_release_id": last,
                    "n_releases": n_releases,
                    "threshold": threshold,
                    "status": "no_completed_cycle",
                }
            )
    # A concurrent request may be making the same rows: the loser keeps the winner's (equal) rows.
    try:
        with session.begin_nested():
            session.execute(
                delete(SiteConditionFigures).where(
                    col(SiteConditionFigures.organization_id).in_(organization_ids)
                )
            )
            session.execute(delete(SiteFigures).where(col(SiteFigures.organization_id).in_(organization_ids)))
            if site_rows:
                session.execute(insert(SiteFigures), site_rows)
            if condition_rows:
                session.execute(insert(SiteConditionFigures), condition_rows)
    except IntegrityError:
        pass


def _stamps(portfolio_id: int | None) -> Subquery:
    """Per organization (of the portfolio; None: all): its newest release id and its releases."""
    statement: Select = (
        sa_select(
            col(Assessment.organization_id).label("organization_id"),
            func.max(col(Release.id)).label("last_release_id"),
            func.count(col(Release.id)).label("n_releases"),
        )
        .join(Assessment, col(Assessment.id) == col(Release.assessment_id))
        .group_by(col(Assessment.organization_id))
    )
    if portfolio_id is not None:
        members = sa_select(col(PortfolioSite.organization_id)).where(
            col(PortfolioSite.portfolio_id) == portfolio_id
        )
        statement = statement.where(col(Assessment.organization_id).in_(members))
    return statement.subquery()


def stale_sites(session: Session, *, portfolio_id: int | None, privacy_threshold: int) -> list[int]:
    """The sites (of the portfolio; None: every organization) whose stored figures are missing
    or no longer match their releases or the privacy threshold (one query)."""
    stamps = _stamps(portfolio_id)
    figures = SiteFigures.__table__  # type: ignore[attr-defined]
    sites = (
        sa_select(col(PortfolioSite.organization_id).label("organization_id"))
        .where(col(PortfolioSite.portfolio_id) == portfolio_id)
        .subquery()
        if portfolio_id is not None
        else sa_select(col(Organization.id).label("organization_id")).subquery()
    )
    rows = session.execute(
        sa_select(sites.c.organization_id)
        .outerjoin(stamps, stamps.c.organization_id == sites.c.organization_id)
        .outerjoin(
            figures,
            and_(
                figures.c.organization_id == sites.c.organization_id,
                figures.c.scope == ALL_INSTRUMENTS,
            ),
        )
        .where(
            or_(
                and_(stamps.c.last_release_id.is_(None), figures.c.organization_id.is_not(None)),
                and_(
                    stamps.c.last_release_id.is_not(None),
                    or_(
                        figures.c.organization_id.is_(None),
                        figures.c.last_release_id != stamps.c.last_release_id,
                        figures.c.n_releases != stamps.c.n_releases,
                        figures.c.threshold != privacy_threshold,
                    ),
                ),
            ),
        )
    ).all()
    return sorted({org for (org,) in rows})


def _all_fresh(session: Session, *, portfolio_id: int, privacy_threshold: int) -> bool:
    """Whether every site of the portfolio certainly has fresh figures, from portfolio-wide
    totals (one cheap statement): its releases' number and newest id equal the sum and the
    newest of its sites' stamps, every site with a release has figures, all made with this
    threshold. False means: look site by site (`stale_sites`)."""
    members = sa_select(col(PortfolioSite.organization_id)).where(
        col(PortfolioSite.portfolio_id) == portfolio_id
    )
    figures = SiteFigures.__table__  # type: ignore[attr-defined]
    released = (
        sa_select(
            func.count(col(Release.id)),
            func.max(col(Release.id)),
            func.count(func.distinct(col(Assessment.organization_id))),
        )
        .join(Assessment, col(Assessment.id) == col(Release.assessment_id))
        .where(col(Assessment.organization_id).in_(members))
    )
    stored = sa_select(
        func.coalesce(func.sum(figures.c.n_releases), 0),
        func.max(figures.c.last_release_id),
        func.count(),
        func.min(figures.c.threshold),
        func.max(figures.c.threshold),
    ).where(figures.c.scope == ALL_INSTRUMENTS, figures.c.organization_id.in_(members))
    n_released, newest, n_orgs = session.execute(released).one()
    n_stored, newest_stored, n_rows, low, high = session.execute(stored).one()
    if n_rows and not low == high == privacy_threshold:
        return False
    return (n_released, newest, n_orgs) == (n_stored, newest_stored, n_rows)


def ensure_fresh(session: Session, *, portfolio_id: int | None, privacy_threshold: int) -> int:
    """Make again the stored figures of the sites (of the portfolio; None: every organization)
    that need it, usually none. Returns how many sites were made again."""
    if portfolio_id is not None and _all_fresh(
        session, portfolio_id=portfolio_id, privacy_threshold=privacy_threshold
    ):
        return 0
    stale = stale_sites(session, portfolio_id=portfolio_id, privacy_threshold=privacy_threshold)
    if stale:
        refresh(session, organization_ids=stale, privacy_threshold=privacy_threshold)
        session.flush()
        if len(stale) >= ANALYZE_AFTER and session.get_bind().dialect.name == "postgresql":
            # Right after a bulk write (the first read after an upgrade or an import of many
            # sites) PostgreSQL plans with the empty tables' statistics until autovacuum comes
            # round: a nested loop that made sorting 5,000 sites by a score take 1 s, not 10 ms.
            session.execute(text("ANALYZE sitefigures, siteconditionfigures"))
    return len(stale)


# --- reading: the portfolio's sites and the summary aggregates -------------------------------


def _region() -> Any:
    return func.coalesce(col(PortfolioSite.region), col(Organization.region))


def _cohort() -> Any:
    return func.coalesce(col(PortfolioSite.cohort), col(Organization.cohort))


def _filtered(statement: Select, *, portfolio_id: int, filters: PortfolioFilters) -> Select:
    """`statement` (over PortfolioSite) restricted to the portfolio's sites that pass the region
    and cohort filters."""
    statement = statement.where(col(PortfolioSite.portfolio_id) == portfolio_id)
    if filters.region is not None or filters.cohort is not None:
        statement = statement.join(Organization, col(Organization.id) == col(PortfolioSite.organization_id))
        if filters.region is not None:
            statement = statement.where(_region() == filters.region)
        if filters.cohort is not None:
            statement = statement.where(_cohort() == filters.cohort)
    return statement


@dataclass(slots=True)
class StoredSite:
    """One site of the portfolio with its stored figures (a sort value when sorting by a
    condition's score or change)."""

    site: SiteRow
    status: str
    version_id: int | None
    when: date | None
    n_respondents: int | None
    response_rate: float | None
    latest_id: int | None
    baseline_id: int | None
    sort_value: float | None = None


def sites(
    session: Session, *, portfolio_id: int, filters: PortfolioFilters, sort_condition: tuple[str, str] | None
) -> list[StoredSite]:
    """The portfolio's sites that pass the region and cohort filters, with their stored figures
    for the scope of the instrument filter. `sort_condition` ("score" or "change", condition id)
    adds that value of each site."""
    scope = filters.instrument or ALL_INSTRUMENTS
    figures = SiteFigures.__table__  # type: ignore[attr-defined]
    columns: list = [
        col(Organization.id),
        col(Organization.name),
        _region(),
        _cohort(),
        figures.c.status,
        figures.c.latest_version_id,
        figures.c.cycle_date,
        figures.c.n_respondents,
        figures.c.response_rate,
        figures.c.latest_assessment_id,
        figures.c.baseline_assessment_id,
    ]
    conditions = SiteConditionFigures.__table__  # type: ignore[attr-defined]
    if sort_condition is not None:
        kind, condition_id = sort_condition
        columns.append(conditions.c.score if kind == "score" else conditions.c.change)
    statement = (
        sa_select(*columns)
        .select_from(PortfolioSite)
        .join(Organization, col(Organization.id) == col(PortfolioSite.organization_id))
        .outerjoin(
            figures,
            and_(figures.c.organization_id == col(Organization.id), figures.c.scope == scope),
        )
        .where(col(PortfolioSite.portfolio_id) == portfolio_id)
    )
    if sort_condition is not None:
        statement = statement.outerjoin(
            conditions,
            and_(
                conditions.c.organization_id == col(Organization.id),
                conditions.c.scope == scope,
                conditions.c.condition_id == sort_condition[1],
            ),
        )
    if filters.region is not None:
        statement = statement.where(_region() == filters.region)
    if filters.cohort is not None:
        statement = statement.where(_cohort() == filters.cohort)
    sorted_by = sort_condition is not None
    result = []
    # Core rows on the session's connection (no ORM result layer): this loop runs once per site.
    for row in session.connection().execute(statement).all():
        org, name, region, cohort, status, version_id, when, n, rate, latest_id, baseline_id = row[:11]
        result.append(
            StoredSite(
                SiteRow(org, name, region, cohort),
                status or "no_completed_cycle",
                version_id if status and status != "no_completed_cycle" else None,
                when,
                n,
                rate,
                latest_id,
                baseline_id,
                row[11] if sorted_by else None,
            )
        )
    return result


def condition_figures(
    session: Session, *, portfolio_id: int, filters: PortfolioFilters, condition_ids: Sequence[str]
) -> dict[str, StoredCondition]:
    """The summary's figures of these conditions over the shown scores of the sites that pass
    the filters, by SQL aggregates (a few statements whatever the number of sites)."""
    if not condition_ids:
        return {}
    scope = filters.instrument or ALL_INSTRUMENTS
    c = SiteConditionFigures.__table__  # type: ignore[attr-defined]

    def over(*columns: Any) -> Select:
        statement = (
            sa_select(*columns)
            .select_from(PortfolioSite)
            .join(c, c.c.organization_id == col(PortfolioSite.organization_id))
        )
        statement = _filtered(statement, portfolio_id=portfolio_id, filters=filters)
        return statement.where(
            c.c.scope == scope, c.c.condition_id.in_(list(condition_ids)), c.c.score.is_not(None)
        )

    result = {cid: StoredCondition() for cid in condition_ids}
    bins: dict[str, Counter[int]] = {cid: Counter() for cid in condition_ids}
    levels: dict[str, Counter[str]] = {cid: Counter() for cid in condition_ids}
    for cid, n, low, high in session.execute(
        over(c.c.condition_id, func.count(), func.min(c.c.score), func.max(c.c.score)).group_by(
            c.c.condition_id
        )
    ).all():
        result[cid].n, result[cid].minimum, result[cid].maximum = n, low, high
    for cid, bin_, n in session.execute(
        over(c.c.condition_id, c.c.score_bin, func.count())
        .where(c.c.score_bin.is_not(None))
        .group_by(c.c.condition_id, c.c.score_bin)
    ).all():
        bins[cid][bin_] = n
    for cid, level_id, n in session.execute(
        over(c.c.condition_id, c.c.level_id, func.count())
        .where(c.c.level_id.is_not(None), c.c.level_id != "")
        .group_by(c.c.condition_id, c.c.level_id)
    ).all():
        levels[cid][level_id] = n
    for cid, figures in result.items():
        figures.bins, figures.levels = bins[cid], levels[cid]
        if figures.n:
            middle = (
                over(c.c.score)
                .where(c.c.condition_id == cid)
                .order_by(c.c.score)
                .offset((figures.n - 1) // 2)
                .limit(1 if figures.n % 2 else 2)
            )
            figures.middle = [score for (score,) in session.execute(middle).all()]
    return result


def filter_values(session: Session, *, portfolio_id: int) -> tuple[list[str], list[str], int]:
    """The portfolio's regions and cohorts (sorted) and its number of sites."""
    rows = session.execute(
        sa_select(_region(), _cohort(), func.count())
        .select_from(PortfolioSite)
        .join(Organization, col(Organization.id) == col(PortfolioSite.organization_id))
        .where(col(PortfolioSite.portfolio_id) == portfolio_id)
        .group_by(_region(), _cohort())
    ).all()
    return (
        sorted({r for r, _, _ in rows if r}),
        sorted({c for _, c, _ in rows if c}),
        sum(n for _, _, n in rows),
    )
