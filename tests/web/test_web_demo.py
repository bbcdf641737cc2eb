"""`load_demo` gives a newcomer a realistic instance, and running it twice changes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import func, select

from app.db.models import (
    Assessment,
    Organization,
    PlanItem,
    PlanStatus,
    Response,
    ResponseStatus,
    User,
    utcnow,
)
from app.paths import INSTRUMENTS_DIR
from app.services import demo
from app.services import plan as plan_service
from app.services.demo import DEMO_PASSWORD, load_demo
from tests.helpers.auth import login
from tests.helpers.html import parse

DEMO_SETTINGS = {"instruments_dir": INSTRUMENTS_DIR, "privacy_threshold": 3}


def test_demo_loads_once_and_the_lead_sees_results_change_and_plan(client, db):
    first = load_demo(db, **DEMO_SETTINGS)
    db.commit()
    assert first.created and first.organizations == 4 and first.assessments == 5
    counts = {
        model.__name__: db.exec(select(func.count()).select_from(model)).one()
        for model in (Organization, User, Assessment, Response, PlanItem)
    }
    assert counts["Response"] >= 60
    second = load_demo(db, **DEMO_SETTINGS)
    db.commit()
    assert not second.created and second.logins == first.logins
    assert counts == {
        model.__name__: db.exec(select(func.count()).select_from(model)).one()
        for model in (Organization, User, Assessment, Response, PlanItem)
    }
    statuses = set(db.exec(select(Response.status)))
    assert statuses == {ResponseStatus.submitted, ResponseStatus.in_progress}
    plan_statuses = set(db.exec(select(PlanItem.status)))
    assert {PlanStatus.accepted, PlanStatus.in_progress, PlanStatus.done} <= plan_statuses

    follow_up = db.exec(
        select(Assessment).where(Assessment.name == demo.cycle_name("riverbend_follow_up"))
    ).one()
    changes = plan_service.changes_since_previous(db, assessment=follow_up)
    assert any(c.change is not None and c.change > 0 for c in changes.scores)

    login(client, "lead.riverbend@demo.peerready.org", DEMO_PASSWORD)
    results = client.get(f"/assessments/{follow_up.id}/results")
    assert results.status_code == 200
    page = parse(results)
    assert f"Change since “{demo.cycle_name('riverbend_baseline')}”" in page.headings(2)
    change_rows = page.records("table:has(caption:contains('since the previous cycle'))")
    assert [r["Condition"] for r in change_rows] == [c.title for c in changes.scores]
    plan = parse(client.get(f"/organizations/{follow_up.organization_id}/plan"))
    assert plan.text("#changes-h") == f"What changed since “{demo.cycle_name('riverbend_baseline')}”"
    assert {"Accepted", "In progress", "Done"} <= set(plan.texts("article.plan-item .badge"))


def test_demo_response_rates_never_exceed_everyone_invited(db):
    load_demo(db, **DEMO_SETTINGS)
    db.commit()
    for assessment in db.exec(select(Assessment)).all():
        answered = db.exec(
            select(func.count()).select_from(Response).where(Response.assessment_id == assessment.id)
        ).one()
        assert assessment.expected_respondents is not None
        assert answered <= assessment.expected_respondents, assessment.name


def test_demo_dates_are_in_the_past_and_match_the_cycle_names(db):
    load_demo(db, **DEMO_SETTINGS)
    db.commit()
    now = utcnow()
    for assessment in db.exec(select(Assessment)):
        created = as_utc(assessment.created_at)
        assert created < now
        prefix, days_ago = next(v for k, v in demo.CYCLES.items() if demo.cycle_name(k) == assessment.name)
        assert assessment.name == f"{prefix}, {demo.season(created.date())}"
        if assessment.closed_at is not None:
            assert created < as_utc(assessment.closed_at) < now
        for response in db.exec(select(Response).where(Response.assessment_id == assessment.id)):
            assert created <= as_utc(response.updated_at) < now, assessment.name
            if assessment.closed_at is not None and response.submitted_at is not None:
                assert as_utc(response.submitted_at) < as_utc(assessment.closed_at)


def test_demo_season_names():
    assert demo.season(date(2026, 4, 2)) == "spring 2026"
    assert demo.season(date(2026, 7, 1)) == "summer 2026"
    assert demo.season(date(2026, 11, 30)) == "autumn 2026"
    assert demo.season(date(2026, 12, 1)) == "winter 2026"
    assert demo.season(date(2027, 2, 28)) == "winter 2027"


def as_utc(moment: datetime) -> datetime:
    # SQLite hands back naive UTC datetimes; PostgreSQL aware ones.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
