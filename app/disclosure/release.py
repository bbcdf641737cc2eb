"""The release decision, pure: what a new release shows, given every earlier release.

A release is the disclosed scorecard of a closed cycle (docs/privacy.md, "Releases"). The first
release of a cycle goes out at close. After the whole cycle is reopened and closed again, a new
release goes out only when
1. at least k responses were added, changed or withdrawn since the last release
   (`policy.may_rerelease`), and
2. the row-space audit (`app.disclosure.audit`) over the cells of all releases finds nobody's
   value solvable; new group rows and item means are suppressed, smallest first, until it does,
   and if a condition's site row itself would still give somebody away, nothing is released.
Otherwise the last release stays, and the page says why.

Member ids: a respondent's id plus a fingerprint of the answers a cell is made from, so a person
who changed their answers is a NEW unknown in the audit (their old and new values differ), while
a person who did not change them is the same unknown in every release.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from app.disclosure import policy
from app.disclosure.audit import Cell, audit_cells
from app.disclosure.view import disclose_scorecard
from app.instruments.models import Instrument
from app.scoring.models import Reason, ResponseInput, Scorecard
from app.scoring.rules import POOLED, language_of, membership

__all__ = [
    "Decision",
    "apply_suppression",
    "cells_from_json",
    "cells_to_json",
    "count_changes",
    "decide_release",
    "fingerprints",
    "is_language_row",
    "release_cells",
]

# Rows of the comparison by language in the release cells: "lang:<code>", "lang:pooled".
LANGUAGE_ROW = "lang:"


def is_language_row(row: str) -> bool:
    return row.startswith(LANGUAGE_ROW)


def _digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def fingerprints(responses: Sequence[ResponseInput]) -> dict[str, str]:
    """Respondent id -> fingerprint of their group, source and answers (to count changes)."""
    return {r.respondent_id: _digest([r.group, r.source, sorted(r.answers.items())]) for r in responses}


def count_changes(previous: Mapping[str, str], current: Mapping[str, str]) -> int:
    """Responses added, withdrawn or changed between two releases' fingerprints."""
    ids = set(previous) | set(current)
    return sum(1 for i in ids if previous.get(i) != current.get(i))


def release_cells(
    instrument: Instrument, responses: Sequence[ResponseInput], scorecard: Scorecard
) -> list[Cell]:
    """Every figure the (disclosed) scorecard shows, as the set of member ids it sums."""
    by_id = {r.respondent_id: r for r in responses}
    members = membership(instrument, responses)
    domain_items = {d.id: [i.id for i in instrument.items_in(d.id)] for d in instrument.domains}

    def domain_member(rid: str, domain_id: str) -> str:
        answers = by_id[rid].answers
        return f"{rid}:" + _digest(sorted((i, answers[i]) for i in domain_items[domain_id] if i in answers))

    def item_member(rid: str, item_id: str) -> str:
        return f"{rid}:" + _digest(by_id[rid].answers.get(item_id))

    cells: list[Cell] = []
    for domain in scorecard.domains:
        scored = members.domains.get(domain.domain_id, {})
        attribute = f"domain:{domain.domain_id}"
        if domain.score is not None:
            cells.append(
                Cell(attribute, "site", frozenset(domain_member(r, domain.domain_id) for r in scored))
            )
        for row in domain.groups:
            if row.score is None:
                continue
            groups = set(row.pooled_groups) if row.group == POOLED else {row.group}
            cells.append(
                Cell(
                    attribute,
                    row.group,
                    frozenset(domain_member(r, domain.domain_id) for r, g in scored.items() if g in groups),
                )
            )
        for row in domain.languages:
            codes = set(row.pooled_groups) if row.group == POOLED else {row.group}
            cells.append(
                Cell(
                    attribute,
                    LANGUAGE_ROW + row.group,
                    frozenset(
                        domain_member(r, domain.domain_id) for r in scored if language_of(by_id[r]) in codes
                    ),
                )
            )
        for item in domain.items:
            if item.mean is not None:
                cells.append(
                    Cell(
                        f"item:{item.item_id}",
                        "item",
                        frozenset(item_member(r, item.item_id) for r in members.items.get(item.item_id, [])),
                    )
                )
    return cells


def cells_to_json(cells: Sequence[Cell]) -> list[dict[str, Any]]:
    return [{"attribute": c.attribute, "row": c.row, "members": sorted(c.members)} for c in cells]


def cells_from_json(data: Sequence[Mapping[str, Any]]) -> list[Cell]:
    return [Cell(str(c["attribute"]), str(c["row"]), frozenset(c["members"])) for c in data]


_GROUP_PARAMS = ("higher_group", "lower_group", "first_group", "second_group")


def _reason_hidden(reason: Reason, hidden_groups: Mapping[str, set[str]], hidden_items: set[str]) -> bool:
    params = reason.params
    if params.get("item") in hidden_items:
        return True
    domain = str(params.get("domain", ""))
    return any(params.get(k) in hidden_groups.get(domain, set()) for k in _GROUP_PARAMS)


def apply_suppression(scorecard: Scorecard, keys: set[tuple[str, str]]) -> Scorecard:
    """The scorecard with the audit's suppressed cells hidden (group rows and item means), and
    everything that repeated them (gaps, item lists, reasons, actions) left out. A suppressed
    language row withholds the condition's whole comparison by language (one row shown alone
    beside a hidden one would be "site minus the shown rows" again)."""
    if not keys:
        return scorecard
    hidden_groups: dict[str, set[str]] = {}
    hidden_items: set[str] = set()
    for attribute, row in keys:
        kind, _, ident = attribute.partition(":")
        if kind == "domain":
            hidden_groups.setdefault(ident, set()).add(row)
        else:
            hidden_items.add(ident)
    domains = []
    for d in scorecard.domains:
        groups_hidden = hidden_groups.get(d.domain_id, set())
        rows = [
            r.model_copy(update={"score": None, "suppressed": True}) if r.group in groups_hidden else r
            for r in d.groups
        ]
        items = [
            i.model_copy(update={"mean": None, "suppressed": True, "critical_flag": False})
            if i.item_id in hidden_items
            else i
            for i in d.items
        ]
        reasons = [r for r in d.priority_reasons if not _reason_hidden(r, hidden_groups, hidden_items)]
        languages_hidden = any(is_language_row(r) for r in groups_hidden)
        domains.append(
            d.model_copy(
                update={
                    "groups": rows,
                    "languages": [] if languages_hidden else d.languages,
                    "languages_withheld": d.languages_withheld or (languages_hidden and bool(d.languages)),
                    "items": items,
                    "gaps": [
                        g
                        for g in d.gaps
                        if g.higher_group not in groups_hidden and g.lower_group not in groups_hidden
                    ],
                    "going_well": [i for i in d.going_well if i not in hidden_items],
                    "to_work_on": [i for i in d.to_work_on if i not in hidden_items],
                    "critical_flags": [i for i in d.critical_flags if i not in hidden_items],
                    "priority_reasons": reasons,
                    "is_priority": bool(reasons),
                }
            )
        )
    actions: list[Any] = []  # the scorecard's actions, each kept with its visible reasons
    for action in scorecard.actions:
        kept = [r for r in action.reasons if not _reason_hidden(r, hidden_groups, hidden_items)]
        if kept:
            actions.append(action.model_copy(update={"reasons": kept, "rank": len(actions) + 1}))
    priorities = [p for p in scorecard.priorities if next(d for d in domains if d.domain_id == p).is_priority]
    return scorecard.model_copy(
        update={
            "domains": domains,
            "actions": actions,
            "priorities": priorities,
            "top_items": [i for i in scorecard.top_items if i not in hidden_items],
        }
    )


HeldReason = Literal["too_few_changes", "audit"]


@dataclass
class Decision:
    """What to do at close: release `scorecard` (with `cells`, `fingerprints`) or hold."""

    release: bool
    scorecard: Scorecard | None = None
    cells: list[Cell] = field(default_factory=list)
    fingerprints: dict[str, str] = field(default_factory=dict)
    changed: int = 0
    held: HeldReason | None = None
    changes_needed: int = 0
    suppressed: set[tuple[str, str]] = field(default_factory=set)


def decide_release(
    instrument: Instrument,
    responses: Sequence[ResponseInput],
    scorecard: Scorecard,
    *,
    previous_cells: Sequence[Cell],
    previous_fingerprints: Mapping[str, str] | None,
) -> Decision:
    """Decide the next release of a cycle from its counted responses and raw scorecard.
    `previous_fingerprints` is None for the first release."""
    threshold = scorecard.privacy_threshold
    disclosed = disclose_scorecard(scorecard)
    prints = fingerprints(responses)
    changed = len(prints) if previous_fingerprints is None else count_changes(previous_fingerprints, prints)
    if previous_fingerprints is not None:
        if changed == 0:
            return Decision(release=False, changed=0, fingerprints=prints)
        if not policy.may_rerelease(changed, threshold):
            return Decision(
                release=False,
                changed=changed,
                held="too_few_changes",
                changes_needed=policy.changes_needed(changed, threshold),
                fingerprints=prints,
            )
    cells = release_cells(instrument, responses, disclosed)
    # The comparison by language goes first: its rows are withheld before any group row.
    suppressed, passed = audit_cells(previous_cells, cells, first=lambda c: is_language_row(c.row))
    if not passed:
        return Decision(release=False, changed=changed, held="audit", fingerprints=prints)
    withheld = {c.attribute for c in cells if c.key in suppressed and is_language_row(c.row)}
    suppressed |= {c.key for c in cells if c.attribute in withheld and is_language_row(c.row)}
    final = apply_suppression(disclosed, suppressed)
    kept = [c for c in cells if c.key not in suppressed]
    return Decision(
        release=True,
        scorecard=final,
        cells=kept,
        fingerprints=prints,
        changed=changed,
        suppressed=suppressed,
    )
