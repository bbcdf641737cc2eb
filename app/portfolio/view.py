"""The portfolio view: from a portfolio's gathered sites, cycles and instruments to what its page,
exports and JSON API show. Pure: the data comes from `app.services.portfolio`, the privacy rules
from `app.portfolio.privacy`.

Rules (docs/portfolio-exports.md says the same in words):
- A *completed cycle* is a closed assessment with stored scores from at least one respondent.
  `latest` is a site's newest completed cycle, `baseline` its oldest (when it is another one).
- Sites on different instrument versions are compared only on the conditions whose ids all of
  their versions share; a note says so.
- Statistics (median, range, bins, level counts) are over the condition scores that are shown.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from app.instruments.models import Instrument, text
from app.portfolio import privacy
from app.portfolio.params import PortfolioFilters, SortOrder
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
    ScoreStatus,
    SiteOut,
    SitesPage,
)
from app.scoring.numbers import difference, median, score_value

BIN_WIDTH = 10


# --- what the queries gather ------------------------------------------------------------------


@dataclass
class SiteRow:
    organization_id: int
    name: str
    region: str | None
    cohort: str | None


@dataclass
class CycleRow:
    assessment_id: int
    organization_id: int
    name: str
    when: date
    version_id: int
    n_respondents: int
    expected: int | None
    domains: dict[str, privacy.StoredScore] = field(default_factory=dict)


@dataclass
class FilterOptions:
    regions: list[str]
    cohorts: list[str]
    instruments: list[tuple[str, str]]  # (instrument id, title)


# --- the result of one portfolio page -----------------------------------------------------------


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


def build_portfolio_view(
    *,
    portfolio: PortfolioRef,
    sites: list[SiteRow],
    options: FilterOptions,
    baseline: dict[int, CycleRow],
    latest: dict[int, CycleRow],
    instruments: dict[int, Instrument],
    filters: PortfolioFilters,
    sort: SortOrder,
    privacy_threshold: int,
) -> PortfolioView:
    """The view of the sites that pass `filters` (region and cohort here; the instrument filter
    already chose the cycles). `instruments` maps each cycle's instrument version id to its
    parsed instrument; `portfolio.n_sites` counts every site, before filters."""
    threshold = privacy_threshold
    sites = [
        s
        for s in sites
        if (filters.region is None or s.region == filters.region)
        and (filters.cohort is None or s.cohort == filters.cohort)
    ]
    kept = {s.organization_id for s in sites}
    latest = {org: c for org, c in latest.items() if org in kept}
    baseline = {org: c for org, c in baseline.items() if org in kept}

    conditions, in_use, note = _shared_conditions(latest, instruments)
    levels: list[tuple[str, str]] = []
    for vid in dict.fromkeys(c.version_id for c in latest.values()):
        for level in instruments[vid].scoring.levels:
            if all(level.id != known for known, _ in levels):
                levels.append((level.id, text(level.label)))

    level_labels = {
        vid: {lv.id: text(lv.label) for lv in instrument.scoring.levels}
        for vid, instrument in instruments.items()
    }
    site_rows = [
        _site_out(
            s,
            latest.get(s.organization_id),
            baseline.get(s.organization_id),
            conditions,
            instruments,
            level_labels,
            threshold,
        )
        for s in sites
    ]
    site_rows = _sort_sites(site_rows, sort, conditions)
    summary = PortfolioSummary(
        portfolio=portfolio,
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


def _cycle_out(cycle: CycleRow, instrument: Instrument, threshold: int) -> CycleOut:
    return CycleOut(
        assessment_id=cycle.assessment_id,
        name=cycle.name,
        date=cycle.when,
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        instrument_title=text(instrument.title),
        n_respondents=privacy.shown_respondents(cycle.n_respondents, threshold=threshold),
        expected_respondents=cycle.expected,
        response_rate=privacy.shown_response_rate(cycle.n_respondents, cycle.expected, threshold=threshold),
    )


def _shown_score(
    cycle: CycleRow, domain_id: str, threshold: int
) -> tuple[float | None, str | None, int | None, ScoreStatus]:
    return privacy.shown_condition_score(
        cycle.n_respondents, cycle.domains.get(domain_id), threshold=threshold
    )


def _shared_conditions(
    latest: dict[int, CycleRow], instruments: dict[int, Instrument]
) -> tuple[list[ConditionRef], list[InstrumentInUse], str | None]:
    per_version = Counter(c.version_id for c in latest.values())
    in_use = []
    for vid, n in sorted(per_version.items(), key=lambda kv: (-kv[1], kv[0])):
        instrument = instruments[vid]
        in_use.append(
            InstrumentInUse(
                instrument_id=instrument.id,
                version=instrument.version,
                title=text(instrument.title),
                n_sites=n,
            )
        )
    if not per_version:
        return [], in_use, None
    ordered = [instruments[vid] for vid, _ in sorted(per_version.items(), key=lambda kv: (-kv[1], kv[0]))]
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
    site: SiteRow,
    latest: CycleRow | None,
    baseline: CycleRow | None,
    conditions: list[ConditionRef],
    instruments: dict[int, Instrument],
    level_labels: dict[int, dict[str, str]],
    threshold: int,
) -> SiteOut:
    def out(**fields: Any) -> SiteOut:
        return SiteOut(
            organization_id=site.organization_id,
            name=site.name,
            region=site.region,
            cohort=site.cohort,
            **fields,
        )

    if latest is None:
        return out(
            status="no_completed_cycle",
            status_text="No completed cycle yet",
            latest=None,
            baseline=None,
        )
    latest_out = _cycle_out(latest, instruments[latest.version_id], threshold)
    baseline_out = None
    if baseline is not None:
        baseline_out = _cycle_out(baseline, instruments[baseline.version_id], threshold)
    if not privacy.cycle_is_shown(latest.n_respondents, threshold=threshold):
        return out(
            status="below_threshold",
            status_text=privacy.below_threshold_text(threshold),
            latest=latest_out,
            baseline=baseline_out,
        )
    labels = level_labels[latest.version_id]
    scores = []
    changes = []
    for condition in conditions:
        score, level_id, n, status = _shown_score(latest, condition.id, threshold)
        scores.append(
            ConditionScore(
                condition_id=condition.id,
                condition_title=condition.title,
                status=status,
                score=score,
                level_id=level_id,
                level_label=None if level_id is None else labels.get(level_id, level_id),
                n=n,
            )
        )
        if baseline is not None:
            base_instrument = instruments[baseline.version_id]
            if any(d.id == condition.id for d in base_instrument.domains):
                base_score = _shown_score(baseline, condition.id, threshold)[0]
                change = None
                if score is not None and base_score is not None:
                    change = float(difference(score, base_score))
                changes.append(
                    ConditionChange(
                        condition_id=condition.id,
                        baseline_score=base_score,
                        latest_score=score,
                        change=change,
                    )
                )
    return out(
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
        median=score_value(median(shown)) if shown else None,
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
            score = site.score_for(key[6:]) if key[6:] in condition_ids else None
            return score.score if score else None
        change = site.change_for(key[7:]) if key[7:] in condition_ids else None
        return change.change if change else None

    keyed = [(value(s), s) for s in sites]
    present = [(v, s) for v, s in keyed if v is not None]
    missing = [s for v, s in keyed if v is None]
    present.sort(key=lambda vs: (vs[1].name.casefold(), vs[1].organization_id))
    present.sort(key=lambda vs: vs[0], reverse=order.descending)
    missing.sort(key=lambda s: (s.name.casefold(), s.organization_id))
    return [s for _, s in present] + missing
