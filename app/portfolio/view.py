"""The portfolio view: from a portfolio's gathered sites, cycles and instruments to what its page,
exports and JSON API show. Pure: the data comes from `app.services.portfolio`, the privacy rules
from `app.portfolio.privacy`.

Rules (docs/portfolio-exports.md says the same in words):
- A *completed cycle* is a closed assessment with stored scores from at least one respondent.
  `latest` is a site's newest completed cycle, `baseline` its oldest (when it is another one).
- Sites on different instrument versions are compared only on the conditions whose ids all of
  their versions share; a note says so.
- Statistics (median, range, bins, level counts) are over the condition scores that are shown.

Words (condition titles, level names, the status of a site, the comparability note) are in the
current language (`app.i18n.use_locale`): the portfolio pages and the PDF set the reader's, the
JSON API and the CSV/XLSX exports leave English.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol, cast

from app.i18n import current_locale, gettext, ngettext
from app.instruments.models import Instrument, text
from app.portfolio import privacy
from app.portfolio.params import PortfolioFilters, SitePage, SortOrder
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
    sites: list[SiteOut]  # the requested page of the site table (every site when unpaged)
    filters: PortfolioFilters
    sort: SortOrder
    options: FilterOptions
    levels: list[tuple[str, str]] = field(default_factory=list)  # (level id, label), low to high
    page: SitePage = field(default_factory=lambda: SitePage(size=None))
    n_matching: int = 0  # sites that pass the filters and the search (all pages)

    @property
    def n_pages(self) -> int:
        if not self.page.size:
            return 1
        return max(1, -(-self.n_matching // self.page.size))

    @property
    def first_index(self) -> int:
        """1-based position of the page's first site in the sorted table (0 when empty)."""
        if not self.sites:
            return 0
        return (self.page.number - 1) * (self.page.size or 0) + 1

    @property
    def sites_page(self) -> SitesPage:
        return SitesPage(
            portfolio=self.summary.portfolio,
            privacy_threshold=self.summary.privacy_threshold,
            shared_conditions=self.summary.shared_conditions,
            comparability_note=self.summary.comparability_note,
            sites=self.sites,
            total_sites=self.n_matching,
            page=self.page.number,
            per_page=self.page.size,
            pages=self.n_pages,
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
    page: SitePage | None = None,
) -> PortfolioView:
    """The view of the sites that pass `filters` (region and cohort here; the instrument filter
    already chose the cycles). `instruments` maps each cycle's instrument version id to its
    parsed instrument; `portfolio.n_sites` counts every site, before filters.

    The summary covers every site that passes the filters. `page` (default: every site) picks the
    part of the sorted site table that is built in full (`view.sites`): its search narrows the
    table, not the summary. Sorting and the summary work on each site's shown figures (`_Shown`),
    so a page of 50 out of 5,000 sites builds 50 site records, not 5,000."""
    threshold = privacy_threshold
    page = page or SitePage(size=None)
    sites = [
        s
        for s in sites
        if (filters.region is None or s.region == filters.region)
        and (filters.cohort is None or s.cohort == filters.cohort)
    ]
    kept = {s.organization_id for s in sites}
    latest = {org: c for org, c in latest.items() if org in kept}
    baseline = {org: c for org, c in baseline.items() if org in kept}

    lang = current_locale()
    conditions, in_use, note = _shared_conditions(latest, instruments, lang)
    levels: list[tuple[str, str]] = []
    for vid in dict.fromkeys(c.version_id for c in latest.values()):
        for level in instruments[vid].scoring.levels:
            if all(level.id != known for known, _ in levels):
                levels.append((level.id, text(level.label, lang)))

    level_labels = {
        vid: {lv.id: text(lv.label, lang) for lv in instrument.scoring.levels}
        for vid, instrument in instruments.items()
    }
    shown = [
        _shown(
            s,
            latest.get(s.organization_id),
            baseline.get(s.organization_id),
            conditions,
            instruments,
            threshold,
        )
        for s in sites
    ]
    ordered = _sort_sites(shown, sort, conditions)
    summary = PortfolioSummary(
        portfolio=portfolio,
        privacy_threshold=threshold,
        n_sites=len(shown),
        n_scored=sum(1 for s in shown if s.status == "scored"),
        n_below_threshold=sum(1 for s in shown if s.status == "below_threshold"),
        n_no_completed_cycle=sum(1 for s in shown if s.status == "no_completed_cycle"),
        instruments=in_use,
        shared_conditions=conditions,
        comparability_note=note,
        distributions=[_distribution(c, shown, levels) for c in conditions],
    )
    matching = [s for s in ordered if page.matches(s.site.name)] if page.q else ordered
    if page.size == 0:  # the summary alone (the JSON /summary): no site record is built
        chosen = []
    elif page.size:
        start = (page.number - 1) * page.size
        chosen = matching[start : start + page.size]
    else:
        chosen = matching
    site_rows = [
        _site_out(
            s.site,
            latest.get(s.site.organization_id),
            baseline.get(s.site.organization_id),
            conditions,
            instruments,
            level_labels,
            threshold,
            s,
        )
        for s in chosen
    ]
    return PortfolioView(
        summary=summary,
        sites=site_rows,
        filters=filters,
        sort=sort,
        options=options,
        levels=levels,
        page=page,
        n_matching=len(matching),
    )


@dataclass
class _Shown:
    """One site's figures after the privacy rules, as few objects as possible: what sorting and
    the summary need for every site (`_site_out` builds the full record for the shown page)."""

    site: SiteRow
    status: str
    when: date | None = None
    n_respondents: int | None = None
    response_rate: float | None = None
    # condition id -> (score, level id, n, status) of the latest cycle, for a scored site
    scores: dict[str, tuple[float | None, str | None, int | None, ScoreStatus]] = field(default_factory=dict)
    # condition id -> (baseline score, change), for a scored site with a baseline sharing it
    changes: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)


def _shown(
    site: SiteRow,
    latest: CycleRow | None,
    baseline: CycleRow | None,
    conditions: list[ConditionRef],
    instruments: dict[int, Instrument],
    threshold: int,
) -> _Shown:
    if latest is None:
        return _Shown(site=site, status="no_completed_cycle")
    n_shown = privacy.shown_respondents(latest.n_respondents, threshold=threshold)
    rate = privacy.shown_response_rate(latest.n_respondents, latest.expected, threshold=threshold)
    if not privacy.cycle_is_shown(latest.n_respondents, threshold=threshold):
        return _Shown(
            site=site, status="below_threshold", when=latest.when, n_respondents=n_shown, response_rate=rate
        )
    result = _Shown(site=site, status="scored", when=latest.when, n_respondents=n_shown, response_rate=rate)
    base_domains = {d.id for d in instruments[baseline.version_id].domains} if baseline is not None else set()
    for condition in conditions:
        cell = _shown_score(latest, condition.id, threshold)
        result.scores[condition.id] = cell
        if baseline is not None and condition.id in base_domains:
            score = cell[0]
            base_score = _shown_score(baseline, condition.id, threshold)[0]
            change = None
            if score is not None and base_score is not None:
                change = float(difference(score, base_score))
            result.changes[condition.id] = (base_score, change)
    return result


def _cycle_out(cycle: CycleRow, instrument: Instrument, threshold: int) -> CycleOut:
    return CycleOut(
        assessment_id=cycle.assessment_id,
        name=cycle.name,
        date=cycle.when,
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        instrument_title=text(instrument.title, current_locale()),
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
    latest: dict[int, CycleRow], instruments: dict[int, Instrument], lang: str
) -> tuple[list[ConditionRef], list[InstrumentInUse], str | None]:
    per_version = Counter(c.version_id for c in latest.values())
    in_use = []
    for vid, n in sorted(per_version.items(), key=lambda kv: (-kv[1], kv[0])):
        instrument = instruments[vid]
        in_use.append(
            InstrumentInUse(
                instrument_id=instrument.id,
                version=instrument.version,
                title=text(instrument.title, lang),
                n_sites=n,
            )
        )
    if not per_version:
        return [], in_use, None
    ordered = [instruments[vid] for vid, _ in sorted(per_version.items(), key=lambda kv: (-kv[1], kv[0]))]
    shared_ids = set.intersection(*({d.id for d in inst.domains} for inst in ordered))
    shared = [
        ConditionRef(id=d.id, title=text(d.title, lang)) for d in ordered[0].domains if d.id in shared_ids
    ]
    note = None
    if len(per_version) > 1:
        versions = "; ".join(
            ngettext(
                "%(title)s %(version)s (%(num)s site)",
                "%(title)s %(version)s (%(num)s sites)",
                i.n_sites,
            )
            % {"title": i.title, "version": i.version, "num": i.n_sites}
            for i in in_use
        )
        left_out = sorted({d.id for inst in ordered for d in inst.domains} - shared_ids)
        values = {"num": len(per_version), "versions": versions, "left_out": ", ".join(left_out)}
        if left_out:
            note = gettext(
                "These sites used %(num)s different instrument versions (%(versions)s). They are "
                "compared only on the conditions all versions share (the same condition ids); not "
                "compared: %(left_out)s."
            )
        else:
            note = gettext(
                "These sites used %(num)s different instrument versions (%(versions)s). They are "
                "compared only on the conditions all versions share (the same condition ids)."
            )
        note %= values
        if not shared:
            note += " " + gettext("Filter by instrument to compare sites.")
    return shared, in_use, note


def _site_out(
    site: SiteRow,
    latest: CycleRow | None,
    baseline: CycleRow | None,
    conditions: list[ConditionRef],
    instruments: dict[int, Instrument],
    level_labels: dict[int, dict[str, str]],
    threshold: int,
    shown: _Shown,
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
            status_text=gettext("No completed cycle yet"),
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
        score, level_id, n, status = shown.scores[condition.id]
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
        if condition.id in shown.changes:
            base_score, change = shown.changes[condition.id]
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
        status_text=gettext("Scored"),
        latest=latest_out,
        baseline=baseline_out,
        scores=scores,
        changes=changes,
    )


def distribution_from_counts(
    condition: ConditionRef,
    *,
    n_shown: int,
    n_with_cycle: int,
    minimum: float | None,
    maximum: float | None,
    middle: list[float],
    bins: Mapping[int, int],
    level_counts: Mapping[str, int],
    levels: list[tuple[str, str]],
) -> ConditionDistribution:
    """The same distribution as `_distribution`, from counts made elsewhere (SQL aggregates over
    the stored figures): `middle` is the one or two middle shown scores, `bins` counts the shown
    scores per 10-point bin (0-9), `n_with_cycle` the sites with a completed cycle."""
    return ConditionDistribution(
        condition_id=condition.id,
        condition_title=condition.title,
        n_sites_scored=n_shown,
        median=score_value(median(middle)) if n_shown else None,
        minimum=minimum if n_shown else None,
        maximum=maximum if n_shown else None,
        bins=[
            ScoreBin(lower=lower, upper=lower + BIN_WIDTH, count=bins.get(lower // BIN_WIDTH, 0), label=label)
            for lower, label in _BINS
        ],
        levels=[
            LevelCount(level_id=lid, label=label, count=level_counts.get(lid, 0)) for lid, label in levels
        ],
        n_not_shown=n_with_cycle - n_shown,
    )


_BINS = [
    (lower, f"{lower}–{lower + BIN_WIDTH - 1}" if lower + BIN_WIDTH < 100 else f"{lower}–100")
    for lower in range(0, 100, BIN_WIDTH)
]


def _distribution(
    condition: ConditionRef, sites: list[_Shown], levels: list[tuple[str, str]]
) -> ConditionDistribution:
    shown = []
    level_counts: Counter[str] = Counter()
    not_shown = 0
    for site in sites:
        if site.status == "no_completed_cycle":
            continue
        cell = site.scores.get(condition.id)
        if cell is None or cell[0] is None:
            not_shown += 1
            continue
        shown.append(cell[0])
        if cell[1]:
            level_counts[cell[1]] += 1
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


def _sort_sites(sites: list[_Shown], order: SortOrder, conditions: list[ConditionRef]) -> list[_Shown]:
    """Sort by the requested column; sites without a value always go last, then by name."""
    key = order.key
    condition_ids = {c.id for c in conditions}

    def value(shown: _Shown) -> Any:
        site = shown.site
        if key == "name":
            return site.name.casefold()
        if key in ("region", "cohort"):
            v = getattr(site, key)
            return v.casefold() if v else None
        if key == "date":
            return shown.when
        if key == "n":
            return shown.n_respondents
        if key == "rate":
            return shown.response_rate
        # A condition no longer in the table (say, after a filter) has no values: name order.
        if key.startswith("score_"):
            cell = shown.scores.get(key[6:]) if key[6:] in condition_ids else None
            return cell[0] if cell else None
        change = shown.changes.get(key[7:]) if key[7:] in condition_ids else None
        return change[1] if change else None

    keyed = [(value(s), s) for s in sites]
    present = [(v, s) for v, s in keyed if v is not None]
    missing = [s for v, s in keyed if v is None]
    present.sort(key=lambda vs: (vs[1].site.name.casefold(), vs[1].site.organization_id))
    present.sort(key=lambda vs: vs[0], reverse=order.descending)
    missing.sort(key=lambda s: (s.site.name.casefold(), s.site.organization_id))
    return [s for _, s in present] + missing


# --- the same view from stored per-site figures (app.services.site_figures) ----------------------


@dataclass
class StoredCondition:
    """A condition's summary figures over the sites' stored shown scores (SQL aggregates)."""

    n: int = 0
    minimum: float | None = None
    maximum: float | None = None
    middle: list[float] = field(default_factory=list)
    bins: Mapping[int, int] = field(default_factory=dict)
    levels: Mapping[str, int] = field(default_factory=dict)


class StoredSiteLike(Protocol):
    site: SiteRow
    status: str
    version_id: int | None
    when: date | None
    n_respondents: int | None
    response_rate: float | None
    latest_id: int | None
    baseline_id: int | None
    sort_value: float | None


def build_stored_view(
    *,
    portfolio: PortfolioRef,
    stored: Sequence[StoredSiteLike],
    options: FilterOptions,
    instruments: dict[int, Instrument],
    condition_figures: Callable[[list[ConditionRef]], dict[str, StoredCondition]],
    page_cycles: Callable[[list[int]], tuple[dict[int, CycleRow], dict[int, Instrument]]],
    filters: PortfolioFilters,
    sort: SortOrder,
    privacy_threshold: int,
    page: SitePage,
) -> PortfolioView:
    """What `build_portfolio_view` returns for a page (or the summary alone), from each site's
    stored figures (already after the privacy rules) instead of every site's cycles: `stored`
    are the sites that pass the region and cohort filters with the instrument filter's figures
    (and the sort value when sorting by a condition), `instruments` the versions of their latest
    cycles. `condition_figures` gives the summary's aggregates of the shared conditions;
    `page_cycles` the released cycles (and their instruments) of the sites on the page, which
    are then built exactly as `build_portfolio_view` builds them."""
    threshold = privacy_threshold
    with_cycle = [s for s in stored if s.status != "no_completed_cycle"]
    # The same comparability and levels as `build_portfolio_view`: both read only the version id
    # of each site's latest cycle, which the stored figures have.
    latest_versions = cast("dict[int, CycleRow]", {s.site.organization_id: s for s in with_cycle})
    lang = current_locale()
    conditions, in_use, note = _shared_conditions(latest_versions, instruments, lang)
    levels: list[tuple[str, str]] = []
    for vid in dict.fromkeys(c.version_id for c in latest_versions.values()):
        for level in instruments[vid].scoring.levels:
            if all(level.id != known for known, _ in levels):
                levels.append((level.id, text(level.label, lang)))
    figures = condition_figures(conditions)
    summary = PortfolioSummary(
        portfolio=portfolio,
        privacy_threshold=threshold,
        n_sites=len(stored),
        n_scored=sum(1 for s in stored if s.status == "scored"),
        n_below_threshold=sum(1 for s in stored if s.status == "below_threshold"),
        n_no_completed_cycle=sum(1 for s in stored if s.status == "no_completed_cycle"),
        instruments=in_use,
        shared_conditions=conditions,
        comparability_note=note,
        distributions=[
            distribution_from_counts(
                c,
                n_shown=figures[c.id].n,
                n_with_cycle=len(with_cycle),
                minimum=figures[c.id].minimum,
                maximum=figures[c.id].maximum,
                middle=figures[c.id].middle,
                bins=figures[c.id].bins,
                level_counts=figures[c.id].levels,
                levels=levels,
            )
            for c in conditions
        ],
    )
    if page.size == 0:  # the summary alone (the JSON /summary): no site record is built
        return PortfolioView(
            summary=summary,
            sites=[],
            filters=filters,
            sort=sort,
            options=options,
            levels=levels,
            page=page,
            n_matching=sum(1 for s in stored if page.matches(s.site.name)),
        )
    # Sorting works on the same figures `_sort_sites` reads, for the sort key only.
    key = sort.key
    by_site: dict[int, StoredSiteLike] = {}
    shown = []
    for row in stored:
        by_site[row.site.organization_id] = row
        one = _Shown(
            site=row.site,
            status=row.status,
            when=row.when,
            n_respondents=row.n_respondents,
            response_rate=row.response_rate,
        )
        if row.status == "scored" and row.sort_value is not None:
            if key.startswith("score_"):
                one.scores[key[6:]] = (row.sort_value, None, None, "shown")
            elif key.startswith("change_"):
                one.changes[key[7:]] = (None, row.sort_value)
        shown.append(one)
    ordered = _sort_sites(shown, sort, conditions)
    matching = [s for s in ordered if page.matches(s.site.name)] if page.q else ordered
    if page.size:
        start = (page.number - 1) * page.size
        chosen = matching[start : start + page.size]
    else:
        chosen = matching
    wanted = [
        i
        for s in chosen
        for i in (by_site[s.site.organization_id].latest_id, by_site[s.site.organization_id].baseline_id)
        if i is not None
    ]
    cycles, page_instruments = page_cycles(wanted)
    page_instruments = {**instruments, **page_instruments}
    level_labels = {
        vid: {lv.id: text(lv.label, lang) for lv in instrument.scoring.levels}
        for vid, instrument in page_instruments.items()
    }
    site_rows = []
    for s in chosen:
        ids = by_site[s.site.organization_id]
        latest = (
            cycles.get(ids.latest_id)
            if ids.latest_id is not None and s.status != "no_completed_cycle"
            else None
        )
        baseline = cycles.get(ids.baseline_id) if ids.baseline_id is not None and latest is not None else None
        full = _shown(s.site, latest, baseline, conditions, page_instruments, threshold)
        site_rows.append(
            _site_out(s.site, latest, baseline, conditions, page_instruments, level_labels, threshold, full)
        )
    return PortfolioView(
        summary=summary,
        sites=site_rows,
        filters=filters,
        sort=sort,
        options=options,
        levels=levels,
        page=page,
        n_matching=len(matching),
    )
