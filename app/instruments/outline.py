"""The questions one respondent group is asked, in order and numbered, with each conditional
question's rule in a form that can be said in words ("If you answered X to question 1, ...").

Pure: shared by the web preview of an instrument and the printable paper form, so both number
the questions alike and say the same thing about the conditional ones. Sections follow the
instrument's conditions (domains), in instrument order, as the web form's pages do.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.instruments.models import Domain, Instrument, Item, ScaleOption


@dataclass(frozen=True)
class Condition:
    """An item shown only for some answers to an earlier question (its `show_if`)."""

    source_number: int  # the question whose answer decides
    source: Item
    # Shown when the source's answer is one of `options` (when `shown_for` is True) or is any
    # answer except them (when False).
    options: tuple[ScaleOption, ...]
    shown_for: bool
    source_section: int  # the section (1-based) the source question is in


@dataclass(frozen=True)
class Question:
    number: int  # 1..N across the whole form of the group
    item: Item
    options: tuple[ScaleOption, ...]
    condition: Condition | None


@dataclass(frozen=True)
class ConditionalBlock:
    """Consecutive questions of one section that share one condition: said once, before the
    first, with where to go otherwise (`skip_to`, None when nothing follows in the form)."""

    condition: Condition
    first: int
    last: int
    skip_to: int | None


@dataclass(frozen=True)
class Section:
    number: int  # 1..M
    domain: Domain
    questions: tuple[Question, ...]
    blocks: tuple[ConditionalBlock, ...]

    def block_starting_at(self, number: int) -> ConditionalBlock | None:
        return next((b for b in self.blocks if b.first == number), None)


@dataclass(frozen=True)
class Outline:
    instrument: Instrument
    group: str
    sections: tuple[Section, ...]

    @property
    def questions(self) -> tuple[Question, ...]:
        return tuple(q for s in self.sections for q in s.questions)

    @property
    def item_ids(self) -> list[str]:
        return [q.item.id for q in self.questions]


def asked_of(instrument: Instrument, item: Item, group: str) -> bool:
    return not item.groups or group in item.groups


def _askable(instrument: Instrument, group: str) -> set[str]:
    """Items the group can be shown for some answers: asked of the group, and (for a conditional
    item) its deciding question askable too. An item whose deciding question the group is never
    asked never shows (as `visible_items` decides), so the forms leave it out."""
    asked = {i.id for i in instrument.items if asked_of(instrument, i, group)}
    changed = True
    while changed:
        changed = False
        for item in instrument.items:
            if item.id in asked and item.show_if is not None and item.show_if.item not in asked:
                asked.discard(item.id)
                changed = True
    return asked


def outline(instrument: Instrument, group: str) -> Outline:
    """Every question the group may be asked (conditional ones included), numbered in form order."""
    if not instrument.has_group(group):
        raise ValueError(f"unknown respondent group {group!r}")
    asked = _askable(instrument, group)
    by_domain: dict[str, list[Item]] = {d.id: [] for d in instrument.domains}
    for item in instrument.items:
        if item.id in asked:
            by_domain.setdefault(item.domain, []).append(item)
    numbers: dict[str, int] = {}
    section_of: dict[str, int] = {}
    ordered: list[tuple[Domain, list[Item]]] = []
    for domain in instrument.domains:
        items = by_domain[domain.id]
        if not items:
            continue
        ordered.append((domain, items))
        for item in items:
            numbers[item.id] = len(numbers) + 1
            section_of[item.id] = len(ordered)
    total = len(numbers)
    sections: list[Section] = []
    for index, (domain, items) in enumerate(ordered, start=1):
        questions = tuple(
            Question(
                number=numbers[item.id],
                item=item,
                options=tuple(instrument.scale_by_id(item.scale).options),
                condition=_condition(instrument, item, numbers, section_of),
            )
            for item in items
        )
        sections.append(
            Section(number=index, domain=domain, questions=questions, blocks=_blocks(questions, total))
        )
    return Outline(instrument=instrument, group=group, sections=tuple(sections))


def _condition(
    instrument: Instrument, item: Item, numbers: dict[str, int], section_of: dict[str, int]
) -> Condition | None:
    rule = item.show_if
    if rule is None:
        return None
    source = instrument.item_by_id(rule.item)
    options = instrument.scale_by_id(source.scale).options
    if rule.in_ is not None:
        chosen, shown_for = [o for o in options if o.value in rule.in_], True
    else:
        chosen, shown_for = [o for o in options if o.value in (rule.not_in or [])], False
    return Condition(numbers[source.id], source, tuple(chosen), shown_for, section_of[source.id])


def _blocks(questions: tuple[Question, ...], total: int) -> tuple[ConditionalBlock, ...]:
    blocks: list[ConditionalBlock] = []
    for question in questions:
        condition = question.condition
        if condition is None:
            continue
        if blocks and blocks[-1].condition == condition and blocks[-1].last == question.number - 1:
            previous = blocks.pop()
            blocks.append(
                ConditionalBlock(condition, previous.first, question.number, _after(question, total))
            )
        else:
            blocks.append(
                ConditionalBlock(condition, question.number, question.number, _after(question, total))
            )
    return tuple(blocks)


def _after(question: Question, total: int) -> int | None:
    return question.number + 1 if question.number < total else None
