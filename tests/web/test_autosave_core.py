"""The autosave reads and writes on a Core connection (no ORM session: app/web/routes/respond.py,
`editing_by_token`, `autosave_answer`): what the ORM path did around the save is still done, on
both databases. The save itself (locks, closed cycles, races) is tested in the other autosave
tests, which run this same route."""

from __future__ import annotations

import secrets

from sqlmodel import select

from app.db.models import Answer, AssessmentStatus, Comment, RateLimitBucket, Response
from app.instruments import catalog
from app.services.assessments import set_status
from tests.helpers.auth import make_cast
from tests.web.journey import autosave, invite, respondent, respondent_csrf, start_cycle


def _open(db, client):
    cast = make_cast(db)
    cycle = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id)
    personal = respondent(client, invite(db, user=cast.lead_a, assessment=cycle, group="clinical"))
    return cast, cycle, personal, respondent_csrf(client, personal)


def test_an_autosave_when_the_instrument_is_not_in_the_cache_reads_its_snapshot(db, client):
    _, _, personal, csrf = _open(db, client)
    catalog.clear_cache()  # as in a fresh worker process
    saved = autosave(client, personal, csrf, item_id="pps_status", value="employ", page=1)
    assert saved.status_code == 200, saved.text
    assert saved.json()["saved"] is True and "pps_status" in saved.json()["visible"]
    assert db.exec(select(Answer.value).where(Answer.item_id == "pps_status")).all() == ["employ"]
    comment = client.post(
        f"/respond/{personal}/autosave",
        json={"domain_id": "purpose", "comment": "Said in a comment"},
        headers={"X-CSRF-Token": csrf, "Accept": "application/json"},
    )
    assert comment.status_code == 200, comment.text
    assert db.exec(select(Comment.text)).all() == ["Said in a comment"]


def test_the_autosave_remembers_the_language_but_not_when_the_save_is_refused(db, client):
    _, _, personal, csrf = _open(db, client)
    response = db.exec(select(Response)).one()
    response.language = None  # as a response made before languages were recorded
    db.add(response)
    db.commit()
    refused = client.post(
        f"/respond/{personal}/autosave",
        json={"item_id": "pps_status", "value": "not a choice"},
        headers={"X-CSRF-Token": csrf, "Accept": "application/json", "Accept-Language": "es"},
    )
    assert refused.status_code == 400
    assert refused.json()["detail"] == "That answer is not one of the choices for this question."
    db.expire_all()
    assert db.exec(select(Response.language)).one() is None  # a refused save changes nothing
    saved = client.post(
        f"/respond/{personal}/autosave",
        json={"item_id": "pps_status", "value": "employ"},
        headers={"X-CSRF-Token": csrf, "Accept": "application/json", "Accept-Language": "es"},
    )
    assert saved.status_code == 200
    db.expire_all()
    assert db.exec(select(Response.language)).one() == "es"


def test_an_unknown_token_is_refused_and_counted_like_every_respondent_page(db, client):
    _, _, personal, csrf = _open(db, client)
    unknown = secrets.token_urlsafe(32)
    refused = autosave(client, unknown, csrf, item_id="pps_status", value="employ")
    assert refused.status_code in (403, 404)  # the CSRF token belongs to another link
    from app.web.security import respondent_csrf_for

    own_csrf = respondent_csrf_for(client.app.state.settings.secret_key, unknown)
    refused = autosave(client, unknown, own_csrf, item_id="pps_status", value="employ")
    assert refused.status_code == 404 and "This link does not work" in refused.json()["detail"]
    assert [b.hits for b in db.exec(select(RateLimitBucket))] == [1]
    assert db.exec(select(Answer)).all() == []


def test_a_closed_cycle_refuses_the_autosave_and_keeps_the_answer_as_it_was(db, client):
    cast, cycle, personal, csrf = _open(db, client)
    assert autosave(client, personal, csrf, item_id="pps_status", value="employ").status_code == 200
    set_status(db, user=cast.lead_a, assessment=cycle, status=AssessmentStatus.closed, privacy_threshold=3)
    db.commit()
    refused = autosave(client, personal, csrf, item_id="pps_status", value="plan")
    assert refused.status_code == 409 and "closed" in refused.json()["detail"]
    db.expire_all()
    assert db.exec(select(Answer.value)).all() == ["employ"]


def test_head_on_a_form_page_is_refused_and_moves_nothing(db, client):
    _, _, personal, _ = _open(db, client)
    assert client.get(f"/respond/{personal}/page/2").status_code == 200
    assert client.head(f"/respond/{personal}/page/1").status_code == 405  # as FastAPI's routes
    db.expire_all()
    assert db.exec(select(Response.last_page)).one() == 2  # a link checker's HEAD moves nothing


def test_each_autosave_reads_its_own_cycles_state_beside_another_cycle(db, client):
    cast, first, personal_first, csrf_first = _open(db, client)
    second = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id, name="Second")
    personal_second = respondent(client, invite(db, user=cast.lead_a, assessment=second, group="clinical"))
    csrf_second = respondent_csrf(client, personal_second)
    set_status(db, user=cast.lead_a, assessment=first, status=AssessmentStatus.closed, privacy_threshold=3)
    db.commit()
    refused = autosave(client, personal_first, csrf_first, item_id="pps_status", value="employ", page=1)
    assert refused.status_code == 409
    saved = autosave(client, personal_second, csrf_second, item_id="pps_status", value="employ", page=1)
    assert saved.status_code == 200, saved.text
    set_status(db, user=cast.lead_a, assessment=first, status=AssessmentStatus.open, privacy_threshold=3)
    set_status(db, user=cast.lead_a, assessment=second, status=AssessmentStatus.closed, privacy_threshold=3)
    db.commit()
    assert (
        autosave(client, personal_second, csrf_second, item_id="pps_status", value="plan").status_code == 409
    )
    reopened = autosave(client, personal_first, csrf_first, item_id="pps_status", value="", page=1)
    assert reopened.status_code == 200, reopened.text
