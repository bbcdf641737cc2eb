"""What a funder may see about a portfolio: site-level figures only.

These models are the response models of the JSON API and the data behind the pages and exports,
so the privacy rules are applied once (`app.portfolio.privacy`, through `app.portfolio.view`) and
every output inherits them.
There is deliberately no field for a respondent group, an item or a comment.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SiteStatus = Literal["scored", "below_threshold", "no_completed_cycle"]
ScoreStatus = Literal["shown", "suppressed", "no_score"]


class Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class PortfolioRef(Out):
    id: int
    name: str
    description: str | None = None
    n_sites: int = Field(description="Sites in the portfolio (before filters).")


class CycleOut(Out):
    """An assessment cycle of a site, as far as a funder may see it."""

    assessment_id: int
    name: str
    date: dt.date = Field(description="Closing date of the cycle (close_date, else the day it was closed).")
    instrument_id: str
    instrument_version: str
    instrument_title: str
    n_respondents: int | None = Field(
        description="Respondents scored; null when below the privacy threshold (then only 'fewer than N')."
    )
    expected_respondents: int | None
    response_rate: float | None = Field(
        description="n_respondents / expected_respondents (0-1); null when unknown or below the threshold."
    )


class ConditionScore(Out):
    condition_id: str
    condition_title: str
    status: ScoreStatus = Field(
        description="shown; suppressed (fewer respondents than the privacy threshold); "
        "no_score (nobody answered enough items)."
    )
    score: float | None = Field(
        description="Site score 0-100 (mean of respondent scores); null unless shown."
    )
    level_id: str | None = None
    level_label: str | None = None
    n: int | None = Field(
        default=None, description="Respondents with a score for this condition; null unless shown."
    )


class ConditionChange(Out):
    condition_id: str
    baseline_score: float | None
    latest_score: float | None
    change: float | None = Field(description="latest - baseline in points; null unless both are shown.")


class SiteOut(Out):
    organization_id: int
    name: str
    region: str | None
    cohort: str | None
    status: SiteStatus
    status_text: str = Field(description="The status in words, as the page shows it.")
    latest: CycleOut | None = Field(description="The latest completed (closed and scored) cycle.")
    baseline: CycleOut | None = Field(
        description="The earliest completed cycle, when it differs from latest."
    )
    scores: list[ConditionScore] = Field(default_factory=list)
    changes: list[ConditionChange] = Field(default_factory=list)

    def score_for(self, condition_id: str) -> ConditionScore | None:
        return next((s for s in self.scores if s.condition_id == condition_id), None)

    def change_for(self, condition_id: str) -> ConditionChange | None:
        return next((c for c in self.changes if c.condition_id == condition_id), None)


class ConditionRef(Out):
    id: str
    title: str


class InstrumentInUse(Out):
    instrument_id: str
    version: str
    title: str
    n_sites: int


class LevelCount(Out):
    level_id: str
    label: str
    count: int


class ScoreBin(Out):
    lower: int
    upper: int
    count: int
    label: str


class ConditionDistribution(Out):
    condition_id: str
    condition_title: str
    n_sites_scored: int
    median: float | None
    minimum: float | None
    maximum: float | None
    bins: list[ScoreBin]
    levels: list[LevelCount]
    n_not_shown: int = Field(
        description="Sites with a completed cycle but no score shown for this condition."
    )


class PortfolioSummary(Out):
    portfolio: PortfolioRef
    privacy_threshold: int
    n_sites: int = Field(description="Sites after filters.")
    n_scored: int
    n_below_threshold: int
    n_no_completed_cycle: int
    instruments: list[InstrumentInUse]
    shared_conditions: list[ConditionRef] = Field(
        description="Conditions shared (same ids) by all scored sites' instrument versions."
    )
    comparability_note: str | None
    distributions: list[ConditionDistribution]


class SitesPage(Out):
    portfolio: PortfolioRef
    privacy_threshold: int
    shared_conditions: list[ConditionRef]
    comparability_note: str | None
    sites: list[SiteOut] = Field(description="This page of the sorted site table.")
    total_sites: int = Field(description="Sites that pass the filters and the search, on all pages.")
    page: int = Field(description="This page's number, from 1.")
    per_page: int | None = Field(description="Sites per page (null: every site on one page).")
    pages: int = Field(description="Number of pages.")
