"""Closing and reopening a cycle from its page. Closing asks for a confirmation (answers still in
progress stop counting for good) and is audited; "Open the cycle again" really opens it, also
for a cycle that stopped at its close date."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from app.db.models import Assessment, AssessmentStatus, AuditEvent, utcnow
from app.services import assessments as assessments_service
from tests.helpers.auth import login, make_cast
from tests.helpers.html import parse
from tests.web.journey import autosave, invite, respondent, respondent_csrf, start_cycle


def _cycle(client, db):
    cast = make_cast(db)
    assessment = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id)
    token = invite(db, user=cast.lead_a, assessment=assessment, group="peer_staff")
    return cast, assessment, token


def _reload(db, assessment_id: int) -> Assessment:
    db.expire_all()
    return db.get(Assessment, assessment_id)


def _actions(db) -> list[str]:
    db.expire_all()
    return [e.action for e in db.exec(select(AuditEvent).order_by(AuditEvent.id))]


def test_closing_needs_the_confirmation_and_warns_about_answers_in_progress(client, db, app):
    cast, assessment, token = _cycle(client, db)
    personal = respondent(client, token)
    csrf_respondent = respondent_csrf(client, personal)
    saved = autosave(client, personal, csrf_respondent, item_id="pps_status", value="employ")
    assert saved.status_code == 200  # (was `assert autosave(...)`: a Response is always truthy)
    lead = client.__class__(app)
    csrf = login(lead, cast.lead_a.email)
    page = parse(lead.get(f"/assessments/{assessment.id}"))
    close = page.form(f"form[action='/assessments/{assessment.id}/status']")
    box = page.one("input#confirm-close[type=checkbox][name=confirm][required]", within=close)
    assert box.get("checked") is None  # confirming is a deliberate act
    assert page.label_for("confirm-close") == (
        "Yes, close this cycle: nobody can answer any more, and the 1 response still in progress "
        "will not be counted. Its results are then released. You can open the whole cycle again later: "
        "people can then change their own answers through their personal links, and new results are "
        "released at the next close only when at least 3 responses have changed."
    )
    assert page.texts("button[type=submit]", within=close) == ["Close the cycle"]

    refused = lead.post(f"/assessments/{assessment.id}/status", data={"csrf_token": csrf, "status": "closed"})
    assert refused.status_code == 400
    assert parse(refused).error()[1].startswith("Tick the box to confirm that you want to close the cycle")
    assert _reload(db, assessment.id).status == AssessmentStatus.open
    assert "assessment.close" not in _actions(db)

    closed = lead.post(
        f"/assessments/{assessment.id}/status",
        data={"csrf_token": csrf, "status": "closed", "confirm": "yes"},
        follow_redirects=False,
    )
    assert closed.status_code == 303
    assert _reload(db, assessment.id).status == AssessmentStatus.closed
    assert "assessment.close" in _actions(db)
    closed_page = parse(lead.get(f"/assessments/{assessment.id}"))
    assert closed_page.definitions("dl.facts")["Status"] == "Closed"
    assert closed_page.texts("form[action$='/status'] button") == ["Open the cycle again"]


def test_opening_again_a_cycle_past_its_close_date_accepts_answers(client, db, app):
    cast, assessment, token = _cycle(client, db)
    personal = respondent(client, token)
    csrf_respondent = respondent_csrf(client, personal)
    stored = db.get(Assessment, assessment.id)
    yesterday = utcnow().date() - timedelta(days=1)
    stored.close_date = yesterday
    db.add(stored)
    db.commit()
    assert (
        autosave(client, personal, csrf_respondent, item_id="pps_status", value="employ").status_code == 409
    )

    lead = client.__class__(app)
    csrf = login(lead, cast.lead_a.email)
    page = parse(lead.get(f"/assessments/{assessment.id}"))
    assert page.definitions("dl.facts")["Status"] == "Past its close date"
    assert page.texts("form[action$='/status'] button") == ["Open the cycle again"]
    assert page.form("form[action$='/status']").fields["status"] == "open"
    opened = lead.post(
        f"/assessments/{assessment.id}/status",
        data={"csrf_token": csrf, "status": "open"},
        follow_redirects=False,
    )
    assert opened.status_code == 303
    reopened = _reload(db, assessment.id)
    assert assessments_service.is_accepting_answers(reopened)
    assert reopened.close_date is None
    assert (
        parse(lead.get(f"/assessments/{assessment.id}")).definitions("dl.facts")["Status"]
        == "Open for answers"
    )
    assert (
        autosave(client, personal, csrf_respondent, item_id="pps_status", value="employ").status_code == 200
    )
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "assessment.reopen")).one()
    assert event.detail["cleared_close_date"] == yesterday.isoformat()
