"""`load_demo` gives a newcomer a realistic instance, and running it twice changes nothing."""

from __future__ import annotations

from sqlmodel import func, select

from app.db.models import Assessment, Organization, PlanItem, PlanStatus, Response, ResponseStatus, User
from app.paths import INSTRUMENTS_DIR
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

    follow_up = db.exec(select(Assessment).where(Assessment.name == "Follow-up, spring 2027")).one()
    changes = plan_service.changes_since_previous(db, assessment=follow_up)
    assert any(c.change is not None and c.change > 0 for c in changes.scores)

    login(client, "lead.riverbend@demo.peerready.org", DEMO_PASSWORD)
    results = client.get(f"/assessments/{follow_up.id}/results")
    assert results.status_code == 200
    page = parse(results)
    assert "Change since “Baseline, spring 2026”" in page.headings(2)
    change_rows = page.records("table:has(caption:contains('since the previous cycle'))")
    assert [r["Condition"] for r in change_rows] == [c.title for c in changes.scores]
    plan = parse(client.get(f"/organizations/{follow_up.organization_id}/plan"))
    assert plan.text("#changes-h") == "What changed since “Baseline, spring 2026”"
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
