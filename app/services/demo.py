"""Demo data: four agencies at different stages, their people, cycles, answers, comments and plans.

`load_demo(session)` is safe to run twice: when the demo administrator already exists it changes
nothing and returns the same logins. Answers are generated with a seeded random generator from a
"profile" per agency (how ready it is per condition), so the figures look plausible and are the
same on every machine. All names are invented.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TypedDict

from sqlmodel import Session, select

from app.db.models import (
    Answer,
    Assessment,
    AssessmentStatus,
    Comment,
    Invitation,
    Membership,
    Organization,
    PlanStatus,
    Portfolio,
    PortfolioMembership,
    PortfolioSite,
    Response,
    ResponseStatus,
    Role,
    User,
    utcnow,
)
from app.instruments.models import Instrument
from app.services import accounts, instruments_store, invitations, releases, scores
from app.services import assessments as assessments_service
from app.services import plan as plan_service
from app.services import responses as responses_service

DEMO_PASSWORD = "peerready-demo"
DEMO_DOMAIN = "demo.peerready.org"
ADMIN_EMAIL = f"admin@{DEMO_DOMAIN}"
CONSULTANT_EMAIL = f"consultant@{DEMO_DOMAIN}"
FUNDER_EMAIL = f"funder@{DEMO_DOMAIN}"
PORTFOLIO_NAME = "State Parent Peer Initiative (demo)"


# Mean answer (1-5) per condition; None = does not employ peer specialists yet (planning).
class AgencySpec(TypedDict):
    name: str
    slug: str
    region: str
    cohort: str
    employs: bool  # the agency employs parent peer specialists already
    profile: dict[str, float]  # mean answer per condition (domain id), before noise


class _CycleCommon(TypedDict):
    """The arguments every demo cycle of one agency shares."""

    session: Session
    rng: random.Random
    lead: User
    organization: Organization
    instruments_dir: Path
    privacy_threshold: int


AGENCIES: list[AgencySpec] = [
    {
        "name": "Riverbend Family Services",
        "slug": "riverbend",
        "region": "North",
        "cohort": "2026",
        "employs": True,
        "profile": {"purpose": 3.1, "integration": 2.6, "stigma": 3.4, "valuing": 2.4},
    },
    {
        "name": "Maple Street Behavioral Health",
        "slug": "maple",
        "region": "North",
        "cohort": "2027",
        "employs": True,
        "profile": {"purpose": 4.1, "integration": 3.6, "stigma": 3.9, "valuing": 3.2},
    },
    {
        "name": "Harbor Light Community Mental Health",
        "slug": "harbor",
        "region": "South",
        "cohort": "2026",
        "employs": False,
        "profile": {"purpose": 2.7, "integration": 2.9, "stigma": 3.0, "valuing": 2.6},
    },
    {
        "name": "Prairie Parents Network",
        "slug": "prairie",
        "region": "South",
        "cohort": "2027",
        "employs": True,
        "profile": {"purpose": 3.6, "integration": 3.3, "stigma": 2.5, "valuing": 3.0},
    },
]
GROUP_SIZES = {"leadership": 3, "clinical": 6, "peer_staff": 3, "admin_hr": 2, "family_advisory": 2}
COMMENTS = {
    "purpose": [
        "Our director mentions the peer program at every all-staff meeting.",
        "I am not sure what the peer program is meant to change for families.",
        "The job description is still a draft.",
    ],
    "integration": [
        "Peer staff are not invited to case conferences yet.",
        "The team huddles now include our parent peer specialist.",
        "Clinicians are unsure when to refer a parent to peer support.",
    ],
    "stigma": [
        "Some staff still talk about 'those parents' in meetings.",
        "The training on courtesy stigma was a good start.",
        "Families say they feel judged at intake.",
    ],
    "valuing": [
        "Peer staff are paid less than other staff with similar duties.",
        "Supervision for peer staff happens when there is time, not on a schedule.",
        "Peer staff asked for a say in how the program is run.",
    ],
}


@dataclass
class DemoSummary:
    created: bool
    password: str = DEMO_PASSWORD
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # (role, email, what they see)
    organizations: int = 0
    assessments: int = 0
    responses: int = 0


def _logins() -> list[tuple[str, str, str]]:
    rows = [
        ("admin", ADMIN_EMAIL, "everything: users, organizations, audit log"),
        ("consultant", CONSULTANT_EMAIL, "three client agencies"),
        ("funder", FUNDER_EMAIL, f"the portfolio “{PORTFOLIO_NAME}” (aggregates only)"),
    ]
    rows += [("org lead", f"lead.{a['slug']}@{DEMO_DOMAIN}", a["name"]) for a in AGENCIES]
    return rows


def _user(session: Session, email: str, name: str, role: Role, password_hash: str) -> User:
    user = User(email=email, name=name, role=role, password_hash=password_hash)
    session.add(user)
    session.flush()
    return user


def _answer(rng: random.Random, mean: float, scale_values: list[str], unscored: dict[str, str]) -> str:
    roll = rng.random()
    if roll < 0.07 and "dont_know" in unscored:
        return unscored["dont_know"]
    if roll < 0.09 and "not_applicable" in unscored:
        return unscored["not_applicable"]
    value = round(rng.gauss(mean, 0.85))
    return scale_values[min(max(value, 1), len(scale_values)) - 1]


def _respondent_answers(
    rng: random.Random,
    instrument: Instrument,
    group: str,
    profile: dict[str, float],
    employs: bool,
    share: float = 1.0,
) -> dict[str, str]:
    answers: dict[str, str] = {}
    status_item = next((i for i in instrument.items if i.id == "pps_status"), None)
    if status_item is not None:
        answers["pps_status"] = "employ" if employs else rng.choice(["planning", "planning", "exploring"])
    shown = [item for page in responses_service.form_pages(instrument, group) for item in page.items]
    visible = responses_service.visible_ids(instrument, group, answers)
    shown = [i for i in shown if i.id in visible and i.id not in answers]
    shown = shown[: max(1, int(len(shown) * share))]
    for item in shown:
        options = instrument.scale_by_id(item.scale).options
        scored = [o.value for o in options if o.kind == "scored"]
        unscored: dict[str, str] = {
            o.kind: o.value for o in options if o.kind in ("dont_know", "not_applicable")
        }
        if not scored:
            answers[item.id] = options[0].value
            continue
        # group flavour: leadership sees things a little rosier than peer staff (perception gap)
        tilt = {"leadership": 0.35, "peer_staff": -0.35}.get(group, 0.0)
        mean = profile.get(item.domain, 3.0) + tilt
        if item.reverse:
            mean = 6 - mean
        answers[item.id] = _answer(rng, mean, scored, unscored)
    return answers


def _cycle(
    session: Session,
    *,
    rng: random.Random,
    lead: User,
    organization: Organization,
    name: str,
    instrument_id: str,
    profile: dict[str, float],
    employs: bool,
    days_ago: int,
    submitted_share: float,
    in_progress: int,
    closed: bool,
    previous: int | None,
    instruments_dir: Path,
    privacy_threshold: int,
) -> Assessment:
    assessment = assessments_service.create_assessment(
        session,
        user=lead,
        organization_id=organization.id,
        name=name,
        instrument_id=instrument_id,
        previous=previous,
        instruments_dir=instruments_dir,
    )
    assessment.created_at = utcnow() - timedelta(days=days_ago)
    instrument = instruments_store.instrument_for(session, assessment)
    latest_answer = min(
        utcnow() - timedelta(hours=1),
        assessment.created_at + timedelta(days=CLOSES_AFTER_DAYS - 1),
    )
    invited = 0
    for group, size in GROUP_SIZES.items():
        if not instrument.has_group(group):
            continue
        invitation = Invitation(
            assessment_id=assessment.id,
            group=group,
            token_hash=invitations.hash_token(invitations.new_token()),
            created_at=assessment.created_at,
        )
        session.add(invitation)
        session.flush()
        people = size + (1 if rng.random() < 0.5 else 0)
        invited += people
        for index in range(people):
            submitted = index < round(people * submitted_share)
            if not submitted and index >= round(people * submitted_share) + in_progress:
                continue
            answers = _respondent_answers(
                rng, instrument, group, profile, employs, share=1.0 if submitted else rng.uniform(0.2, 0.6)
            )
            # Within the cycle and never in the future (a cycle started 5 days ago has no answers
            # from next week); the draw is kept so the demo's answers stay the same.
            when = min(assessment.created_at + timedelta(days=rng.randint(1, 20)), latest_answer)
            response = Response(
                assessment_id=assessment.id,
                invitation_id=invitation.id,
                group=group,
                token_hash=invitations.hash_token(invitations.new_token()),
                status=ResponseStatus.submitted if submitted else ResponseStatus.in_progress,
                last_page=len(responses_service.form_pages(instrument, group)) if submitted else 1,
                created_at=when,
                updated_at=when,
                submitted_at=when if submitted else None,
            )
            session.add(response)
            session.flush()
            session.add_all(Answer(response_id=response.id, item_id=k, value=v) for k, v in answers.items())
            for domain_id, texts in COMMENTS.items():
                if instrument.items_in(domain_id) and rng.random() < 0.18:
                    session.add(Comment(response_id=response.id, domain_id=domain_id, text=rng.choice(texts)))
    # Everyone above was invited, plus a few who never opened their link, so response rates stay
    # below 100% (a rate over 100% would mean more answers than people asked).
    assessment.expected_respondents = invited + rng.randint(2, 6)
    if closed:
        assessment.status = AssessmentStatus.closed
        assessment.closed_at = assessment.created_at + timedelta(days=CLOSES_AFTER_DAYS)
    session.add(assessment)
    session.flush()
    scores.refresh_scores(
        session, assessment_id=assessment.id, instrument=instrument, privacy_threshold=privacy_threshold
    )
    if closed:
        # A closed cycle's results are its release, made at close (docs/privacy.md).
        release = releases.release_at_close(
            session, assessment=assessment, privacy_threshold=privacy_threshold, actor="demo"
        )
        if release is not None and assessment.closed_at is not None:
            release.created_at = assessment.closed_at
            session.add(release)
    return assessment


# Every demo cycle: (name prefix, days before the load day it started). Names follow the start
# date ("Baseline, autumn 2025"), so the demo reads true whichever day it is loaded.
CYCLES: dict[str, tuple[str, int]] = {
    "riverbend_baseline": ("Baseline", 380),
    "riverbend_follow_up": ("Follow-up", 40),
    "maple_baseline": ("Baseline", 12),
    "harbor_baseline": ("Baseline", 200),
    "quick_check": ("Quick check", 5),
}
CLOSES_AFTER_DAYS = 30


def season(day: date) -> str:
    """'spring 2026' for a day in March–May 2026 (northern seasons; December counts to its year)."""
    name = {12: "winter", 1: "winter", 2: "winter", 3: "spring", 4: "spring", 5: "spring"}.get(day.month)
    if name is None:
        name = "summer" if day.month <= 8 else "autumn"
    return f"{name} {day.year}"


def cycle_name(key: str, *, today: date | None = None) -> str:
    """The name the demo gives cycle `key` of CYCLES when loaded on `today` (default: today, UTC)."""
    prefix, days_ago = CYCLES[key]
    start = (today or utcnow().date()) - timedelta(days=days_ago)
    return f"{prefix}, {season(start)}"


def load_demo(session: Session, *, instruments_dir: Path, privacy_threshold: int) -> DemoSummary:
    """Load the demo into the database behind `session` (flushes; the caller commits). Cycles use
    the instruments in `instruments_dir`; scores are stored under `privacy_threshold`."""
    if session.exec(select(User).where(User.email == ADMIN_EMAIL)).first() is not None:
        return DemoSummary(created=False, logins=_logins())
    rng = random.Random(2027)
    password_hash = accounts.hash_password(DEMO_PASSWORD)
    summary = DemoSummary(created=True, logins=_logins())
    _user(session, ADMIN_EMAIL, "Avery Admin (demo)", Role.admin, password_hash)
    consultant = _user(session, CONSULTANT_EMAIL, "Casey Consultant (demo)", Role.consultant, password_hash)
    funder = _user(session, FUNDER_EMAIL, "Frankie Funder (demo)", Role.funder, password_hash)
    portfolio = Portfolio(name=PORTFOLIO_NAME, description="Sites funded to build parent peer programs.")
    session.add(portfolio)
    session.flush()
    session.add(PortfolioMembership(user_id=funder.id, portfolio_id=portfolio.id))

    for index, spec in enumerate(AGENCIES):
        organization = session.exec(select(Organization).where(Organization.name == spec["name"])).first()
        if organization is None:
            organization = Organization(name=spec["name"], region=spec["region"], cohort=spec["cohort"])
            session.add(organization)
            session.flush()
        summary.organizations += 1
        session.add(
            PortfolioSite(
                portfolio_id=portfolio.id,
                organization_id=organization.id,
                region=spec["region"],
                cohort=spec["cohort"],
            )
        )
        lead = _user(
            session,
            f"lead.{spec['slug']}@{DEMO_DOMAIN}",
            f"{spec['name']} lead (demo)",
            Role.org_lead,
            password_hash,
        )
        session.add(Membership(user_id=lead.id, organization_id=organization.id))
        if index < 3:
            session.add(Membership(user_id=consultant.id, organization_id=organization.id))
        session.flush()
        profile, employs = spec["profile"], spec["employs"]
        common: _CycleCommon = {
            "session": session,
            "rng": rng,
            "lead": lead,
            "organization": organization,
            "instruments_dir": instruments_dir,
            "privacy_threshold": privacy_threshold,
        }
        if spec["slug"] == "riverbend":
            # baseline a year ago, then a follow-up: better in purpose and valuing
            baseline = _cycle(
                **common,
                name=cycle_name("riverbend_baseline"),
                instrument_id="readiness_full",
                profile=profile,
                employs=employs,
                days_ago=CYCLES["riverbend_baseline"][1],
                submitted_share=1.0,
                in_progress=0,
                closed=True,
                previous=None,
            )
            plan_service.sync_recommendations(session, assessment=baseline, actor=lead)
            _plan_progress(session, lead=lead, organization=organization)
            better = {
                **profile,
                "purpose": profile["purpose"] + 0.9,
                "valuing": profile["valuing"] + 0.8,
                "integration": profile["integration"] + 0.3,
            }
            follow_up = _cycle(
                **common,
                name=cycle_name("riverbend_follow_up"),
                instrument_id="readiness_full",
                profile=better,
                employs=employs,
                days_ago=CYCLES["riverbend_follow_up"][1],
                submitted_share=1.0,
                in_progress=0,
                # Closed, so the funder's portfolio shows Riverbend's change from baseline
                # (funders only see completed cycles); Maple and Prairie show open cycles.
                closed=True,
                previous=baseline.id,
            )
            plan_service.sync_recommendations(session, assessment=follow_up, actor=lead)
            summary.assessments += 2
        elif spec["slug"] == "maple":
            _cycle(
                **common,
                name=cycle_name("maple_baseline"),
                instrument_id="readiness_full",
                profile=profile,
                employs=employs,
                days_ago=CYCLES["maple_baseline"][1],
                submitted_share=0.6,
                in_progress=2,
                closed=False,
                previous=None,
            )
            summary.assessments += 1
        elif spec["slug"] == "harbor":
            done = _cycle(
                **common,
                name=cycle_name("harbor_baseline"),
                instrument_id="readiness_full",
                profile=profile,
                employs=employs,
                days_ago=CYCLES["harbor_baseline"][1],
                submitted_share=1.0,
                in_progress=0,
                closed=True,
                previous=None,
            )
            plan_service.sync_recommendations(session, assessment=done, actor=lead)
            summary.assessments += 1
        else:
            _cycle(
                **common,
                name=cycle_name("quick_check"),
                instrument_id="quick_check",
                profile=profile,
                employs=employs,
                days_ago=CYCLES["quick_check"][1],
                submitted_share=0.5,
                in_progress=1,
                closed=False,
                previous=None,
            )
            summary.assessments += 1
    summary.responses = len(session.exec(select(Response.id)).all())
    session.flush()
    return summary


def _plan_progress(session: Session, *, lead: User, organization: Organization) -> None:
    """The baseline's plan after a year of work: some accepted, in progress and done, one dismissed."""
    items = plan_service.plan_items(session, organization_id=organization.id)
    owners = ["Program director", "Clinical supervisor", "HR manager", "Peer program coordinator"]
    today = utcnow().date()
    for index, item in enumerate(items):
        status = (
            [
                PlanStatus.done,
                PlanStatus.in_progress,
                PlanStatus.in_progress,
                PlanStatus.accepted,
                PlanStatus.dismissed,
            ][index]
            if index < 5
            else PlanStatus.proposed
        )
        if status == PlanStatus.proposed:
            continue
        plan_service.update_item(
            session,
            user=lead,
            organization_id=organization.id,
            item_id=item.id,
            status=status,
            owner=owners[index % len(owners)] if status != PlanStatus.dismissed else None,
            due_date=today + timedelta(days=30 * (index + 1)) if status != PlanStatus.dismissed else None,
            notes="Started after the baseline review meeting." if status == PlanStatus.in_progress else None,
        )
    plan_service.add_custom_item(
        session,
        user=lead,
        organization_id=organization.id,
        title="Invite a parent peer specialist to the quality committee",
        owner="Program director",
        due_date=today + timedelta(days=60),
    )
