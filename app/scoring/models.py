"""Result types of the rules module. Plain data, JSON-serializable (stored with an assessment).

Every number in a scorecard is the SHOWN value (rounded once by `app.scoring.numbers`), stored as
a float whose repr is the shown number (59.5, 0.133). Reasons are stored as data (a code and its
parameters); `app.scoring.reasons` writes them as sentences.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


ReasonCode = Literal[
    "priority_line",  # a condition's score is below the priority line
    "critical_item",  # a critical item's mean is below critical_below
    "domain_below",  # action trigger domain_below
    "item_below",  # action trigger items_below, one per item
    "dont_know_above",  # action trigger dont_know_above
    "gap_at_least",  # action trigger gap_at_least
    "gap_between",  # action trigger gap_between
    "text",  # a sentence stored as text by an older version (written as is)
]


class Reason(Frozen):
    """Why a condition is a priority or an action is selected, as data: a code and the values the
    sentence needs (ids, the titles and labels in the scorecard's language, shown numbers).
    `app.scoring.reasons.render_reason` turns it into the sentence; docs/scoring.md lists every
    code with its exact English wording."""

    code: ReasonCode
    params: dict[str, str | int | float] = Field(default_factory=dict)


def _reasons_from_text(value: Any) -> Any:
    """Scorecards stored before reasons were data hold plain sentences: keep them as `text`."""
    if isinstance(value, list):
        return [{"code": "text", "params": {"text": v}} if isinstance(v, str) else v for v in value]
    return value


Reasons = Annotated[list[Reason], BeforeValidator(_reasons_from_text)]


class ResponseInput(Frozen):
    """One respondent's answers: item id -> option value (scored, "don't know", "N/A" or choice).

    `asked` is for a research export (docs/csv-layout.md, "Research exports"), which has no
    respondent group: the items the respondent was shown, as recorded there. With it, `group` is
    "" and visibility is read from `asked` instead of being worked out from group and answers.
    """

    respondent_id: str
    group: str
    answers: dict[str, str] = Field(default_factory=dict)
    # "web" (the form) or "import" (paper rows): each source must reach the privacy threshold on
    # its own in a cell before that cell's figure is shown (app/disclosure/policy.py).
    source: str = "web"
    asked: frozenset[str] | None = None
    # The language the response was answered in ("en", "es"; None: not recorded, as for paper
    # rows): the comparison by language (docs/scoring.md, section 10) is made from it.
    language: str | None = None

    @model_validator(mode="after")
    def _group_or_asked(self) -> ResponseInput:
        if not self.group and self.asked is None:
            raise ValueError("a response needs a respondent group, or the items it was asked")
        return self


class GroupScore(Frozen):
    group: str  # group id, or "pooled" for small groups combined
    label: str
    n: int  # respondents in the group with a score for this condition
    score: float | None  # None when suppressed (n below the privacy threshold)
    suppressed: bool = False
    pooled_groups: list[str] = Field(default_factory=list)


class PerceptionGap(Frozen):
    higher_group: str
    lower_group: str
    higher_score: float
    lower_score: float
    difference: float


class ItemResult(Frozen):
    item_id: str
    n_scored: int
    mean: float | None  # 0-100 after reverse-scoring
    dont_know: int
    not_applicable: int
    shown_to: int  # respondents to whom the item was visible
    critical: bool = False  # the item is marked critical in the instrument
    critical_flag: bool = False  # ...and its mean fell below scoring.critical_below
    # Added by the rules module: "choice" answers (counted, never scored), and whether the mean
    # is withheld because fewer than privacy_threshold respondents gave it a scored answer.
    choice: int = 0
    suppressed: bool = False
    # Set by the disclosure layer: the "Don't know" / "Not applicable" / choice counts are
    # withheld (shown as hidden, stored as 0) because fewer than the threshold saw the item.
    counts_withheld: bool = False


class DomainResult(Frozen):
    domain_id: str
    title: str
    score: float | None  # mean of respondent condition scores, 0-100; None if nobody met coverage
    level_id: str | None
    level_label: str | None
    n: int  # respondents with a condition score
    n_below_coverage: int  # respondents who answered too few items to get a score
    sd: float | None
    min: float | None = None
    max: float | None = None
    agreement: str | None  # "high" | "moderate" | "low"; None when n < 2
    dont_know: int
    not_applicable: int
    answers_shown: int  # visible item x respondent pairs
    dont_know_rate: float
    dont_know_flag: bool
    groups: list[GroupScore] = Field(default_factory=list)
    gaps: list[PerceptionGap] = Field(default_factory=list)
    items: list[ItemResult] = Field(default_factory=list)
    critical_flags: list[str] = Field(default_factory=list)
    is_strength: bool = False
    is_priority: bool = False
    priority_reasons: Reasons = Field(default_factory=list)
    # Item lists of the report and the results page (item ids, see docs/scoring.md section 9):
    # the best items (shown mean >= strength_at, highest first) and the lowest ones (shown mean
    # < priority_below, lowest first, critical-flagged items left out: the reasons name them).
    going_well: list[str] = Field(default_factory=list)
    to_work_on: list[str] = Field(default_factory=list)
    # Added by the rules module: respondents who marked every item they saw here "Not applicable"
    # (no score, not counted below coverage), and whether score/sd/min/max/level are withheld
    # because fewer than privacy_threshold respondents have a condition score.
    n_all_not_applicable: int = 0
    suppressed: bool = False
    # Set by the disclosure layer: the condition's "Don't know" / "Not applicable" counts and rate
    # are withheld (stored as 0) because the site row itself may not be shown.
    counts_withheld: bool = False
    # The comparison by language (app.disclosure.policy.pool_languages): rows of the languages
    # shown on their own (`group` is the language code, `label` too), then the pooled row
    # (`group` "pooled", `pooled_groups` the languages in it). Empty when it may not be shown.
    languages: list[GroupScore] = Field(default_factory=list)
    # The release audit withheld this condition's comparison by language (app.disclosure.release).
    languages_withheld: bool = False


class SelectedAction(Frozen):
    action_id: str
    domain_id: str
    title: str
    rank: int  # 1 = do first
    reasons: Reasons
    timeframe: str
    evidence: list[str]


class Scorecard(Frozen):
    instrument_id: str
    instrument_version: str
    n_respondents: int
    respondents_by_group: dict[str, int]
    privacy_threshold: int
    suppressed_groups: list[str] = Field(default_factory=list)
    domains: list[DomainResult]
    strengths: list[str]  # domain ids, strongest first
    priorities: list[str]  # domain ids, most urgent first
    actions: list[SelectedAction]
    # The best items across all conditions, for the report's summary (item ids; see docs/scoring.md).
    top_items: list[str] = Field(default_factory=list)
    # The recorded languages the counted responses were answered in (codes, sorted): pages say
    # "all in English" when there is one. Never a count per language.
    languages: list[str] = Field(default_factory=list)

    def domain(self, domain_id: str) -> DomainResult:
        return next(d for d in self.domains if d.domain_id == domain_id)
