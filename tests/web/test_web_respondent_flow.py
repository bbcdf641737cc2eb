"""The respondent's journey over HTTP: invitation link, own response, autosave, no-JS page saves,
submit and lock, reopen through the respondent's own link, and every kind of bad input refused
with nothing saved."""

from __future__ import annotations

import re

import pytest
from sqlmodel import func, select

from app.db.models import (
    Answer,
    AssessmentScore,
    Comment,
    Invitation,
    RateLimitBucket,
    Response,
    ResponseStatus,
)
from app.scoring import ResponseInput, score_responses
from app.services import instruments_store, invitations, responses
from tests.helpers.auth import login, make_cast
from tests.helpers.html import parse
from tests.web.journey import autosave, invite, respondent, respondent_csrf, start_cycle


@pytest.fixture
def cycle(db):
    cast = make_cast(db)
    assessment = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id)
    token = invite(db, user=cast.lead_a, assessment=assessment, group="clinical")
    return cast, assessment, token


def count(db, model) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(model)).one()


def test_invitation_link_creates_own_response_and_the_cookie_resumes_it(client, db, cycle):
    _, assessment, token = cycle
    first = client.get(f"/r/{token}", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"].endswith("/page/0")
    cookie = first.headers["set-cookie"]
    # Named per invitation (so that a kiosk's submit can forget it), sent only to invitation links.
    invitation_id = db.exec(select(Invitation)).one().id
    assert cookie.startswith(f"peerready_resume_{invitation_id}=")
    assert "Path=/r;" in cookie and "HttpOnly" in cookie
    personal = re.match(r"/respond/([^/]+)", first.headers["location"]).group(1)
    assert personal != token
    # only hashes are stored
    stored = db.exec(select(Response)).one()
    assert stored.token_hash == invitations.hash_token(personal)
    assert db.exec(select(Invitation)).one().token_hash == invitations.hash_token(token)

    intro = client.get(first.headers["location"])
    assert intro.status_code == 200
    page = parse(intro)
    assert page.label_for("personal-link") == "Your personal link"
    assert page.one("input#personal-link").get("value") == f"http://testserver/respond/{personal}"
    assert intro.headers["cache-control"] == "no-store"

    again = client.get(f"/r/{token}", follow_redirects=False)
    assert again.headers["location"].startswith(f"/respond/{personal}")
    assert count(db, Response) == 1

    # another browser (no cookie) gets its own response
    client.cookies.clear()
    other = respondent(client, token)
    assert other != personal
    assert count(db, Response) == 2


def test_made_up_revoked_and_expired_links_create_nothing(client, db, cycle):
    cast, assessment, token = cycle
    made_up = client.get("/r/" + "x" * 43)
    assert made_up.status_code == 404
    heading, message = parse(made_up).error()
    assert heading == "Not found" and message.startswith("This link does not work.")

    invitations.revoke_invitation(
        db, user=cast.lead_a, assessment=assessment, invitation_id=db.exec(select(Invitation)).one().id
    )
    db.commit()
    revoked = client.get(f"/r/{token}")
    assert revoked.status_code == 410
    assert parse(revoked).error()[1].startswith("This link has been switched off by the agency.")
    assert count(db, Response) == 0
    # Only the made-up token counts as a guess.
    assert [b.hits for b in db.exec(select(RateLimitBucket)).all()] == [1]

    unknown_personal = client.get("/respond/" + "y" * 43 + "/page/1")
    assert unknown_personal.status_code == 404


def test_guessing_tokens_is_rate_limited(client, db, cycle):
    _, _, token = cycle
    for _ in range(invitations.TOKEN_MAX_FAILURES):
        assert client.get("/r/not-a-real-token-but-long-enough-1234").status_code == 404
    blocked = client.get("/r/another-made-up-token-long-enough-5678")
    assert blocked.status_code == 429
    heading, message = parse(blocked).error()
    assert heading == "Please wait" and message.endswith("Please wait ten minutes.")
    assert client.get("/respond/" + "z" * 43 + "/page/1").status_code == 429
    # A working link still opens from the same address: guessing is refused, colleagues are not.
    assert client.get(f"/r/{token}", follow_redirects=False).status_code == 303
    assert count(db, Response) == 1


def test_autosave_saves_each_answer_and_comment_and_refreshes_scores(client, db, cycle):
    _, assessment, token = cycle
    personal = respondent(client, token)
    csrf = respondent_csrf(client, personal)
    saved = autosave(client, personal, csrf, item_id="pps_status", value="employ", page=1)
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["saved"] is True
    assert "integ_team_member" in body["visible"] and "integ_prep_briefed" not in body["visible"]
    assert (
        autosave(client, personal, csrf, item_id="purpose_leaders_support", value="dk", page=1).status_code
        == 200
    )
    assert (
        autosave(client, personal, csrf, domain_id="purpose", comment="Leaders talk about it.").status_code
        == 200
    )
    db.expire_all()
    answers = dict(db.exec(select(Answer.item_id, Answer.value)).all())
    assert answers == {"pps_status": "employ", "purpose_leaders_support": "dk"}
    assert db.exec(select(Comment.text)).one() == "Leaders talk about it."
    # only submitted responses count, so an autosave does not rescore (see app.services.scores)
    stored = db.get(AssessmentScore, assessment.id)
    assert stored is None or stored.n_respondents == 0

    # reopening the page shows every answer and the comment, on the page last used
    resume = client.get(f"/respond/{personal}", follow_redirects=False)
    assert resume.headers["location"].endswith("/page/1")
    page = parse(client.get(resume.headers["location"]))
    fields = page.form("#response-form").fields  # what the browser would send back
    assert fields["item:purpose_leaders_support"] == "dk" and fields["item:pps_status"] == "employ"
    assert fields["comment"] == "Leaders talk about it."
    assert page.text("#answered-count") == "2"  # progress: answered count
    assert page.text("#progress-text").startswith("Page 1 of ")


def test_autosave_without_csrf_token_is_refused(client, db, cycle):
    _, _, token = cycle
    personal = respondent(client, token)
    refused = client.post(f"/respond/{personal}/autosave", json={"item_id": "pps_status", "value": "employ"})
    assert refused.status_code == 403
    assert count(db, Answer) == 0


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"item_id": "no_such_item", "value": "4"}, "not part of this survey"),
        ({"item_id": "purpose_leaders_support", "value": "9"}, "not one of the choices"),
        ({"item_id": "integ_team_member", "value": "4"}, "not shown for your earlier answers"),
        ({"domain_id": "no_such_domain", "comment": "x"}, "not part of your survey"),
        ({"domain_id": "purpose", "comment": "x" * 5001}, "at most 5000"),
        ({"nothing": "here"}, "Nothing to save"),
    ],
)
def test_bad_autosave_input_is_refused_and_nothing_is_saved(client, db, cycle, payload, message):
    _, _, token = cycle
    personal = respondent(client, token)
    csrf = respondent_csrf(client, personal)
    refused = autosave(client, personal, csrf, **payload)
    assert refused.status_code == 400
    assert message in refused.json()["detail"]
    assert count(db, Answer) == 0 and count(db, Comment) == 0


def test_a_five_megabyte_body_is_refused(client, db, cycle):
    _, _, token = cycle
    personal = respondent(client, token)
    csrf = respondent_csrf(client, personal)
    huge = client.post(
        f"/respond/{personal}/autosave",
        content=b'{"domain_id": "purpose", "comment": "' + b"x" * (5 * 1024 * 1024) + b'"}',
        headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    assert count(db, Comment) == 0


def test_page_save_without_javascript_saves_the_page_and_moves_on(client, db, cycle):
    _, _, token = cycle
    personal = respondent(client, token)
    csrf = respondent_csrf(client, personal)
    saved = client.post(
        f"/respond/{personal}/page/1",
        data={
            "csrf_token": csrf,
            "item:pps_status": "planning",
            "item:purpose_leaders_support": "5",
            "comment": "We are getting ready.",
            "nav": "next",
        },
        follow_redirects=False,
    )
    # the answer opened new questions on this same page: stay and say so
    assert saved.status_code == 200
    page = parse(saved)
    assert page.flashes() == ["Saved. Your answers opened more questions on this page; please look at them."]
    opened = page.one("fieldset#q-purpose_prep_stakeholders")
    assert opened.get("hidden") is None
    assert all(radio.get("disabled") is None for radio in opened.cssselect("input[type=radio]"))
    next_page = client.post(
        f"/respond/{personal}/page/1", data={"csrf_token": csrf, "nav": "next"}, follow_redirects=False
    )
    assert next_page.status_code == 303 and next_page.headers["location"].endswith("/page/2")
    back = client.post(
        f"/respond/{personal}/page/2", data={"csrf_token": csrf, "nav": "back"}, follow_redirects=False
    )
    assert back.headers["location"].endswith("/page/1")
    db.expire_all()
    assert dict(db.exec(select(Answer.item_id, Answer.value)).all()) == {
        "pps_status": "planning",
        "purpose_leaders_support": "5",
    }
    assert db.exec(select(Comment.text)).one() == "We are getting ready."


def test_page_save_with_an_unknown_item_or_bad_value_saves_nothing(client, db, cycle):
    _, _, token = cycle
    personal = respondent(client, token)
    csrf = respondent_csrf(client, personal)
    for data in (
        {"item:pps_status": "employ", "item:bogus": "4"},
        {"item:pps_status": "employ", "item:purpose_leaders_support": "7"},
        {"item:pps_status": "employ", "item:integ_orientation": "4"},
    ):  # item of another page
        refused = client.post(f"/respond/{personal}/page/1", data={"csrf_token": csrf, "nav": "next", **data})
        assert refused.status_code == 400
    assert count(db, Answer) == 0


def test_answers_to_items_that_become_hidden_are_kept_but_not_scored(client, db, cycle):
    _, assessment, token = cycle
    personal = respondent(client, token)
    csrf = respondent_csrf(client, personal)
    autosave(client, personal, csrf, item_id="pps_status", value="employ")
    assert autosave(client, personal, csrf, item_id="integ_team_member", value="1").status_code == 200
    hidden = autosave(client, personal, csrf, item_id="pps_status", value="exploring").json()
    assert "integ_team_member" not in hidden["visible"]
    db.expire_all()
    assert db.exec(select(Answer.value).where(Answer.item_id == "integ_team_member")).one() == "1"
    instrument = instruments_store.instrument_for(db, assessment)
    kept = responses.answers_of(db, response_id=db.exec(select(Response.id)).one())
    card = score_responses(instrument, [ResponseInput(respondent_id="1", group="clinical", answers=kept)])
    item = next(i for d in card.domains for i in d.items if i.item_id == "integ_team_member")
    assert item.shown_to == 0 and item.n_scored == 0
    refused = autosave(client, personal, csrf, item_id="integ_team_member", value="2")
    assert refused.status_code == 400


def test_submit_lists_missing_required_items_then_locks(client, db, cycle):
    cast, assessment, token = cycle
    personal = respondent(client, token)
    csrf = respondent_csrf(client, personal)
    autosave(client, personal, csrf, item_id="pps_status", value="employ")
    missing = client.post(f"/respond/{personal}/submit", data={"csrf_token": csrf})
    assert missing.status_code == 400
    review = parse(missing)
    assert review.text("#missing[role=alert] h2") == "Your response was not submitted yet"
    assert f"/respond/{personal}/page/1#q-purpose_leaders_support" in review.links("#missing")
    assert db.exec(select(Response.status)).one() == ResponseStatus.in_progress

    instrument_answers = {}
    db.expire_all()
    response = db.exec(select(Response)).one()
    instrument = instruments_store.instrument_for(db, assessment)
    for m in responses.missing_required(instrument, "clinical", {"pps_status": "employ"}):
        instrument_answers[m.item.id] = "4"
    for item_id, value in instrument_answers.items():
        assert autosave(client, personal, csrf, item_id=item_id, value=value).status_code == 200
    done = client.post(f"/respond/{personal}/submit", data={"csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].endswith("/done")
    assert parse(client.get(done.headers["location"])).heading() == "Thank you — your response is submitted"
    db.expire_all()
    assert db.get(Response, response.id).status == ResponseStatus.submitted
    assert db.get(AssessmentScore, assessment.id).n_submitted == 1

    locked = autosave(client, personal, csrf, item_id="purpose_leaders_support", value="1")
    assert locked.status_code == 409
    assert "submitted" in locked.json()["detail"]
    locked_page = client.post(f"/respond/{personal}/page/1", data={"csrf_token": csrf, "nav": "next"})
    assert locked_page.status_code == 409
    assert (
        client.get(f"/respond/{personal}/page/1", follow_redirects=False)
        .headers["location"]
        .endswith("/done")
    )

    # the lead sees counts only (no answers, no per-response rows); only the respondent can reopen
    lead = client.__class__(client.app)
    lead_csrf = login(lead, cast.lead_a.email)
    overview = lead.get(f"/assessments/{assessment.id}")
    detail = parse(overview)
    assert detail.definitions("dl.facts")["Responses"].startswith("1 submitted, 0 in progress")
    clinical = next(
        r
        for r in detail.records("table:has(caption:contains('by respondent group'))")
        if r["Group"] == "Clinical staff"
    )
    assert (clinical["Submitted"], clinical["In progress"]) == ("1", "0")
    assert "purpose_leaders_support" not in overview.text  # raw bytes: no answer anywhere on the page
    assert lead.post(
        f"/assessments/{assessment.id}/responses/{response.id}/reopen",
        data={"csrf_token": lead_csrf},
        follow_redirects=False,
    ).status_code in (404, 405)
    reopened = client.post(f"/respond/{personal}/change", data={"csrf_token": csrf}, follow_redirects=False)
    assert reopened.status_code == 303
    assert autosave(client, personal, csrf, item_id="purpose_leaders_support", value="1").status_code == 200
    db.expire_all()
    assert db.get(Response, response.id).status == ResponseStatus.in_progress


def test_revoked_link_stops_new_responses_but_started_ones_continue(client, db, cycle):
    cast, assessment, token = cycle
    personal = respondent(client, token)
    csrf = respondent_csrf(client, personal)
    lead = client.__class__(client.app)
    lead_csrf = login(lead, cast.lead_a.email)
    invitation_id = db.exec(select(Invitation.id)).one()
    revoke = lead.post(
        f"/assessments/{assessment.id}/invitations/{invitation_id}/revoke",
        data={"csrf_token": lead_csrf},
        follow_redirects=False,
    )
    assert revoke.status_code == 303
    links = parse(lead.get(f"/assessments/{assessment.id}/invitations"))
    assert [(r["Group"], r["State"]) for r in links.records("main table")] == [
        ("Clinical staff", "Switched off")
    ]
    client.cookies.clear()
    assert client.get(f"/r/{token}").status_code == 410
    assert count(db, Response) == 1
    csrf = respondent_csrf(client, personal)
    assert autosave(client, personal, csrf, item_id="pps_status", value="employ").status_code == 200


def test_closed_cycle_accepts_no_new_responses_or_answers(client, db, cycle):
    cast, assessment, token = cycle
    personal = respondent(client, token)
    csrf = respondent_csrf(client, personal)
    lead = client.__class__(client.app)
    lead_csrf = login(lead, cast.lead_a.email)
    lead.post(
        f"/assessments/{assessment.id}/status",
        data={"csrf_token": lead_csrf, "status": "closed", "confirm": "yes"},
    )
    assert autosave(client, personal, csrf, item_id="pps_status", value="employ").status_code == 409
    client.cookies.clear()
    assert client.get(f"/r/{token}").status_code == 410
    assert count(db, Response) == 1
