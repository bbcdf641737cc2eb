"""Shared devices (issue 13): after one person submits from a group link, the next person on the
same browser starts their own response and never sees the previous one; a kiosk link forgets the
response after each submit and shows the start again; a personal link to a closed cycle says
"closed" on the intro. Plus the review page's step indicator (issue 16)."""

from __future__ import annotations

import re

from app.db.models import Assessment, AssessmentStatus, Invitation, ResponseStatus
from app.services import instruments_store, invitations, responses
from app.services.responses import resume_cookie_name
from tests.helpers.auth import login, make_cast
from tests.helpers.html import parse
from tests.web.journey import full_answers, start_cycle

PERSONAL = re.compile(r"^/respond/([A-Za-z0-9_-]{40,})(/|$)")


def _personal_of(location: str) -> str:
    match = PERSONAL.match(location)
    assert match, location
    return match.group(1)


def _open(client, token: str) -> str:
    opened = client.get(f"/r/{token}", follow_redirects=False)
    assert opened.status_code == 303, opened.text
    return _personal_of(opened.headers["location"])


def _answer_all_and_submit(client, db, personal: str, assessment: Assessment) -> object:
    response, _ = responses.get_by_token(db, token=personal, client_ip="t")
    instrument = instruments_store.instrument_for(db, assessment)
    for item_id, value in full_answers(instrument, response.group).items():
        responses.save_answer(db, response=response, assessment=assessment, item_id=item_id, value=value)
    db.commit()
    page = parse(client.get(f"/respond/{personal}/review"))
    csrf = page.form("form[action$='/submit']").fields["csrf_token"]
    return client.post(f"/respond/{personal}/submit", data={"csrf_token": csrf}, follow_redirects=False)


def _cycle(db, *, kiosk: bool = False):
    cast = make_cast(db)
    assessment = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id, instrument_id="quick_check")
    instrument = instruments_store.instrument_for(db, assessment)
    invitation, token = invitations.create_invitation(
        db, user=cast.lead_a, assessment=assessment, instrument=instrument, group="clinical", kiosk=kiosk
    )
    db.commit()
    return cast, assessment, token, invitation.id


def test_the_next_person_on_a_shared_browser_starts_their_own_response(client, db):
    _, assessment, token, _ = _cycle(db)
    first = _open(client, token)
    assert _open(client, token) == first  # the same person reopening the link resumes
    submitted = _answer_all_and_submit(client, db, first, assessment)
    assert submitted.status_code == 303
    assert submitted.headers["location"] == f"/respond/{first}/done"

    done = parse(client.get(f"/respond/{first}/done"))
    offer = done.form("#someone-else form")
    assert offer.get("action") == f"/respond/{first}/another"
    assert done.texts("#someone-else button") == ["Start a new response for someone else"]

    # The button starts a fresh, empty response of the same group, remembered by this browser.
    started = client.post(
        f"/respond/{first}/another", data={"csrf_token": offer.fields["csrf_token"]}, follow_redirects=False
    )
    assert started.status_code == 303
    second = _personal_of(started.headers["location"])
    assert second != first and started.headers["location"].endswith("/page/0")
    db.expire_all()
    new = responses.get_by_token(db, token=second, client_ip="t")[0]
    assert new.status == ResponseStatus.in_progress and new.group == "clinical"
    assert responses.answers_of(db, response_id=new.id) == {}
    assert _open(client, token) == second  # the group link now resumes the second person's response

    # Even without the button, the group link never shows a submitted response again.
    _answer_all_and_submit(client, db, second, assessment)
    third = _open(client, token)
    assert third not in (first, second)
    intro = parse(client.get(f"/respond/{third}/page/0"))
    assert intro.texts("form[action$='/page/0'] button") == ["Start the survey"]


def test_start_another_is_refused_before_submit_and_for_paper_responses(client, db):
    _, assessment, token, _ = _cycle(db)
    personal = _open(client, token)
    page = parse(client.get(f"/respond/{personal}/page/0"))
    csrf = page.form("form[action$='/page/0']").fields["csrf_token"]
    refused = client.post(f"/respond/{personal}/another", data={"csrf_token": csrf})
    assert refused.status_code == 409
    # A submitted response whose link was switched off offers nothing.
    _answer_all_and_submit(client, db, personal, assessment)
    db.expire_all()
    response = responses.get_by_token(db, token=personal, client_ip="t")[0]
    invitation = db.get(Invitation, response.invitation_id)
    invitation.revoked_at = invitation.created_at
    db.add(invitation)
    db.commit()
    assert not parse(client.get(f"/respond/{personal}/done")).has("#someone-else")
    assert client.post(f"/respond/{personal}/another", data={"csrf_token": csrf}).status_code == 410


def test_a_kiosk_link_forgets_the_response_and_starts_again(client, db, app):
    cast, assessment, token, invitation_id = _cycle(db, kiosk=True)
    first = _open(client, token)
    cookie = resume_cookie_name(invitation_id)
    assert client.cookies.get(cookie) == first
    intro = parse(client.get(f"/respond/{first}/page/0"))
    assert intro.has("#shared-device") and not intro.has("#personal-link")

    submitted = _answer_all_and_submit(client, db, first, assessment)
    assert submitted.status_code == 303
    assert submitted.headers["location"] == f"/respond/{first}/next"
    assert cookie not in client.cookies  # forgotten: the next person starts afresh

    start = parse(client.get(f"/respond/{first}/next"))
    assert start.flashes() == [
        "Thank you: the response is submitted. The next person can start their own now."
    ]
    form = start.form("form[action$='/another']")
    assert start.texts("button", within=form) == ["Start the survey"]
    assert not start.has("#personal-link") and not start.has(".progress")
    started = client.post(
        f"/respond/{first}/another", data={"csrf_token": form.fields["csrf_token"]}, follow_redirects=False
    )
    second = _personal_of(started.headers["location"])
    assert started.headers["location"] == f"/respond/{second}/page/1"
    assert client.cookies.get(cookie) == second

    # The lead chose the kiosk option when creating the link, and sees it in the list.
    lead = client.__class__(app)
    csrf = login(lead, cast.lead_a.email)
    created = parse(
        lead.post(
            f"/assessments/{assessment.id}/invitations",
            data={"csrf_token": csrf, "group": "peer_staff", "kiosk": "yes"},
        )
    )
    assert created.text("#new-link h2").endswith(", for one shared device")
    assert created.label_for("kiosk") == "For one shared device (kiosk)"
    assert sum("Shared device (kiosk)" in row[1] for row in created.table()) == 2


def test_a_personal_link_to_a_closed_cycle_says_closed_on_the_intro(client, db):
    _, assessment, token, _ = _cycle(db)
    personal = _open(client, token)
    started = parse(client.get(f"/respond/{personal}/page/0"))
    csrf = started.form("form[action$='/page/0']").fields["csrf_token"]
    client.post(f"/respond/{personal}/page/0", data={"csrf_token": csrf, "nav": "next"})
    stored = db.get(Assessment, assessment.id)
    stored.status = AssessmentStatus.closed
    db.add(stored)
    db.commit()

    resumed = client.get(f"/respond/{personal}", follow_redirects=False)
    assert resumed.headers["location"] == f"/respond/{personal}/page/0"
    intro = parse(client.get(f"/respond/{personal}/page/0"))
    assert intro.text("#survey-closed h2") == "This survey is closed"
    assert not intro.has("form[action$='/page/0']")


def test_the_review_page_marks_its_own_step(client, db):
    _, _, token, _ = _cycle(db)
    personal = _open(client, token)
    review = parse(client.get(f"/respond/{personal}/review"))
    assert review.text(".progress [aria-current=step]") == "Check and submit"
    assert review.text("#progress-text strong") == "Check and submit"
