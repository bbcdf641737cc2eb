"""Typed model of an instrument file (instrument YAML -> validated model).

Pure: no web, database or file imports. `app.instruments.loader` turns YAML into these models
and runs the cross-checks in `app.instruments.checks`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
# Option values travel in form posts and CSV cells, so they stay short and plain.
OptionValue = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+$", max_length=32)]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")]
# Text is either one string (single-language instrument) or one string per declared language.
LocalizedText = str | dict[LanguageCode, str]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Reference(StrictModel):
    citation: str
    url: str | None = None


class RespondentGroup(StrictModel):
    id: Identifier
    label: LocalizedText
    description: LocalizedText | None = None


class ScaleOption(StrictModel):
    value: OptionValue
    label: LocalizedText
    # "scored" options carry a number; "dont_know" and "not_applicable" are counted, never scored;
    # "choice" is a plain unscored answer (used by context questions such as "do you employ PPS?").
    kind: Literal["scored", "dont_know", "not_applicable", "choice"] = "scored"
    score: float | None = None


class Scale(StrictModel):
    id: Identifier
    label: LocalizedText | None = None
    options: list[ScaleOption] = Field(min_length=2)


class ShowIf(StrictModel):
    """Show an item only when an earlier item's answer is (or is not) one of these values."""

    item: Identifier
    in_: list[OptionValue] | None = Field(default=None, alias="in")
    not_in: list[OptionValue] | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Domain(StrictModel):
    id: Identifier
    title: LocalizedText
    description: LocalizedText | None = None
    evidence: list[str] = Field(default_factory=list)


class Item(StrictModel):
    id: Identifier
    domain: Identifier
    text: LocalizedText
    help: LocalizedText | None = None
    scale: Identifier
    # Respondent groups the item is shown to; empty means every group.
    groups: list[Identifier] = Field(default_factory=list)
    required: bool = False
    reverse: bool = False
    show_if: ShowIf | None = None
    # A critical item marks its condition as a priority when its site mean falls below
    # scoring.critical_below, whatever the condition's mean.
    critical: bool = False
    evidence: list[str] = Field(min_length=1)


class ReadinessLevel(StrictModel):
    id: Identifier
    label: LocalizedText
    min: float = Field(ge=0, le=100)
    max: float = Field(ge=0, le=100)
    description: LocalizedText | None = None


class Scoring(StrictModel):
    method: Literal["mean_rescaled"] = "mean_rescaled"
    # A respondent's condition score needs at least this share of their applicable items answered.
    coverage: float = Field(default=0.5, gt=0, le=1)
    levels: list[ReadinessLevel] = Field(min_length=2)
    strength_at: float = Field(default=75, ge=0, le=100)
    priority_below: float = Field(default=60, ge=0, le=100)
    critical_below: float = Field(default=50, ge=0, le=100)
    gap_threshold: float = Field(default=15, gt=0, le=100)
    dont_know_flag_rate: float = Field(default=0.25, gt=0, le=1)
    # Standard deviation (0-100 points) up to which agreement is called high / moderate.
    agreement_high_sd: float = Field(default=15, gt=0)
    agreement_moderate_sd: float = Field(default=25, gt=0)


class ItemsBelow(StrictModel):
    items: list[Identifier] = Field(min_length=1)
    score: float = Field(ge=0, le=100)


class GapBetween(StrictModel):
    """Two named respondent groups whose shown scores for the action's condition differ by at least
    `at_least` points, e.g. `{groups: [leadership, peer_staff], at_least: 20}`."""

    groups: list[Identifier] = Field(min_length=2, max_length=2)
    at_least: float = Field(gt=0, le=100)


class ActionRule(StrictModel):
    """An action is selected when any of the given triggers holds."""

    domain_below: float | None = Field(default=None, ge=0, le=100)
    items_below: ItemsBelow | None = None
    critical_items: list[Identifier] | None = None
    dont_know_above: float | None = Field(default=None, ge=0, le=1)
    # The largest difference between ANY two shown group rows (a general disagreement).
    gap_at_least: float | None = Field(default=None, gt=0, le=100)
    # The difference between two NAMED groups, each shown on its own (not pooled, not suppressed).
    gap_between: GapBetween | None = None


class Action(StrictModel):
    id: Identifier
    domain: Identifier
    title: LocalizedText
    rationale: LocalizedText
    steps: list[LocalizedText] = Field(min_length=1)
    timeframe: LocalizedText
    evidence: list[str] = Field(min_length=1)
    when: ActionRule
    # Base weight used to order actions that are triggered equally (1 = most important).
    priority: int = Field(default=2, ge=1, le=3)


class Instrument(StrictModel):
    id: Identifier
    version: Annotated[str, StringConstraints(pattern=r"^\d+\.\d+(\.\d+)?$")]
    title: LocalizedText
    description: LocalizedText | None = None
    # The first language is the source language; the others are translations that must be complete.
    languages: list[LanguageCode] = Field(default_factory=lambda: ["en"], min_length=1)
    references: dict[str, Reference] = Field(min_length=1)
    groups: list[RespondentGroup] = Field(min_length=1)
    scales: list[Scale] = Field(min_length=1)
    domains: list[Domain] = Field(min_length=1)
    items: list[Item] = Field(min_length=1)
    scoring: Scoring
    actions: list[Action] = Field(default_factory=list)

    _scales: dict[str, Scale] = PrivateAttr(default_factory=dict)
    _items: dict[str, Item] = PrivateAttr(default_factory=dict)
    _domains: dict[str, Domain] = PrivateAttr(default_factory=dict)
    _groups: dict[str, RespondentGroup] = PrivateAttr(default_factory=dict)

    def model_post_init(self, _context: object) -> None:
        # Index once: the form, the rules and the reports look things up by id constantly.
        self._scales = {s.id: s for s in self.scales}
        self._items = {i.id: i for i in self.items}
        self._domains = {d.id: d for d in self.domains}
        self._groups = {g.id: g for g in self.groups}

    # --- lookups used by the form, the rules and the reports -------------------------------
    def scale_by_id(self, scale_id: str) -> Scale:
        return self._scales[scale_id]

    def item_by_id(self, item_id: str) -> Item:
        return self._items[item_id]

    def has_item(self, item_id: str) -> bool:
        return item_id in self._items

    def domain_by_id(self, domain_id: str) -> Domain:
        return self._domains[domain_id]

    def group_by_id(self, group_id: str) -> RespondentGroup:
        return self._groups[group_id]

    def has_group(self, group_id: str) -> bool:
        return group_id in self._groups

    def items_in(self, domain_id: str) -> list[Item]:
        return [i for i in self.items if i.domain == domain_id]

    def is_scored(self, item: Item) -> bool:
        return any(o.kind == "scored" for o in self.scale_by_id(item.scale).options)

    def option(self, item: Item, value: str) -> ScaleOption | None:
        return next((o for o in self.scale_by_id(item.scale).options if o.value == value), None)

    def action_by_id(self, action_id: str) -> Action | None:
        return next((a for a in self.actions if a.id == action_id), None)


def text(value: LocalizedText | None, lang: str = "en") -> str:
    """The text in `lang` (`es-MX` falls back to `es`), else in the source language (listed first)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if lang in value:
        return value[lang]
    base = lang.split("-")[0]
    if base in value:
        return value[base]
    return next(iter(value.values()))
