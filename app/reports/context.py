"""Everything the action-plan report prints, built from stored data by pure rules.

`app.services.reports.build_report_context` gathers a `ReportSources` (the stored scorecard,
never re-scored; the instrument snapshot the assessment is pinned to; the organization's plan,
the consultant commentary and response counts) and `assemble_report_context` here turns it into
the plain, JSON-serializable `ReportContext` (app/reports/models.py): which conditions, groups,
gaps, items, actions and references are shown, and in what order. The renderer
(app/reports/pdf.py) turns that into a PDF and keys its cache on the context's canonical JSON, so
the same stored data always gives the same PDF.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from app import i18n
from app.db.models import Assessment, PlanItem, PlanStatus, ResponseStatus
from app.disclosure.view import more_needed_text
from app.i18n import N_, gettext, ngettext
from app.instruments.citations import short_citation
from app.instruments.models import Instrument, text
from app.reports.models import (
    PAPERS,
    ChangeRow,
    ChangeSection,
    CommentaryBlock,
    CommentLine,
    ConditionSection,
    GapRow,
    GroupCount,
    GroupRow,
    ItemLine,
    PlanAction,
    QuestionLine,
    QuestionOption,
    QuestionSection,
    ReferenceEntry,
    ReportContext,
    ReportLevel,
)
from app.scoring.item_detail import ConditionItems
from app.scoring.models import DomainResult, GroupScore, ItemResult, Scorecard
from app.scoring.reasons import in_language, render_reasons
from app.scoring.rules import POOLED, round1

# English msgids, translated when the report is assembled (in the report's language).
STATUS_LABELS = {
    PlanStatus.in_progress: N_("In progress"),
    PlanStatus.accepted: N_("Planned"),
    PlanStatus.done: N_("Done"),
    PlanStatus.proposed: N_("Recommended, not yet decided"),
}
AGREEMENT_LABELS = {"high": N_("high"), "moderate": N_("moderate"), "low": N_("low")}
POOLED_LABELS = {
    "Other groups (combined)": N_("Other groups (combined)"),
    "All groups (combined)": N_("All groups (combined)"),
}
# Decided actions first, the ones being worked on at the top.
DECIDED_ORDER = {PlanStatus.in_progress: 0, PlanStatus.accepted: 1, PlanStatus.done: 2}


# --- formatting helpers -----------------------------------------------------------------------


def long_date(value: date | datetime | None) -> str | None:
    """ "April 3, 2027" ("3 de abril de 2027"), in the current language: the month written out is
    unambiguous for US and non-US readers alike."""
    if value is None:
        return None
    return i18n.format_date(value)


def _level_label(instrument: Instrument, level_id: str | None, lang: str) -> str | None:
    if level_id is None:
        return None
    level = next((lv for lv in instrument.scoring.levels if lv.id == level_id), None)
    return text(level.label, lang) if level else level_id


# --- what the gather step reads ---------------------------------------------------------------


@dataclass(frozen=True)
class PreviousCycle:
    """The cycle this one follows up, when it belongs to the same organization and has scores."""

    name: str
    scorecard: Scorecard
    computed_at: datetime | None
    same_instrument_version: bool
    # The cycle's own date (when it closed, or started if still open): what "Change since X (date)"
    # names. Not computed_at, which moves whenever the scores are recomputed.
    held_on: datetime | None = None
    closed: bool = True


@dataclass(frozen=True)
class CommentaryText:
    text: str
    author: str | None
    updated_at: datetime


@dataclass(frozen=True)
class ReleaseNote:
    """One sentence of the method notes about the release, as a code and values: written in the
    report's language when the report is assembled (`release_note_text`)."""

    code: Literal["not_released", "released", "held_back", "changed", "paper_import"]
    values: dict[str, Any] = field(default_factory=dict)


def release_note_text(note: ReleaseNote, instrument: Instrument, lang: str) -> str:
    """The note in the current language (the caller has set it to `lang`)."""
    v = note.values
    if note.code == "not_released":
        return gettext("Results appear when the cycle closes: while it is open, no figures are released.")
    if note.code == "released":
        when = long_date(v["date"]) or ""
        if v["number"] > 1:
            return ngettext(
                "These results were released on %(date)s (release %(release)s), from %(num)s submitted "
                "response. They do not change afterwards.",
                "These results were released on %(date)s (release %(release)s), from %(num)s submitted "
                "responses. They do not change afterwards.",
                v["n"],
            ) % {"date": when, "release": v["number"], "num": v["n"]}
        return ngettext(
            "These results were released on %(date)s, from %(num)s submitted response. "
            "They do not change afterwards.",
            "These results were released on %(date)s, from %(num)s submitted responses. "
            "They do not change afterwards.",
            v["n"],
        ) % {"date": when, "num": v["n"]}
    if note.code == "held_back":
        title = _domain_title(instrument, v["domain_id"], v["domain_id"], lang)
        return gettext("%(condition)s: the score is held back; it is %(more)s.") % {
            "condition": title,
            "more": more_needed_text(v["n"], v["threshold"]),
        }
    if note.code == "changed":
        return ngettext(
            "%(num)s response changed after this release. New results are released only when at least "
            "%(threshold)s have changed (%(needed)s more), so that no one person's change can be worked "
            "out by comparing reports.",
            "%(num)s responses changed after this release. New results are released only when at least "
            "%(threshold)s have changed (%(needed)s more), so that no one person's change can be worked "
            "out by comparing reports.",
            v["changed"],
        ) % {"num": v["changed"], "threshold": v["threshold"], "needed": v["needed"]}
    groups = ", ".join(
        f"{text(instrument.group_by_id(g).label, lang) if instrument.has_group(g) else g}: {n}"
        for g, n in v["by_group"].items()
    )
    return ngettext(
        "Paper import of %(date)s by %(who)s%(file)s: %(num)s response (%(groups)s), approved by "
        "%(approver)s. Imported rows show in a group's figures only when they number at least "
        "%(threshold)s there on their own.",
        "Paper import of %(date)s by %(who)s%(file)s: %(num)s responses (%(groups)s), approved by "
        "%(approver)s. Imported rows show in a group's figures only when they number at least "
        "%(threshold)s there on their own.",
        v["n_rows"],
    ) % {
        "date": long_date(v["date"]) or "",
        "who": v["by"] or gettext("an operator"),
        "file": f" ({v['filename']})" if v["filename"] else "",
        "num": v["n_rows"],
        "groups": groups,
        "approver": v["approver"],
        "threshold": v["threshold"],
    }


@dataclass(frozen=True)
class ReportSources:
    """The stored data one report is made from (gathered by `app.services.reports`)."""

    assessment: Assessment
    organization_name: str
    instrument: Instrument
    instrument_hash: str
    scorecard: Scorecard | None  # the stored scorecard, None before any scoring
    results_computed_at: datetime | None
    response_counts: dict[tuple[str, str], int]  # (group, status) -> responses
    comments: dict[str, list[CommentLine]]  # per condition, as shown on the results page
    plan_items: list[PlanItem]  # every plan item of the organization, by id
    previous: PreviousCycle | None
    commentary: CommentaryText | None
    counting_rule: str
    release_notes: tuple[ReleaseNote, ...] = ()
    questions: list[ConditionItems] = field(default_factory=list)  # per-question detail, disclosed


def check_paper(paper: str) -> None:
    if paper not in PAPERS:
        raise ValueError(f"paper must be one of {', '.join(PAPERS)}, not {paper!r}")


# --- the context ------------------------------------------------------------------------------


def report_language(instrument: Instrument, lang: str | None) -> str:
    """The language a report is written in: the one asked for when both the instrument and the
    interface have it, else the instrument's own (first) language."""
    offered = [code for code in instrument.languages if i18n.normalize(code) == code]
    return i18n.normalize(lang, offered) or instrument.languages[0]


def assemble_report_context(
    sources: ReportSources, *, paper: str = "letter", lang: str | None = None
) -> ReportContext:
    """The report of one assessment from its stored data, in `lang` (see `report_language`).
    Raises ValueError for an unknown paper size."""
    check_paper(paper)
    chosen = report_language(sources.instrument, lang)
    # Every sentence built here (labels, notes, dates) is written in the report's language.
    with i18n.use_locale(chosen):
        return _assemble(sources, paper, chosen)


def _assemble(sources: ReportSources, paper: str, lang: str) -> ReportContext:
    assessment = sources.assessment
    assessment_id = assessment.id
    assert assessment_id is not None  # a stored row
    instrument = sources.instrument
    scorecard = sources.scorecard
    has_scores = scorecard is not None and scorecard.n_respondents > 0

    counts = sources.response_counts
    comments = sources.comments if has_scores else {}
    cited: list[str] = []  # evidence keys in order of first citation

    conditions: list[ConditionSection] = []
    # Comments carry their group's label in the source language; print it in the report's.
    source = instrument.languages[0]
    group_labels = {text(g.label, source): text(g.label, lang) for g in instrument.groups}
    if has_scores:
        assert scorecard is not None
        for number, domain in enumerate(instrument.domains, start=1):
            result = next((d for d in scorecard.domains if d.domain_id == domain.id), None)
            if result is None:
                continue
            shown = [
                CommentLine(
                    text=c.text.strip(), group_label=group_labels.get(c.group_label or "", c.group_label)
                )
                for c in comments.get(domain.id, [])
                if c.text.strip()
            ]
            conditions.append(_condition(instrument, scorecard, result, number, shown, lang))
            _cite(cited, domain.evidence)

    decided, recommended = _plan(sources.plan_items, instrument, assessment, lang)
    for action in decided + recommended:
        _cite(cited, action.evidence)

    titles = {d.id: text(d.title, lang) for d in instrument.domains}
    group_counts = [
        GroupCount(
            label=text(group.label, lang),
            scored=(scorecard.respondents_by_group.get(group.id, 0) if scorecard else 0),
            submitted=counts.get((group.id, ResponseStatus.submitted), 0),
            in_progress=counts.get((group.id, ResponseStatus.in_progress), 0),
        )
        for group in instrument.groups
    ]
    commentary = _commentary(sources.commentary)
    strength_ids = scorecard.strengths if has_scores and scorecard else []
    priority_ids = scorecard.priorities if has_scores and scorecard else []
    return ReportContext(
        paper=paper,  # type: ignore[arg-type]
        lang=lang,
        title=gettext("%(organization)s – %(cycle)s: readiness results and action plan")
        % {"organization": sources.organization_name, "cycle": assessment.name},
        assessment_id=assessment_id,
        organization=sources.organization_name,
        cycle=assessment.name,
        status=str(assessment.status),
        results_date=long_date(sources.results_computed_at),
        close_date=long_date(assessment.close_date),
        instrument_id=instrument.id,
        instrument_title=text(instrument.title, lang),
        instrument_version=instrument.version,
        instrument_hash=sources.instrument_hash,
        has_scores=has_scores,
        n_respondents=scorecard.n_respondents if scorecard else 0,
        n_submitted=sum(n for (_, status), n in counts.items() if status == ResponseStatus.submitted),
        n_in_progress=sum(n for (_, status), n in counts.items() if status == ResponseStatus.in_progress),
        counting_rule=gettext(sources.counting_rule),
        privacy_threshold=scorecard.privacy_threshold if scorecard else 3,
        coverage=instrument.scoring.coverage,
        strength_at=instrument.scoring.strength_at,
        priority_below=instrument.scoring.priority_below,
        gap_threshold=instrument.scoring.gap_threshold,
        dont_know_flag_rate=instrument.scoring.dont_know_flag_rate,
        levels=[
            ReportLevel(
                id=lv.id,
                label=text(lv.label, lang),
                min=lv.min,
                max=lv.max,
                description=text(lv.description, lang),
            )
            for lv in instrument.scoring.levels
        ],
        conditions=conditions,
        strengths=[titles[d] for d in strength_ids if d in titles],
        priorities=[titles[d] for d in priority_ids if d in titles],
        top_items=(
            _item_lines(
                instrument,
                {r.item_id: r for d in scorecard.domains for r in d.items},
                scorecard.top_items,
                lang,
            )
            if has_scores and scorecard
            else []
        ),
        group_counts=group_counts,
        suppressed_groups=[
            text(instrument.group_by_id(g).label, lang) if instrument.has_group(g) else g
            for g in (scorecard.suppressed_groups if scorecard else [])
        ],
        plan_decided=decided,
        plan_recommended=recommended,
        change=_change(instrument, scorecard, sources.previous, lang) if has_scores else None,
        commentary=commentary,
        references=[_reference(instrument, key) for key in cited],
        release_notes=[release_note_text(note, instrument, lang) for note in sources.release_notes],
        language_note=language_note(scorecard) if has_scores and scorecard else "",
        questions=[
            QuestionSection(
                domain_id=c.domain_id,
                # the rows are gathered once; their words are the instrument's, in the report's language
                title=_domain_title(instrument, c.domain_id, c.title, lang),
                options=[
                    _option_label(instrument, c.domain_id, value, label, lang) for value, label in c.options
                ],
                items=[
                    QuestionLine(
                        text=text(instrument.item_by_id(i.item_id).text, lang)
                        if instrument.has_item(i.item_id)
                        else i.text,
                        reverse=i.reverse,
                        mean=i.mean,
                        n_scored=i.n_scored,
                        dont_know=i.dont_know,
                        not_applicable=i.not_applicable,
                        distribution=None
                        if i.distribution is None
                        else [
                            QuestionOption(
                                label=_option_label(instrument, c.domain_id, o.value, o.label, lang),
                                count=o.count,
                                share=o.share,
                            )
                            for o in i.distribution
                        ],
                        withheld=i.withheld,
                    )
                    for i in c.items
                ],
            )
            for c in sources.questions
            if c.items
        ],
    )


def language_label(row: GroupScore) -> str:
    """A row of the comparison by language, named in the current language."""
    if row.group != POOLED:
        return i18n.language_name(row.group)
    if row.pooled_groups == [""]:
        return gettext("Language not recorded")
    return gettext("Other languages (combined)")


def language_note(scorecard: Scorecard) -> str:
    """The method notes' sentence on the comparison by language (the results page's words)."""
    if not scorecard.languages:
        return ""
    threshold = scorecard.privacy_threshold
    if len(scorecard.languages) == 1:
        return gettext(
            "All responses with a recorded language were answered in %(language)s, so there is no "
            "comparison by language."
        ) % {"language": i18n.language_name(scorecard.languages[0])}
    if not any(d.languages for d in scorecard.domains):
        return gettext(
            "Responses were answered in more than one language, but no comparison by language can be "
            "shown: in every condition a language group would have fewer than %(threshold)s people, or "
            "comparing it with the group comparison or an earlier release would let someone's answers "
            "be worked out."
        ) % {"threshold": threshold}
    return gettext(
        "Scores of the responses answered in each language. A language is shown on its own only when "
        "at least %(threshold)s people answered in it, both in the condition and within each group "
        "shown in the group comparison; smaller ones are combined, and when that is not enough the "
        "condition has no comparison by language. Paper responses have no recorded language."
    ) % {"threshold": threshold}


def _domain_title(instrument: Instrument, domain_id: str, fallback: str, lang: str) -> str:
    domain = next((d for d in instrument.domains if d.id == domain_id), None)
    return text(domain.title, lang) if domain else fallback


def _option_label(instrument: Instrument, domain_id: str, value: str, fallback: str, lang: str) -> str:
    """An answer's label in the report's language (the per-question rows carry the source's)."""
    for item in instrument.items_in(domain_id):
        for option in instrument.scale_by_id(item.scale).options:
            if option.value == value:
                return text(option.label, lang)
    return fallback


def _cite(cited: list[str], keys: Iterable[str]) -> None:
    for key in keys:
        if key not in cited:
            cited.append(key)


def _reference(instrument: Instrument, key: str) -> ReferenceEntry:
    reference = instrument.references.get(key)
    if reference is None:
        # A custom plan action may name a key the instrument does not define; say so, do not drop it.
        return ReferenceEntry(
            key=key, short=key, citation=gettext("No citation for this key in the instrument.")
        )
    citation = " ".join(reference.citation.split())
    return ReferenceEntry(key=key, short=short_citation(citation), citation=citation, url=reference.url)


def _agreement_label(agreement: str) -> str:
    return gettext(AGREEMENT_LABELS[agreement]) if agreement in AGREEMENT_LABELS else agreement


def _row_label(instrument: Instrument, group_id: str, stored: str, lang: str) -> str:
    """A group row's label in the report's language (stored labels are the source language)."""
    if instrument.has_group(group_id):
        return text(instrument.group_by_id(group_id).label, lang)
    return gettext(POOLED_LABELS[stored]) if stored in POOLED_LABELS else stored


def _stored_or_translated(
    instrument: Instrument, lang: str, stored: str | None, level_id: str | None
) -> str | None:
    """A readiness level label: as stored in the source language, else from the instrument."""
    if lang == instrument.languages[0] and stored:
        return stored
    return _level_label(instrument, level_id, lang) or stored


def _group_label(instrument: Instrument, group_id: str, lang: str, labels: dict[str, str]) -> str:
    if group_id in labels:
        return labels[group_id]
    return text(instrument.group_by_id(group_id).label, lang) if instrument.has_group(group_id) else group_id


def _condition(
    instrument: Instrument,
    scorecard: Scorecard,
    result: DomainResult,
    number: int,
    comments: list[CommentLine],
    lang: str,
) -> ConditionSection:
    domain = instrument.domain_by_id(result.domain_id)
    threshold = scorecard.privacy_threshold
    labels = {g.group: _row_label(instrument, g.group, g.label, lang) for g in result.groups}
    groups = []
    for row in result.groups:
        # The stored scorecard already withholds small groups; the check is repeated so that a
        # suppressed or too-small group can never be printed with a score.
        withheld = row.suppressed or row.score is None or row.n < threshold
        note = ""
        if row.pooled_groups:
            note = gettext("Combines: %(groups)s") % {
                "groups": ", ".join(_group_label(instrument, g, lang, {}) for g in row.pooled_groups)
            }
        if withheld:
            fewer = ngettext(
                "Not shown: fewer than %(num)s respondent",
                "Not shown: fewer than %(num)s respondents",
                threshold,
            ) % {"num": threshold}
            note = (note + ". " if note else "") + fewer
        groups.append(
            GroupRow(label=labels[row.group], n=row.n, score=None if withheld else row.score, note=note)
        )
    shown = {g.label for g in groups if g.score is not None}
    gaps = [
        GapRow(
            higher_label=_group_label(instrument, gap.higher_group, lang, labels),
            lower_label=_group_label(instrument, gap.lower_group, lang, labels),
            higher_score=gap.higher_score,
            lower_score=gap.lower_score,
            difference=gap.difference,
        )
        for gap in result.gaps
        if gap.difference >= instrument.scoring.gap_threshold
    ]
    gaps = [g for g in gaps if g.higher_label in shown and g.lower_label in shown]

    # The item lists are chosen by the rules module (docs/scoring.md, section 9).
    item_results = {r.item_id: r for r in result.items}
    going_well = _item_lines(instrument, item_results, result.going_well, lang)
    to_work_on = _item_lines(instrument, item_results, result.to_work_on, lang)
    withheld_domain = result.suppressed or result.score is None
    level_label = _stored_or_translated(instrument, lang, result.level_label, result.level_id)
    return ConditionSection(
        domain_id=result.domain_id,
        number=number,
        title=text(domain.title, lang),
        description=" ".join(text(domain.description, lang).split()),
        score=None if withheld_domain else result.score,
        level_id=None if withheld_domain else result.level_id,
        level_label=None if withheld_domain else level_label,
        n=result.n,
        n_below_coverage=result.n_below_coverage,
        sd=None if withheld_domain else result.sd,
        agreement=None if withheld_domain or not result.agreement else _agreement_label(result.agreement),
        dont_know=result.dont_know,
        answers_shown=result.answers_shown,
        dont_know_rate=result.dont_know_rate,
        dont_know_flag=result.dont_know_flag,
        is_strength=result.is_strength,
        is_priority=result.is_priority,
        suppressed=result.suppressed,
        priority_reasons=render_reasons(
            [in_language(r, instrument, lang) for r in result.priority_reasons],
            locale=lang,
            translate=gettext,
        ),
        groups=groups,
        gaps=gaps,
        going_well=going_well,
        to_work_on=to_work_on,
        critical_items=[
            text(instrument.item_by_id(i).text, lang) for i in result.critical_flags if instrument.has_item(i)
        ],
        evidence=list(domain.evidence),
        comments=comments,
        languages=_language_rows(result, threshold) if not withheld_domain else [],
    )


def _language_rows(result: DomainResult, threshold: int) -> list[GroupRow]:
    """The condition's comparison by language as released; all of it or nothing (the check is
    repeated so that a row below the threshold can never be printed beside the others)."""
    if any(row.score is None or row.n < threshold for row in result.languages):
        return []
    return [GroupRow(label=language_label(row), n=row.n, score=row.score) for row in result.languages]


def _item_lines(
    instrument: Instrument, results: dict[str, ItemResult], item_ids: Iterable[str], lang: str
) -> list[ItemLine]:
    """The listed items with their text and shown mean (a withheld mean is never printed)."""
    lines = []
    for item_id in item_ids:
        result = results.get(item_id)
        if result is None or result.mean is None or result.suppressed or not instrument.has_item(item_id):
            continue
        text_ = text(instrument.item_by_id(item_id).text, lang)
        lines.append(ItemLine(text=text_, mean=result.mean, critical=result.critical_flag))
    return lines


def _plan(
    rows: list[PlanItem], instrument: Instrument, assessment: Assessment, lang: str
) -> tuple[list[PlanAction], list[PlanAction]]:
    """The organization's plan: decided actions first; proposed ones as recommendations;
    dismissed ones omitted. One recommendation per library action (the newest cycle's)."""
    rows = [r for r in rows if r.status != PlanStatus.dismissed]
    decided = sorted(
        (r for r in rows if r.status in DECIDED_ORDER),
        key=lambda r: (
            DECIDED_ORDER[r.status],
            r.due_date is None,
            r.due_date or date.max,
            r.rank is None,
            r.rank or 0,
            r.id or 0,
        ),
    )
    decided_actions = {r.action_id for r in decided if r.action_id}
    recommended: dict[str, PlanItem] = {}
    for row in rows:
        if row.status != PlanStatus.proposed or (row.action_id and row.action_id in decided_actions):
            continue
        key = row.action_id or f"custom-{row.id}"
        current = recommended.get(key)
        # Prefer the recommendation made for this cycle, then the newest.
        this_cycle = row.assessment_id == assessment.id
        if current is None or this_cycle >= (current.assessment_id == assessment.id):
            recommended[key] = row
    proposed = sorted(recommended.values(), key=lambda r: (r.rank is None, r.rank or 0, r.id or 0))
    return (
        [_plan_action(instrument, r, lang) for r in decided],
        [_plan_action(instrument, r, lang) for r in proposed],
    )


def _plan_action(instrument: Instrument, row: PlanItem, lang: str) -> PlanAction:
    condition = None
    if row.domain_id and row.domain_id in {d.id for d in instrument.domains}:
        condition = text(instrument.domain_by_id(row.domain_id).title, lang)
    title, rationale, steps, timeframe = row.title, row.rationale or "", list(row.steps or []), row.timeframe
    action = instrument.action_by_id(row.action_id) if row.action_id else None
    source = instrument.languages[0]
    # A library action is printed in the report's language unless the agency edited its words.
    if action is not None and lang != source and row.title == text(action.title, source):
        title = text(action.title, lang)
        if rationale == text(action.rationale, source):
            rationale = text(action.rationale, lang)
        if [str(s) for s in steps] == [text(s, source) for s in action.steps]:
            steps = [text(s, lang) for s in action.steps]
        if action.timeframe is not None and timeframe == text(action.timeframe, source):
            timeframe = text(action.timeframe, lang)
    return PlanAction(
        title=title,
        condition=condition,
        rationale=rationale,
        steps=[str(s) for s in steps if str(s).strip()],
        timeframe=timeframe,
        owner=row.owner,
        due_date=long_date(row.due_date),
        status=str(row.status),
        status_label=gettext(STATUS_LABELS[row.status]) if row.status in STATUS_LABELS else str(row.status),
        notes=row.notes,
        evidence=[str(e) for e in (row.evidence or [])],
        custom=row.action_id is None,
    )


def _change(
    instrument: Instrument,
    scorecard: Scorecard | None,
    previous: PreviousCycle | None,
    lang: str,
) -> ChangeSection | None:
    if scorecard is None or previous is None:
        return None
    before = previous.scorecard
    if before.n_respondents == 0:
        return None
    rows = []
    for domain in instrument.domains:
        now = next((d for d in scorecard.domains if d.domain_id == domain.id), None)
        then = next((d for d in before.domains if d.domain_id == domain.id), None)
        now_score = None if now is None or now.suppressed else now.score
        then_score = None if then is None or then.suppressed else then.score
        rows.append(
            ChangeRow(
                title=text(domain.title, lang),
                then=then_score,
                now=now_score,
                change=None if now_score is None or then_score is None else round1(now_score - then_score),
                then_level=(
                    _stored_or_translated(instrument, lang, then.level_label, then.level_id)
                    if then and then_score is not None
                    else None
                ),
                now_level=(
                    _stored_or_translated(instrument, lang, now.level_label, now.level_id)
                    if now and now_score is not None
                    else None
                ),
            )
        )
    return ChangeSection(
        previous_cycle=previous.name,
        previous_date=long_date(previous.held_on),
        previous_closed=previous.closed,
        same_instrument_version=previous.same_instrument_version,
        rows=rows,
    )


def _commentary(row: CommentaryText | None) -> CommentaryBlock | None:
    if row is None or not row.text.strip():
        return None
    return CommentaryBlock(text=row.text.strip(), author=row.author, updated=long_date(row.updated_at) or "")
