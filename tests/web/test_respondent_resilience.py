"""A respondent's answers survive what happens around an open form: their session cookie ending
(idle for hours, or someone signing out in the same browser), and a comment at the length limit
posted by the form without JavaScript (browsers send its line breaks as CRLF)."""

from __future__ import annotations

import re

from app.services import responses
from tests.helpers.auth import make_cast
from tests.web.journey import autosave, invite, respondent, start_cycle


def _open(client, db):
    cast = make_cast(db)
    assessment = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id)
    personal = respondent(client, invite(db, user=cast.lead_a, assessment=assessment, group="peer_staff"))
    page = client.get(f"/respond/{personal}/page/1")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return cast, assessment, personal, token


def _answers(db, personal):
    db.expire_all()
    response, _ = responses.get_by_token(db, token=personal, client_ip="test")
    return (
        responses.answers_of(db, response_id=response.id),
        responses.comments_of(db, response_id=response.id),
    )


def test_answers_still_save_after_the_session_cookie_ends(client, db):
    _, _, personal, token = _open(client, db)
    client.cookies.clear()  # the session expired while the page stayed open
    saved = autosave(client, personal, token, item_id="pps_status", value="employ", page=1)
    assert saved.status_code == 200, saved.text
    posted = client.post(
        f"/respond/{personal}/page/1",
        data={"csrf_token": token, "item:pps_status": "planning", "comment": "Still here", "nav": "stay"},
        follow_redirects=False,
    )
    assert posted.status_code == 303, posted.text
    assert _answers(db, personal) == ({"pps_status": "planning"}, {"purpose": "Still here"})


def test_a_respondent_token_works_only_on_its_own_link(client, db):
    cast, assessment, personal, token = _open(client, db)
    other = respondent(client, invite(db, user=cast.lead_a, assessment=assessment, group="clinical"))
    client.cookies.clear()
    refused = autosave(client, other, token, item_id="pps_status", value="employ")
    assert refused.status_code == 403
    assert _answers(db, other) == ({}, {})
    # ...and it is no session token either: signed-in pages refuse it.
    assert client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 403


def test_a_comment_at_the_limit_with_line_breaks_saves_with_its_page(client, db):
    _, _, personal, token = _open(client, db)
    lines = ["x" * 99] * 50  # 50 lines: 4,999 characters with "\n" breaks, 5,048 with "\r\n"
    typed = "\n".join(lines)
    assert len(typed) == responses.MAX_COMMENT_CHARS - 1
    posted = client.post(
        f"/respond/{personal}/page/1",
        content=(
            f"csrf_token={token}&item:pps_status=employ&nav=stay&comment=" + "%0D%0A".join(lines)
        ).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert posted.status_code == 303, posted.text
    assert _answers(db, personal) == ({"pps_status": "employ"}, {"purpose": typed})
