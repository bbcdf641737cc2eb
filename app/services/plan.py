"""An organization's action plan. It belongs to the organization, so it survives reassessment.

- The latest closed (released) assessment's recommended actions appear as "proposed" items:
  upserted by action id, never duplicated, and an item someone has edited (status, owner, due
  date, notes) keeps the edits when the actions are recommended again.
- People accept or dismiss proposals, add their own actions and track owner, due date, status
  and notes. Every edit is audited.
- `changes_since_previous` shows what a new cycle changed: score change per condition and the
  actions the new results no longer trigger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, and_, not_, or_
from sqlmodel import Session, col, select

from app.db.models import Assessment, AssessmentStatus, PlanItem, PlanStatus, User, utcnow
from app.errors import BadInput, NotFound
from app.i18n import N_, gettext
from app.instruments.models import Instrument, text
from app.scoring import Scorecard
from app.scoring.numbers import difference
from app.services import audit, instruments_store, locks, releases

# English; pages translate them where they are shown (`_(label)`).
STATUS_LABELS = {
    PlanStatus.proposed: N_("Proposed"),
    PlanStatus.accepted: N_("Accepted"),
    PlanStatus.in_progress: N_("In progress"),
    PlanStatus.done: N_("Done"),
    PlanStatus.dismissed: N_("Dismissed"),
}


def _closed(today: date) -> ColumnElement[bool]:
    """Cycles that no longer take answers: closed by a lead, or past their close date (the same
    rule as app.services.assessments.is_accepting_answers; such a cycle is released when its
    results are first read)."""
    return or_(
        col(Assessment.status) == AssessmentStatus.closed,
        and_(col(Assessment.close_date).is_not(None), col(Assessment.close_date) < today),
    )


def latest_scored_assessment(session: Session, *, organization_id: int) -> Assessment | None:
    """The organization's newest *closed* cycle whose release has at least one counted response.

    The plan follows released results only: an open cycle's first few answers are partial (and,
    for privacy, not released), so letting them re-rank the plan would mark half the actions "no
    longer recommended" on three answers. A cycle that was closed and is open again follows the
    same rule: until it closes again, the plan follows the closed cycle before it.
    `open_cycle_after` names the cycle still collecting.
    """
    candidates = session.exec(
        select(Assessment)
        .where(Assessment.organization_id == organization_id, _closed(utcnow().date()))
        .order_by(col(Assessment.created_at).desc(), col(Assessment.id).desc())
    )
    for assessment in candidates:
        releases.ensure_released(session, assessment=assessment)
        found = releases.released_scorecard(session, assessment_id=assessment.id)
        if found is not None and found[1].n_respondents > 0:
            return assessment
    return None


def open_cycle_after(
    session: Session, *, organization_id: int, latest: Assessment | None
) -> Assessment | None:
    """The newest cycle still taking answers that started after `latest` (or any such cycle if
    there is no `latest`): the plan page says the plan will follow it once it closes."""
    query = select(Assessment).where(
        Assessment.organization_id == organization_id, not_(_closed(utcnow().date()))
    )
    if latest is not None:
        query = query.where(col(Assessment.created_at) >= latest.created_at, Assessment.id != latest.id)
    return session.exec(query.order_by(col(Assessment.created_at).desc(), col(Assessment.id).desc())).first()


# Due dates: a date before today (or implausibly far ahead) is almost always a typing slip, so a
# *changed* due date must fall in this window; an unchanged one may have passed (that is overdue).
DUE_DATE_MAX_YEARS_AHEAD = 10


def check_due_date(
    value: date | None, *, previous: date | None = None, today: date | None = None
) -> date | None:
    if value is None or value == previous:
        return value
    today = today or utcnow().date()
    if value < today:
        raise BadInput(
            gettext("The due date %(date)s is in the past. Choose today or a later date, or leave it empty.")
            % {"date": value.isoformat()}
        )
    if value.year > today.year + DUE_DATE_MAX_YEARS_AHEAD:
        raise BadInput(
            gettext("The due date %(date)s is more than %(years)s years away.")
            % {"date": value.isoformat(), "years": DUE_DATE_MAX_YEARS_AHEAD}
        )
    return value


def plan_items(session: Session, *, organization_id: int) -> list[PlanItem]:
    order = {
        s: i
        for i, s in enumerate(
            [
                PlanStatus.in_progress,
                PlanStatus.accepted,
                PlanStatus.proposed,
                PlanStatus.done,
                PlanStatus.dismissed,
            ]
        )
    }
    items = session.exec(select(PlanItem).where(PlanItem.organization_id == organization_id))
    return sorted(items, key=lambda i: (order[i.status], i.rank if i.rank is not None else 10_000, i.id))


def sync_recommendations(session: Session, *, assessment: Assessment, actor: User | str | None = None) -> int:
    """Add the assessment's recommended actions to the plan as proposals (idempotent).

    Existing items with the same action id keep their status, owner, due date and notes; only
    the rank and source cycle follow the newest results. Returns how many items were added.
    """
    found = releases.released_scorecard(session, assessment_id=assessment.id)
    if found is None:
        return 0
    scorecard, _ = found
    instrument = instruments_store.instrument_for(session, assessment)
    existing = {
        item.action_id: item
        for item in session.exec(
            select(PlanItem).where(
                PlanItem.organization_id == assessment.organization_id, col(PlanItem.action_id).is_not(None)
            )
        )
    }
    added = []
    for selected in scorecard.actions:
        item = existing.get(selected.action_id)
        if item is not None:
            if item.rank != selected.rank or item.assessment_id != assessment.id:
                item.rank = selected.rank
                item.assessment_id = assessment.id
                session.add(item)
            continue
        action = instrument.action_by_id(selected.action_id)
        item = PlanItem(
            organization_id=assessment.organization_id,
            assessment_id=assessment.id,
            action_id=selected.action_id,
            domain_id=selected.domain_id,
            title=selected.title[:300],
            rationale=text(action.rationale) if action else None,
            steps=[text(s) for s in action.steps] if action else [],
            timeframe=selected.timeframe[:100] if selected.timeframe else None,
            evidence=list(selected.evidence),
            status=PlanStatus.proposed,
            rank=selected.rank,
        )
        session.add(item)
        existing[selected.action_id] = item
        added.append(selected.action_id)
    if added:
        session.flush()
        audit.record(
            session,
            actor=actor or "system",
            action="plan.propose",
            target=f"organization:{assessment.organization_id}",
            organization_id=assessment.organization_id,
            detail={"assessment_id": assessment.id, "action_ids": added},
        )
    return len(added)


def get_item(session: Session, *, organization_id: int, item_id: int) -> PlanItem:
    item = session.get(PlanItem, item_id)
    if item is None or item.organization_id != organization_id:
        raise NotFound(gettext("No such plan item."))
    return item


def _locked_item(session: Session, *, organization_id: int, item_id: int) -> PlanItem:
    """The item under its write lock, as now stored: two edits of one item (two people, or a
    quick status button beside a full save) run one after the other, and the second compares
    with what the first saved (the due-date rule's previous date, the audit's "from")."""
    item = get_item(session, organization_id=organization_id, item_id=item_id)
    locks.lock_plan_item(session, item.id)
    session.refresh(item)
    return item


# The message for a field that is too long, by field (English; written in the current language).
_TOO_LONG = {
    "title": N_("The title can be at most %(limit)s characters."),
    "owner": N_("The owner can be at most %(limit)s characters."),
    "notes": N_("The notes can be at most %(limit)s characters."),
}


def _clean(value: str | None, limit: int, what: str) -> str | None:
    value = (value or "").strip()
    if len(value) > limit:
        raise BadInput(gettext(_TOO_LONG[what]) % {"limit": limit})
    return value or None


def update_item(
    session: Session,
    *,
    user: User,
    organization_id: int,
    item_id: int,
    status: PlanStatus,
    owner: str | None = None,
    due_date: date | None = None,
    notes: str | None = None,
) -> PlanItem:
    item = _locked_item(session, organization_id=organization_id, item_id=item_id)
    new = {
        "status": PlanStatus(status),
        "owner": _clean(owner, 200, "owner"),
        "due_date": check_due_date(due_date, previous=item.due_date),
        "notes": _clean(notes, 5000, "notes"),
    }
    changes = {}
    for name, value in new.items():
        old = getattr(item, name)
        if old != value:
            changes[name] = {
                "from": str(old) if old is not None else None,
                "to": str(value) if value is not None else None,
            }
            setattr(item, name, value)
    if changes:
        item.updated_at = utcnow()
        session.add(item)
        audit.record(
            session,
            actor=user,
            action="plan.update",
            target=f"plan_item:{item.id}",
            organization_id=organization_id,
            detail={"title": item.title, "changes": changes},
        )
    return item


def set_status(
    session: Session, *, user: User, organization_id: int, item_id: int, status: PlanStatus
) -> PlanItem:
    item = _locked_item(session, organization_id=organization_id, item_id=item_id)
    return update_item(
        session,
        user=user,
        organization_id=organization_id,
        item_id=item_id,
        status=status,
        owner=item.owner,
        due_date=item.due_date,
        notes=item.notes,
    )


def add_custom_item(
    session: Session,
    *,
    user: User,
    organization_id: int,
    title: str,
    domain_id: str | None = None,
    instrument: Instrument | None = None,
    owner: str | None = None,
    due_date: date | None = None,
    notes: str | None = None,
) -> PlanItem:
    clean_title = _clean(title, 300, "title")
    if not clean_title:
        raise BadInput(gettext("Give the action a title."))
    if domain_id and (instrument is None or domain_id not in {d.id for d in instrument.domains}):
        raise BadInput(gettext("Choose a condition from the list."))
    item = PlanItem(
        organization_id=organization_id,
        title=clean_title,
        domain_id=domain_id or None,
        status=PlanStatus.accepted,
        owner=_clean(owner, 200, "owner"),
        due_date=check_due_date(due_date),
        notes=_clean(notes, 5000, "notes"),
    )
    session.add(item)
    session.flush()
    audit.record(
        session,
        actor=user,
        action="plan.add",
        target=f"plan_item:{item.id}",
        organization_id=organization_id,
        detail={"title": clean_title},
    )
    return item


@dataclass(frozen=True)
class ScoreChange:
    domain_id: str
    title: str
    previous: float | None
    current: float | None

    @property
    def change(self) -> float | None:
        if self.previous is None or self.current is None:
            return None
        return float(difference(self.current, self.previous))  # exact, from the shown scores


@dataclass
class PlanChanges:
    previous: Assessment
    current: Assessment
    scores: list[ScoreChange]
    no_longer_triggered: list[str]  # action titles
    newly_triggered: list[str]


def changes_since_previous(session: Session, *, assessment: Assessment) -> PlanChanges | None:
    """What changed between a follow-up cycle and the cycle it follows up."""
    if assessment.previous_assessment_id is None:
        return None
    previous = session.get(Assessment, assessment.previous_assessment_id)
    now = releases.released_scorecard(session, assessment_id=assessment.id)
    before = releases.released_scorecard(session, assessment_id=assessment.previous_assessment_id)
    if previous is None or now is None or before is None:
        return None
    current_card: Scorecard = now[0]
    previous_card: Scorecard = before[0]
    previous_by_domain = {d.domain_id: d for d in previous_card.domains}
    changes = [
        ScoreChange(
            d.domain_id,
            d.title,
            previous_by_domain[d.domain_id].score if d.domain_id in previous_by_domain else None,
            d.score,
        )
        for d in current_card.domains
    ]
    now_ids = {a.action_id for a in current_card.actions}
    before_ids = {a.action_id for a in previous_card.actions}
    return PlanChanges(
        previous=previous,
        current=assessment,
        scores=changes,
        no_longer_triggered=[a.title for a in previous_card.actions if a.action_id not in now_ids],
        newly_triggered=[a.title for a in current_card.actions if a.action_id not in before_ids],
    )
