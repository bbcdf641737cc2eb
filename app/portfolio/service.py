"""Portfolio queries and the funder privacy rules.

Everything here reads the STORED site-level scores (`AssessmentScore` counts and `DomainScore`
rows written by `app.services.scores.refresh_scores`), never responses, answers or comments, and
never the group or item parts of a stored scorecard. A page view is three set-based queries
whatever the number of sites (sites; closed scored cycles with their condition scores, ranked by
a window function; instrument versions in use), plus parsing each instrument version once per
process.

Rules (docs/portfolio-exports.md says the same in words):
- A *completed cycle* is a closed assessment with stored scores from at least one respondent.
  `latest` is a site's newest completed cycle, `baseline` its oldest (when it is another one).
- A site whose latest cycle has fewer respondents than the privacy threshold shows no score, no
  exact n and no response rate ("fewer than N respondents — not shown").
- A condition score is shown only when at least `privacy_threshold` respondents have a score for it.
- Sites on different instrument versions are compared only on the conditions whose ids all of
  their versions share; a note says so.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, select

from app.db.models import (
    Assessment,
    AssessmentScore,
    AssessmentStatus,
    DomainScore,
    InstrumentVersion,
    Organization,
    Portfolio,
    PortfolioSite,
    Role,
    User,
)
from app.errors import BadInput, Forbidden
from app.instruments import catalog
from app.instruments.models import Instrument, text
from app.portfolio.schemas import (
    ConditionChange,
    ConditionDistribution,
    ConditionRef,
    ConditionScore,
    CycleOut,
    InstrumentInUse,
    LevelCount,
    PortfolioRef,
    PortfolioSummary,
    ScoreBin,
    SiteOut,
    SitesPage,
)
from app.services import access, instruments_store

MAX_FILTER_LENGTH = 100
BIN_WIDTH = 10


# --- inputs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PortfolioFilters:
    region: str | None = None
    cohort: str | None = None
    instrument: str | None = None

    @classmethod
    def parse(cls, *, region: str | None, cohort: str | None, instrument: str | None) -> PortfolioFilters:
        values = {}
        for name, value in (("region", region), ("cohort", cohort), ("instrument", instrument)):
            value = (value or "").strip() or None
            if value is not None and len(value) > MAX_FILTER_LENGTH:
                raise BadInput(f"The {name} filter is too long.")
            values[name] = value
        return cls(**values)

    def query(self) -> dict[str, str]:
        """The filters as query parameters (for links that keep them)."""
        return {
            k: v
            for k, v in (("region", self.region), ("cohort", self.cohort), ("instrument", self.instrument))
            if v
        }

    @property
    def active(self) -> bool:
        return bool(self.query())


_CONDITION_SORT_KEY = re.compile(r"^(score|change)_[a-z][a-z0-9_]{0,63}$")
FIXED_SORT_KEYS = {
    "name": "Site",
    "region": "Region",
    "cohort": "Cohort",
    "date": "Cycle date",
    "n": "Respondents",
    "rate": "Response rate",
}


@dataclass(frozen=True)
class SortOrder:
    """`sort=` parameter: a key, with a leading '-' for descending. Keys: name, region, cohort,
    date, n, rate, score_<condition id>, change_<condition id>."""

    key: str = "name"
    descending: bool = False

    @classmethod
    def parse(cls, raw: str | None) -> SortOrder:
        raw = (raw or "name").strip()
        descending = raw.startswith("-")
        key = raw[1:] if descending else raw
        if key not in FIXED_SORT_KEYS and not _CONDITION_SORT_KEY.match(key):
            raise BadInput(f"Cannot sort by {key[:80]!r}.")
        return cls(key=key, descending=descending)

    @property
    def param(self) -> str:
        return ("-" if self.descending else "") + self.key

    def param_for(self, key: str) -> str:
        """The sort parameter a column header links to: toggles when it is the current column."""
        if key == self.key:
            return key if self.descending else "-" + key
        return key

    def aria_for(self, key: str) -> str | None:
        if key != self.key:
            return None
        return "descending" if self.descending else "ascending"


# --- result of one portfolio page -----------------------------------------------------------


@dataclass
class FilterOptions:
    regions: list[str]
    cohorts: list[str]
    instruments: list[tuple[str, str]]  # (instrument id, title)


@dataclass
class PortfolioView:
    summary: PortfolioSummary
    sites: list[SiteOut]
    filters: PortfolioFilters
    sort: SortOrder
    options: FilterOptions
    levels: list[tuple[str, str]] = field(default_factory=list)  # (level id, label), low to high

    @property
    def sites_page(self) -> SitesPage:
        return SitesPage(
            portfolio=self.summary.portfolio,
            privacy_threshold=self.summary.privacy_threshold,
            shared_conditions=self.summary.shared_conditions,
            comparability_note=self.summary.comparability_note,
            sites=self.sites,
        )


# --- queries ---------------------------------------------------------------------------------


def list_portfolios(session: Session, *, user: User) -> list[PortfolioRef]:
    """The portfolios `user` may open (funder: their memberships; admin: all), by name."""
    if user.role not in (Role.admin, Role.funder):
        raise Forbidden("Only funders and administrators see portfolios.")
    allowed = access.portfolio_ids_for(session, user=user)
    counts = (
        select(PortfolioSite.portfolio_id, func.count(PortfolioSite.id).label("n"))
        .group_by(PortfolioSite.portfolio_id)
        .subquery()
    )
    stmt = (
        select(Portfolio.id, Portfolio.name, Portfolio.description, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.portfolio_id == Portfolio.id)
        .order_by(Portfolio.name)
    )
    if allowed is not None:
        if not allowed:
            return []
        stmt = stmt.where(Portfolio.id.in_(sorted(allowed)))
    return [
        PortfolioRef(id=pid, name=name, description=description, n_sites=n)
        for pid, name, description, n in session.exec(stmt).all()
    ]


@dataclass
class _Site:
    organization_id: int
    name: str
    region: str | None
    cohort: str | None


@dataclass
class _Cycle:
    assessment_id: int
    organization_id: int
    name: str
    when: date
    version_id: int
    n_respondents: int
    expected: int | None
    domains: dict[str, tuple[float | None, str | None, int]] = field(default_factory=dict)


def _sites(session: Session, *, portfolio_id: int) -> list[_Site]:
    stmt = (
        select(
            Organization.id,
            Organization.name,
            func.coalesce(PortfolioSite.region, Organization.region),
            func.coalesce(PortfolioSite.cohort, Organization.cohort),
        )
        .join(PortfolioSite, PortfolioSite.organization_id == Organization.id)
        .where(PortfolioSite.portfolio_id == portfolio_id)
    )
    return [_Site(*row) for row in session.exec(stmt).all()]


def _cycle_date(close_date: date | None, closed_at: datetime | None, created_at: datetime) -> date:
    if close_date is not None:
        return close_date
    return (closed_at or created_at).date()


def _baseline_and_latest(
    session: Session, *, portfolio_id: int, instrument_id: str | None
) -> tuple[dict[int, _Cycle], dict[int, _Cycle]]:
    """Each site's oldest and newest completed cycle with its stored condition scores (two queries).

    Returns (baseline by organization, latest by organization); a site with one completed cycle
    has it as latest only.
    """
    order_new = (Assessment.created_at.desc(), Assessment.id.desc())
    order_old = (Assessment.created_at.asc(), Assessment.id.asc())
    ranked = (
        select(
            Assessment.id.label("assessment_id"),
            Assessment.organization_id.label("organization_id"),
            Assessment.name.label("name"),
            Assessment.close_date.label("close_date"),
            Assessment.closed_at.label("closed_at"),
            Assessment.created_at.label("created_at"),
            Assessment.expected_respondents.label("expected"),
            Assessment.instrument_version_id.label("version_id"),
            AssessmentScore.n_respondents.label("n_respondents"),
            func.row_number()
            .over(partition_by=Assessment.organization_id, order_by=order_new)
            .label("newest"),
            func.row_number()
            .over(partition_by=Assessment.organization_id, order_by=order_old)
            .label("oldest"),
        )
        .join(AssessmentScore, AssessmentScore.assessment_id == Assessment.id)
        .join(PortfolioSite, PortfolioSite.organization_id == Assessment.organization_id)
        .where(
            PortfolioSite.portfolio_id == portfolio_id,
            Assessment.status == AssessmentStatus.closed,
            AssessmentScore.n_respondents > 0,
        )
    )
    if instrument_id is not None:
        ranked = ranked.join(
            InstrumentVersion, InstrumentVersion.id == Assessment.instrument_version_id
        ).where(InstrumentVersion.instrument_id == instrument_id)
    ranked_sq = ranked.subquery()
    chosen = select(ranked_sq).where(or_(ranked_sq.c.newest == 1, ranked_sq.c.oldest == 1)).subquery()
    cycles: dict[int, _Cycle] = {}
    baseline: dict[int, _Cycle] = {}
    latest: dict[int, _Cycle] = {}
    for row in session.exec(select(*chosen.c)).mappings():
        cycle = cycles[row["assessment_id"]] = _Cycle(
            assessment_id=row["assessment_id"],
            organization_id=row["organization_id"],
            name=row["name"],
            when=_cycle_date(row["close_date"], row["closed_at"], row["created_at"]),
            version_id=row["version_id"],
            n_respondents=row["n_respondents"],
            expected=row["expected"],
        )
        if row["newest"] == 1:
            latest[cycle.organization_id] = cycle
        else:
            baseline[cycle.organization_id] = cycle
    # The condition scores of the same cycles: a second query on the same ranked set, so the
    # (wider) cycle columns are not repeated once per condition.
    scores = select(
        DomainScore.assessment_id,
        DomainScore.domain_id,
        DomainScore.score,
        DomainScore.level_id,
        DomainScore.n,
    ).join(chosen, chosen.c.assessment_id == DomainScore.assessment_id)
    for assessment_id, domain_id, score, level_id, n in session.exec(scores).all():
        cycles[assessment_id].domains[domain_id] = (score, level_id, n or 0)
    return baseline, latest


def _instruments(session: Session, version_ids: set[int]) -> dict[int, tuple[InstrumentVersion, Instrument]]:
    """Parsed instruments of the given snapshots; the YAML text is read only on a cache miss."""
    if not version_ids:
        return {}
    rows = session.exec(
        select(
            InstrumentVersion.id,
            InstrumentVersion.instrument_id,
            InstrumentVersion.version,
            InstrumentVersion.title,
            InstrumentVersion.content_hash,
        ).where(InstrumentVersion.id.in_(sorted(version_ids)))
    ).all()
    found: dict[int, tuple[InstrumentVersion, Instrument]] = {}
    for vid, instrument_id, version, title, content_hash in rows:
        parsed = catalog.cached_instrument(content_hash)
        if parsed is None:
            stored = session.get(InstrumentVersion, vid)
            parsed = instruments_store.instrument_of_version(stored)
        meta = InstrumentVersion(
            id=vid,
            instrument_id=instrument_id,
            version=version,
            title=title,
            content_hash=content_hash,
            source_yaml="",
        )
        found[vid] = (meta, parsed)
    return found


def _filter_options(session: Session, *, portfolio_id: int, sites: list[_Site]) -> FilterOptions:
    instruments = session.exec(
        select(InstrumentVersion.instrument_id, func.min(InstrumentVersion.title))
        .join(Assessment, Assessment.instrument_version_id == InstrumentVersion.id)
        .join(PortfolioSite, PortfolioSite.organization_id == Assessment.organization_id)
        .where(PortfolioSite.portfolio_id == portfolio_id, Assessment.status == AssessmentStatus.closed)
        .group_by(InstrumentVersion.instrument_id)
        .order_by(InstrumentVersion.instrument_id)
    ).all()
    return FilterOptions(
        regions=sorted({s.region for s in sites if s.region}),
        cohorts=sorted({s.cohort for s in sites if s.cohort}),
        instruments=[(i, t) for i, t in instruments],
    )


# --- privacy and comparability ----------------------------------------------------------------


def _cycle_out(cycle: _Cycle, meta: InstrumentVersion, instrument: Instrument, threshold: int) -> CycleOut:
    visible = cycle.n_respondents >= threshold
    rate = None
    if visible and cycle.expected:
        rate = round(cycle.n_respondents / cycle.expected, 3)
    return CycleOut(
        assessment_id=cycle.assessment_id,
        name=cycle.name,
        date=cycle.when,
        instrument_id=meta.instrument_id,
        instrument_version=meta.version,
        instrument_title=text(instrument.title),
        n_respondents=cycle.n_respondents if visible else None,
        expected_respondents=cycle.expected,
        response_rate=rate,
    )


def _visible_score(
    cycle: _Cycle, domain_id: str, threshold: int
) -> tuple[float | None, str | None, int | None, str]:
    """(score, level id, n, status) after the privacy rules."""
    if cycle.n_respondents < threshold:
        return None, None, None, "suppressed"
    stored = cycle.domains.get(domain_id)
    if stored is None:
        return None, None, None, "no_score"
    score, level_id, n = stored
    if n < threshold:
        return None, None, None, "suppressed"
    if score is None:
        return None, None, None, "no_score"
    return round(score, 1), level_id, n, "shown"


_level_labels: dict[int, dict[str, str]] = {}


def _level_label(instrument: Instrument, level_id: str | None) -> str | None:
    if level_id is None:
        return None
    labels = _level_labels.get(id(instrument))
    if labels is None:
        labels = _level_labels[id(instrument)] = {lv.id: text(lv.label) for lv in instrument.scoring.levels}
    return labels.get(level_id, level_id)


def _shared_conditions(
    latest: dict[int, _Cycle], instruments: dict[int, tuple[InstrumentVersion, Instrument]]
) -> tuple[list[ConditionRef], list[InstrumentInUse], str | None]:
    per_version = Counter(c.version_id for c in latest.values())
    in_use = []
    for vid, n in sorted(per_version.items(), key=lambda kv: (-kv[1], kv[0])):
        meta, instrument = instruments[vid]
        in_use.append(
            InstrumentInUse(
                instrument_id=meta.instrument_id,
                version=meta.version,
                title=text(instrument.title),
                n_sites=n,
            )
        )
    if not per_version:
        return [], in_use, None
    ordered = [instruments[vid][1] for vid, _ in sorted(per_version.items(), key=lambda kv: (-kv[1], kv[0]))]
    shared_ids = set.intersection(*({d.id for d in inst.domains} for inst in ordered))
    shared = [ConditionRef(id=d.id, title=text(d.title)) for d in ordered[0].domains if d.id in shared_ids]
    note = None
    if len(per_version) > 1:
        versions = "; ".join(f"{i.title} {i.version} ({i.n_sites} sites)" for i in in_use)
        left_out = sorted({d.id for inst in ordered for d in inst.domains} - shared_ids)
        note = (
            f"These sites used {len(per_version)} different instrument versions ({versions}). "
            "They are compared only on the conditions all versions share (the same condition ids)"
        )
        note += f"; not compared: {', '.join(left_out)}." if left_out else "."
        if not shared:
            note += " Filter by instrument to compare sites."
    return shared, in_use, note


def _site_out(
    site: _Site,
    latest: _Cycle | None,
    baseline: _Cycle | None,
    conditions: list[ConditionRef],
    instruments: dict[int, tuple[InstrumentVersion, Instrument]],
    threshold: int,
) -> SiteOut:
    common = {
        "organization_id": site.organization_id,
        "name": site.name,
        "region": site.region,
        "cohort": site.cohort,
    }
    if latest is None:
        return SiteOut(
            **common,
            status="no_completed_cycle",
            status_text="No completed cycle yet",
            latest=None,
            baseline=None,
        )
    meta, instrument = instruments[latest.version_id]
    latest_out = _cycle_out(latest, meta, instrument, threshold)
    baseline_out = None
    if baseline is not None:
        base_meta, base_instrument = instruments[baseline.version_id]
        baseline_out = _cycle_out(baseline, base_meta, base_instrument, threshold)
    if latest.n_respondents < threshold:
        return SiteOut(
            **common,
            status="below_threshold",
            status_text=f"fewer than {threshold} respondents — not shown",
            latest=latest_out,
            baseline=baseline_out,
        )
    scores = []
    changes = []
    for condition in conditions:
        score, level_id, n, status = _visible_score(latest, condition.id, threshold)
        scores.append(
            ConditionScore(
                condition_id=condition.id,
                condition_title=condition.title,
                status=status,
                score=score,
                level_id=level_id,
                level_label=_level_label(instrument, level_id),
                n=n,
            )
        )
        if baseline is not None:
            base_instrument = instruments[baseline.version_id][1]
            if any(d.id == condition.id for d in base_instrument.domains):
                base_score = _visible_score(baseline, condition.id, threshold)[0]
                change = None
                if score is not None and base_score is not None:
                    change = round(score - base_score, 1)
                changes.append(
                    ConditionChange(
                        condition_id=condition.id,
                        baseline_score=base_score,
                        latest_score=score,
                        change=change,
                    )
                )
    return SiteOut(
        **common,
        status="scored",
        status_text="Scored",
        latest=latest_out,
        baseline=baseline_out,
        scores=scores,
        changes=changes,
    )


def _distribution(
    condition: ConditionRef, sites: list[SiteOut], levels: list[tuple[str, str]]
) -> ConditionDistribution:
    shown = []
    level_counts: Counter[str] = Counter()
    not_shown = 0
    for site in sites:
        if site.latest is None:
            continue
        cell = site.score_for(condition.id)
        if cell is None or cell.score is None:
            not_shown += 1
            continue
        shown.append(cell.score)
        if cell.level_id:
            level_counts[cell.level_id] += 1
    bins = []
    for lower in range(0, 100, BIN_WIDTH):
        upper = lower + BIN_WIDTH
        count = sum(1 for s in shown if lower <= s < upper or (upper == 100 and s == 100))
        label = f"{lower}–{upper - 1}" if upper < 100 else f"{lower}–100"
        bins.append(ScoreBin(lower=lower, upper=upper, count=count, label=label))
    return ConditionDistribution(
        condition_id=condition.id,
        condition_title=condition.title,
        n_sites_scored=len(shown),
        median=round(statistics.median(shown), 1) if shown else None,
        minimum=min(shown) if shown else None,
        maximum=max(shown) if shown else None,
        bins=bins,
        levels=[
            LevelCount(level_id=lid, label=label, count=level_counts.get(lid, 0)) for lid, label in levels
        ],
        n_not_shown=not_shown,
    )


def _sort_sites(sites: list[SiteOut], order: SortOrder, conditions: list[ConditionRef]) -> list[SiteOut]:
    """Sort by the requested column; sites without a value always go last, then by name."""
    key = order.key
    condition_ids = {c.id for c in conditions}

    def value(site: SiteOut) -> Any:
        latest = site.latest
        if key == "name":
            return site.name.casefold()
        if key in ("region", "cohort"):
            v = getattr(site, key)
            return v.casefold() if v else None
        if key == "date":
            return latest.date if latest else None
        if key == "n":
            return latest.n_respondents if latest else None
        if key == "rate":
            return latest.response_rate if latest else None
        # A condition no longer in the table (say, after a filter) has no values: name order.
        if key.startswith("score_"):
            cell = site.score_for(key[6:]) if key[6:] in condition_ids else None
            return cell.score if cell else None
        cell = site.change_for(key[7:]) if key[7:] in condition_ids else None
        return cell.change if cell else None

    keyed = [(value(s), s) for s in sites]
    present = [(v, s) for v, s in keyed if v is not None]
    missing = [s for v, s in keyed if v is None]
    present.sort(key=lambda vs: (vs[1].name.casefold(), vs[1].organization_id))
    present.sort(key=lambda vs: vs[0], reverse=order.descending)
    missing.sort(key=lambda s: (s.name.casefold(), s.organization_id))
    return [s for _, s in present] + missing


def portfolio_view(
    session: Session,
    *,
    user: User,
    portfolio_id: int,
    privacy_threshold: int,
    filters: PortfolioFilters | None = None,
    sort: SortOrder | None = None,
) -> PortfolioView:
    """Everything the portfolio page, its exports and the JSON API show, privacy rules applied.

    Raises NotFound for a portfolio the user may not see and BadInput for an unknown sort key.
    """
    portfolio = access.get_portfolio(session, user=user, portfolio_id=portfolio_id)
    filters = filters or PortfolioFilters()
    sort = sort or SortOrder()
    threshold = privacy_threshold

    all_sites = _sites(session, portfolio_id=portfolio_id)
    options = _filter_options(session, portfolio_id=portfolio_id, sites=all_sites)
    sites = [
        s
        for s in all_sites
        if (filters.region is None or s.region == filters.region)
        and (filters.cohort is None or s.cohort == filters.cohort)
    ]
    baseline, latest = _baseline_and_latest(
        session, portfolio_id=portfolio_id, instrument_id=filters.instrument
    )
    kept = {s.organization_id for s in sites}
    latest = {org: c for org, c in latest.items() if org in kept}
    baseline = {org: c for org, c in baseline.items() if org in kept}
    instruments = _instruments(session, {c.version_id for c in (*latest.values(), *baseline.values())})

    conditions, in_use, note = _shared_conditions(latest, instruments)
    levels: list[tuple[str, str]] = []
    for vid in dict.fromkeys(c.version_id for c in latest.values()):
        for level in instruments[vid][1].scoring.levels:
            if all(level.id != known for known, _ in levels):
                levels.append((level.id, text(level.label)))

    site_rows = [
        _site_out(
            s,
            latest.get(s.organization_id),
            baseline.get(s.organization_id),
            conditions,
            instruments,
            threshold,
        )
        for s in sites
    ]
    site_rows = _sort_sites(site_rows, sort, conditions)
    ref = PortfolioRef(
        id=portfolio.id, name=portfolio.name, description=portfolio.description, n_sites=len(all_sites)
    )
    summary = PortfolioSummary(
        portfolio=ref,
        privacy_threshold=threshold,
        n_sites=len(site_rows),
        n_scored=sum(1 for s in site_rows if s.status == "scored"),
        n_below_threshold=sum(1 for s in site_rows if s.status == "below_threshold"),
        n_no_completed_cycle=sum(1 for s in site_rows if s.status == "no_completed_cycle"),
        instruments=in_use,
        shared_conditions=conditions,
        comparability_note=note,
        distributions=[_distribution(c, site_rows, levels) for c in conditions],
    )
    return PortfolioView(
        summary=summary, sites=site_rows, filters=filters, sort=sort, options=options, levels=levels
    )
