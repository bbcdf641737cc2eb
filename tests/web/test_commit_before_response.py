"""A request's transaction is committed before its response leaves: a client told "saved" (or
redirected to the next page) is never told so about something whose commit then failed."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import select

from app.db.models import Answer
from app.web.deps import SessionDep


def test_a_commit_that_fails_is_a_500_not_a_200(app, db):
    @app.get("/_test/unsaveable")
    def unsaveable(session: SessionDep):
        # Fails only when flushed at commit: the response it belongs to does not exist.
        session.add(Answer(response_id=987654, item_id="purpose_clear_goal", value="4"))
        return {"saved": True}

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/_test/unsaveable", headers={"Accept": "application/json"})
    assert answer.status_code == 500
    assert answer.json() == {"detail": "Something went wrong on our side. Nothing was half-saved."}
    db.expire_all()
    assert db.exec(select(Answer)).all() == []


def test_what_a_redirect_promises_is_readable_by_the_next_request(app, db):
    """The respondent link redirects to the new response's page; that page must find it."""
    from tests.helpers.auth import make_cast
    from tests.web.journey import invite, start_cycle

    cast = make_cast(db)
    assessment = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id)
    token = invite(db, user=cast.lead_a, assessment=assessment, group="peer_staff")
    with TestClient(app) as client:
        for _ in range(5):
            client.cookies.clear()
            opened = client.get(f"/r/{token}", follow_redirects=False)
            assert opened.status_code == 303
            page = client.get(opened.headers["location"])
            assert page.status_code == 200, page.text
