"""Realistic sample assessments for the report's tests and benchmark.

Inserts rows directly (Organization, InstrumentVersion snapshot, Assessment, Responses, Answers,
Comments, a stored scorecard computed by the rules module, PlanItems, Commentary), so the report
can be exercised without the web services. Answers are drawn from a seeded generator: the same
seed gives the same data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlmodel import Session

from app.db.models import (
    Answer,
    Assessment,
    AssessmentScore,
    AssessmentStatus,
    Comment,
    Commentary,
    InstrumentVersion,
    Organization,
    PlanItem,
    PlanStatus,
    Release,
    Response,
    ResponseStatus,
)
from app.disclosure.release import fingerprints
from app.disclosure.view import disclose_scorecard
from app.instruments import catalog
from app.instruments.models import Instrument, text
from app.paths import INSTRUMENTS_DIR
from app.scoring import ResponseInput, Scorecard, score_responses, visible_items
from app.services import instruments_store, scores

FULL_INSTRUMENT = INSTRUMENTS_DIR / "readiness-full.yaml"
# Typical mix of a mid-sized agency's respondents.
GROUP_MIX = (
    "leadership",
    "leadership",
    "leadership",
    "clinical",
    "clinical",
    "clinical",
    "clinical",
    "peer_staff",
    "peer_staff",
    "admin_hr",
    "admin_hr",
    "family_advisory",
)
OWNERS = ("Program manager", "HR lead", "Clinical director")
SAMPLE_COMMENTS = (
    "Our supervisors meet peer staff every week and that helps a lot.",
    "Not everyone on the clinical team knows what the parent peer role is for.",
    "Pay for peer staff is lower than for other roles with similar duties.",
    "Leadership talks about the program at all-staff meetings.",
)


def snapshot_instrument(
    session: Session, path: Path = FULL_INSTRUMENT
) -> tuple[InstrumentVersion, Instrument]:
    """The InstrumentVersion row for the file at `path` (created once per content hash)."""
    loaded = catalog.load_file(path)
    return instruments_store.snapshot(session, loaded=loaded), loaded.instrument


# Conditions differ at a real agency: some are strengths, some priorities.
DOMAIN_LEAN = (0.25, 0.05, -0.1, -0.25)


def sample_answers(instrument: Instrument, group: str, rng: random.Random, *, lean: float) -> dict[str, str]:
    """Answers to every item the respondent would see, on the form's own visibility rules.
    `lean` (0-1) moves scored answers up the scale (shifted per condition); about one answer in
    ten is "Don't know"."""
    domain_lean = {d.id: DOMAIN_LEAN[i % len(DOMAIN_LEAN)] for i, d in enumerate(instrument.domains)}
    answers: dict[str, str] = {}
    while True:
        pending = [i for i in visible_items(instrument, group=group, answers=answers) if i.id not in answers]
        if not pending:
            return answers
        for item in pending:
            options = instrument.scale_by_id(item.scale).options
            scored = [o for o in options if o.kind == "scored"]
            if not scored:
                choice = next((o for o in options if o.value == "employ"), options[0])
                answers[item.id] = choice.value
                continue
            roll = rng.random()
            dont_know = next((o for o in options if o.kind == "dont_know"), None)
            if dont_know is not None and roll < 0.1:
                answers[item.id] = dont_know.value
                continue
            target = max(0.0, min(1.0, lean + domain_lean[item.domain])) * (len(scored) - 1)
            position = min(len(scored) - 1, max(0, round(rng.gauss(target, 0.9))))
            answers[item.id] = scored[position].value


@dataclass
class SampleRespondent:
    group: str
    answers: dict[str, str]
    submitted: bool = True
    comment: tuple[str, str] | None = None  # (domain id, text)


def store_assessment(
    session: Session,
    *,
    organization: Organization,
    version: InstrumentVersion,
    instrument: Instrument,
    name: str,
    respondents: list[SampleRespondent],
    previous: Assessment | None = None,
    computed_at: datetime | None = None,
    privacy_threshold: int = 3,
) -> Assessment:
    """An assessment with these respondents and its stored scorecard, counted as
    app.services.scores does: submitted responses and in-progress ones with an answer."""
    assessment = Assessment(
        organization_id=organization.id,
        instrument_version_id=version.id,
        name=name,
        status=AssessmentStatus.closed if previous is None else AssessmentStatus.open,
        previous_assessment_id=previous.id if previous else None,
        close_date=date(2027, 5, 31),
    )
    session.add(assessment)
    session.flush()
    inputs = []
    for index, person in enumerate(respondents):
        response = Response(
            assessment_id=assessment.id,
            group=person.group,
            status=ResponseStatus.submitted if person.submitted else ResponseStatus.in_progress,
        )
        session.add(response)
        session.flush()
        for item_id, value in person.answers.items():
            session.add(Answer(response_id=response.id, item_id=item_id, value=value))
        if person.comment:
            session.add(Comment(response_id=response.id, domain_id=person.comment[0], text=person.comment[1]))
        if person.submitted or person.answers:
            inputs.append(ResponseInput(respondent_id=str(index), group=person.group, answers=person.answers))
    if inputs:
        scorecard = score_responses(instrument, inputs, privacy_threshold=privacy_threshold)
        store_scorecard(
            session,
            assessment,
            scorecard,
            n_respondents=len(inputs),
            n_submitted=sum(1 for p in respondents if p.submitted),
            computed_at=computed_at,
        )
    session.flush()
    return assessment


def store_scorecard(
    session: Session,
    assessment: Assessment,
    scorecard: Scorecard,
    *,
    n_respondents: int,
    n_submitted: int | None = None,
    computed_at: datetime | None = None,
) -> AssessmentScore:
    row = AssessmentScore(
        assessment_id=assessment.id,
        scorecard=scorecard.model_dump(mode="json"),
        n_respondents=n_respondents,
        n_submitted=scorecard.n_respondents if n_submitted is None else n_submitted,
        computed_at=computed_at or datetime(2027, 6, 1, 12, 0, tzinfo=UTC),
    )
    session.add(row)
    session.flush()
    # What a report shows is a release (docs/privacy.md): the sample's results are released as
    # they are, with the comments the disclosure rules let through.
    instrument = instruments_store.instrument_for(session, assessment)
    disclosed = disclose_scorecard(scorecard)
    session.add(
        Release(
            assessment_id=assessment.id,
            number=1,
            created_at=row.computed_at,
            scorecard=disclosed.model_dump(mode="json"),
            n_respondents=n_respondents,
            n_web=n_respondents,
            # The answers' fingerprints, as a real release keeps them (changes since it are counted
            # from them, and the per-question download's group rows need them unchanged).
            members=fingerprints(
                scores.counted_responses(session, assessment_id=assessment.id, instrument=instrument).inputs
            ),
            comments=scores.released_comments(
                session,
                assessment_id=assessment.id,
                instrument=instrument,
                scorecard=disclosed,
            ),
        )
    )
    return row


def sample_respondents(
    instrument: Instrument, rng: random.Random, count: int, *, lean: float, in_progress: int = 0
) -> list[SampleRespondent]:
    people = []
    for index in range(count):
        group = GROUP_MIX[index % len(GROUP_MIX)]
        # Peer staff see things less rosily than leadership: a realistic perception gap.
        group_lean = lean + {"leadership": 0.15, "peer_staff": -0.2}.get(group, 0.0)
        comment = None
        if index % 7 == 0:
            domain = instrument.domains[(index // 7) % len(instrument.domains)].id
            comment = (domain, SAMPLE_COMMENTS[(index // 7) % len(SAMPLE_COMMENTS)])
        people.append(
            SampleRespondent(
                group=group,
                answers=sample_answers(instrument, group, rng, lean=max(0.0, min(1.0, group_lean))),
                submitted=index >= in_progress,
                comment=comment,
            )
        )
    return people


def add_plan(
    session: Session,
    *,
    organization: Organization,
    assessment: Assessment,
    instrument: Instrument,
    scorecard: Scorecard,
    count: int = 10,
) -> list[PlanItem]:
    """Plan rows from the scorecard's selected actions, in a realistic mix of statuses."""
    statuses = [
        PlanStatus.in_progress,
        PlanStatus.accepted,
        PlanStatus.accepted,
        PlanStatus.done,
        PlanStatus.proposed,
        PlanStatus.proposed,
        PlanStatus.dismissed,
    ]
    chosen = list(scorecard.actions) or []
    # Fill up from the action library when the rules selected fewer than `count`.
    seen = {a.action_id for a in chosen}
    library = [a for a in instrument.actions if a.id not in seen]
    rows = []
    for index in range(count):
        if index < len(chosen):
            action = instrument.action_by_id(chosen[index].action_id)
        elif library:
            action = library.pop(0)
        else:
            break
        assert action is not None
        status = statuses[index % len(statuses)]
        row = PlanItem(
            organization_id=organization.id,
            assessment_id=assessment.id,
            action_id=action.id,
            domain_id=action.domain,
            title=text(action.title),
            rationale=" ".join(text(action.rationale).split()),
            steps=[text(s) for s in action.steps],
            timeframe=text(action.timeframe),
            evidence=list(action.evidence),
            status=status,
            owner=None if status == PlanStatus.proposed else OWNERS[index % len(OWNERS)],
            due_date=None if status == PlanStatus.proposed else date(2027, 7, 1) + timedelta(days=30 * index),
            notes="Started with the leadership team." if status == PlanStatus.in_progress else None,
            rank=index + 1,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def create_sample_report_data(
    session: Session,
    *,
    organization_name: str = "Riverside Family Services",
    organization: Organization | None = None,
    respondents: int = 30,
    with_previous: bool = True,
    plan_actions: int = 10,
    seed: int = 7,
    first_comment: tuple[str, str] | None = None,
) -> Assessment:
    """A follow-up assessment like the demo's: ~30 respondents, a baseline cycle, a plan, a
    consultant commentary, for `organization` (or a new one named `organization_name`).
    `first_comment` (domain id, text) is the first submitted respondent's comment, given before
    the results are released, so the release holds it. Returns the follow-up assessment."""
    rng = random.Random(seed)
    version, instrument = snapshot_instrument(session)
    if organization is None:
        organization = Organization(name=organization_name, region="North", cohort="2027")
        session.add(organization)
        session.flush()
    previous = None
    if with_previous:
        previous = store_assessment(
            session,
            organization=organization,
            version=version,
            instrument=instrument,
            name="Baseline, spring 2027",
            respondents=sample_respondents(instrument, rng, max(respondents - 4, 3), lean=0.4),
            computed_at=datetime(2027, 4, 15, 9, 30, tzinfo=UTC),
        )
    people = sample_respondents(instrument, rng, respondents, lean=0.55, in_progress=2)
    if first_comment is not None:
        next(p for p in people if p.submitted).comment = first_comment
    current = store_assessment(
        session,
        organization=organization,
        version=version,
        instrument=instrument,
        name="Follow-up, fall 2027" if with_previous else "Baseline, spring 2027",
        respondents=people,
        previous=previous,
        computed_at=datetime(2027, 10, 20, 16, 0, tzinfo=UTC),
    )
    stored = session.get(AssessmentScore, current.id)
    if stored is not None and plan_actions:
        add_plan(
            session,
            organization=organization,
            assessment=current,
            instrument=instrument,
            scorecard=Scorecard.model_validate(stored.scorecard),
            count=plan_actions,
        )
    session.add(
        Commentary(
            assessment_id=current.id,
            text="The agency has made real progress on team integration since the baseline.\n\n"
            "The next step is to turn leadership support into written policy.",
            updated_at=datetime(2027, 10, 22, 10, 0, tzinfo=UTC),
        )
    )
    session.flush()
    return current
