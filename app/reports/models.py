"""What the action-plan report shows, as plain frozen data: the renderer's only input, and (as
canonical JSON) the key of its cache. Built by `app.reports.context` from what
`app.services.reports` gathers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Paper = Literal["letter", "a4"]
PAPERS: tuple[str, ...] = ("letter", "a4")


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True)


class ReportLevel(_Data):
    id: str
    label: str
    min: float
    max: float
    description: str = ""


class GroupRow(_Data):
    label: str
    n: int
    score: float | None  # None: withheld (fewer respondents than the privacy threshold)
    note: str = ""


class GapRow(_Data):
    higher_label: str
    lower_label: str
    higher_score: float
    lower_score: float
    difference: float


class ItemLine(_Data):
    text: str
    mean: float
    critical: bool = False


class CommentLine(_Data):
    text: str
    group_label: str | None  # None when the group is too small to name


class ConditionSection(_Data):
    domain_id: str
    number: int
    title: str
    description: str
    score: float | None
    level_id: str | None
    level_label: str | None
    n: int
    n_below_coverage: int
    sd: float | None
    agreement: str | None
    dont_know: int
    answers_shown: int
    dont_know_rate: float
    dont_know_flag: bool
    is_strength: bool
    is_priority: bool
    suppressed: bool
    priority_reasons: list[str]
    groups: list[GroupRow]
    gaps: list[GapRow]  # only the notable ones (at least the instrument's gap threshold)
    going_well: list[ItemLine]
    to_work_on: list[ItemLine]
    critical_items: list[str]
    evidence: list[str]
    comments: list[CommentLine]
    # The comparison by language (rows as released; label in the report's language). Empty: none.
    languages: list[GroupRow] = Field(default_factory=list)


class PlanAction(_Data):
    title: str
    condition: str | None
    rationale: str
    steps: list[str]
    timeframe: str | None
    owner: str | None
    due_date: str | None
    status: str
    status_label: str
    notes: str | None
    evidence: list[str]
    custom: bool


class ChangeRow(_Data):
    title: str
    then: float | None
    now: float | None
    change: float | None
    then_level: str | None
    now_level: str | None


class ChangeSection(_Data):
    previous_cycle: str
    previous_date: str | None
    previous_closed: bool = True
    same_instrument_version: bool
    rows: list[ChangeRow]


class GroupCount(_Data):
    label: str
    scored: int  # respondents of the group in the scorecard
    submitted: int
    in_progress: int


class ReferenceEntry(_Data):
    key: str
    short: str  # "Valentine et al., 2022": what the text prints where a source is cited
    citation: str
    url: str | None = None


class CommentaryBlock(_Data):
    text: str
    author: str | None
    updated: str


class QuestionOption(_Data):
    label: str
    count: int
    share: float


class QuestionLine(_Data):
    text: str
    reverse: bool
    mean: float | None
    n_scored: int
    dont_know: int | None  # None when the disclosure rules hold it back
    not_applicable: int | None
    distribution: list[QuestionOption] | None
    withheld: str


class QuestionSection(_Data):
    domain_id: str
    title: str
    options: list[str]  # the scale's option labels, for the table's headings
    items: list[QuestionLine]


class ReportContext(_Data):
    """What the report shows. Plain data only: its JSON is the renderer's cache key."""

    paper: Paper
    lang: str
    title: str
    assessment_id: int
    organization: str
    cycle: str
    status: str
    results_date: str | None  # when the stored scorecard was computed
    close_date: str | None
    instrument_id: str
    instrument_title: str
    instrument_version: str
    instrument_hash: str
    has_scores: bool
    n_respondents: int
    n_submitted: int
    n_in_progress: int
    counting_rule: str
    privacy_threshold: int
    coverage: float
    strength_at: float
    priority_below: float
    gap_threshold: float
    dont_know_flag_rate: float
    levels: list[ReportLevel]
    conditions: list[ConditionSection]
    strengths: list[str]  # condition titles, strongest first
    priorities: list[str]  # condition titles, most urgent first
    top_items: list[ItemLine]  # best-rated statements across conditions, for the summary
    group_counts: list[GroupCount]
    suppressed_groups: list[str]
    plan_decided: list[PlanAction]
    plan_recommended: list[PlanAction]
    change: ChangeSection | None
    commentary: CommentaryBlock | None
    references: list[ReferenceEntry]
    questions: list[QuestionSection] = Field(default_factory=list)  # per-question appendix
    # Plain sentences on the release these figures come from, figures held back and why, and the
    # paper imports counted (docs/privacy.md); printed in the method notes.
    release_notes: list[str] = []
    # One sentence on the comparison by language for the method notes ("" when the release
    # records no language).
    language_note: str = ""

    def cite(self, keys: list[str]) -> str:
        """The short citations of `keys`, as printed after "Evidence:" ("Valentine et al., 2022; …")."""
        shorts = {ref.key: ref.short for ref in self.references}
        return "; ".join(shorts.get(key, key) for key in keys)

    def canonical_json(self) -> str:
        # Pydantic dumps fields in declaration order, lists in their given order: stable.
        return self.model_dump_json()
