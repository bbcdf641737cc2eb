"""Respondent links (long, random, stored hashed, revocable, expiring, guessing rate-limited),
and what funders and other organizations' leads can reach by changing an id."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import select

from app.db.models import Invitation, RateLimitBucket, Response, utcnow
from app.services import invitations
from tests.helpers.auth import sign_in_as
from tests.helpers.html import parse
from tests.security.conftest import build_world


def _all_text_in_database(db) -> str:
    """Every value of every row, as one string (to look for a token stored in the clear)."""
    from sqlmodel import SQLModel

    chunks = []
    for table in SQLModel.metadata.sorted_tables:
        for row in db.exec(text(f'SELECT * FROM "{table.name}"')):
            chunks.append(" ".join(str(value) for value in row))
    return "\n".join(chunks)


def test_tokens_are_long_random_and_stored_only_as_hashes(client, db):
    world = build_world(db)
    tokens = [world.a.invitation_token, world.a.personal_token, world.b.invitation_token]
    for token in tokens:
        assert len(token) >= 43 and re.fullmatch(r"[A-Za-z0-9_-]+", token)  # 256 bits, url-safe
    assert len(set(tokens)) == len(tokens)
    stored = _all_text_in_database(db)
    for token in tokens:
        assert token not in stored
        assert invitations.hash_token(token) in stored
    # Comparisons are on hashes, in constant time.
    assert invitations.same_token(world.a.personal_token, invitations.hash_token(world.a.personal_token))
    assert not invitations.same_token(
        world.a.personal_token[:-1] + "x", invitations.hash_token(world.a.personal_token)
    )


def test_a_token_one_character_off_does_not_work(client, db):
    world = build_world(db)
    token = world.a.personal_token
    near = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert client.get(f"/respond/{near}/page/1").status_code == 404
    assert client.get(f"/respond/{token}/page/1").status_code == 200


def test_a_revoked_link_stops_working(client, db):
    world = build_world(db)
    token = sign_in_as(client, world.cast.lead_a)
    assert client.get(f"/r/{world.a.invitation_token}", follow_redirects=False).status_code == 303
    response = client.post(
        f"/assessments/{world.a.assessment_id}/invitations/{world.a.invitation_id}/revoke",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    with TestClient(client.app) as stranger:
        revoked = stranger.get(f"/r/{world.a.invitation_token}", follow_redirects=False)
        assert revoked.status_code == 410
        heading, message = parse(revoked).error()
        assert message.startswith("This link has been switched off by the agency."), (heading, message)
    started_before = db.exec(select(Response).where(Response.invitation_id == world.a.invitation_id)).all()
    db.expire_all()
    assert (
        db.exec(select(Response).where(Response.invitation_id == world.a.invitation_id)).all()
        == started_before
    )


def test_an_expired_link_stops_working(client, db):
    world = build_world(db)
    invitation = db.get(Invitation, world.a.invitation_id)
    invitation.expires_at = utcnow() - timedelta(minutes=1)
    db.add(invitation)
    db.commit()
    assert client.get(f"/r/{world.a.invitation_token}", follow_redirects=False).status_code == 410


def test_guessing_links_is_rate_limited_per_address(app, db):
    """The documented limit (README, "Running in production"): 20 links that do not work from one
    address within 10 minutes get 404, every further one 429, counted per address. A working link
    still opens from that address (one person mistyping must not lock out an office)."""
    world = build_world(db)
    limit = invitations.TOKEN_MAX_FAILURES
    assert limit == 20 and invitations.TOKEN_WINDOW == timedelta(minutes=10)
    with TestClient(app, client=("203.0.113.7", 5000)) as guesser:
        for n in range(limit):
            path = f"/r/{n:03d}" if n % 2 else f"/respond/{n:03d}"  # both kinds of link count
            guess = path + "x" * 40 + ("/page/1" if path.startswith("/respond") else "")
            assert guesser.get(guess, follow_redirects=False).status_code == 404, n
        # The next guess of either kind is refused, whatever it is ...
        assert guesser.get(f"/r/{invitations.new_token()}", follow_redirects=False).status_code == 429
        refused = guesser.get(f"/respond/{'y' * 43}/page/1")
        assert refused.status_code == 429 and invitations.TOO_MANY_GUESSES in refused.text
        # ... while working links still open from this address.
        assert guesser.get(f"/r/{world.a.invitation_token}", follow_redirects=False).status_code == 303
        assert guesser.get(f"/respond/{world.a.personal_token}/page/1").status_code == 200
    # Other addresses are not affected: their guesses are still answered 404.
    with TestClient(app, client=("198.51.100.9", 5000)) as someone_else:
        assert someone_else.get(f"/r/{invitations.new_token()}", follow_redirects=False).status_code == 404
        assert someone_else.get(f"/respond/{world.a.personal_token}/page/1").status_code == 200
    # The count is per address and per window: once the window has passed, it starts again.
    db.expire_all()
    bucket = db.get(RateLimitBucket, "token:203.0.113.7")
    assert bucket is not None and bucket.hits == limit + 2
    assert db.get(RateLimitBucket, "token:198.51.100.9").hits == 1
    bucket.window_start = utcnow() - invitations.TOKEN_WINDOW - timedelta(seconds=1)
    db.add(bucket)
    db.commit()
    with TestClient(app, client=("203.0.113.7", 5000)) as guesser:
        assert guesser.get(f"/r/{invitations.new_token()}", follow_redirects=False).status_code == 404


def test_a_funder_cannot_reach_a_response_or_comment_by_any_id(app, db):
    world = build_world(db)
    ids = range(1, 12)
    templates = [
        "/assessments/{id}",
        "/assessments/{id}/results",
        "/assessments/{id}/invitations",
        "/assessments/{id}/plan",
        "/assessments/{id}/report.pdf",
        "/organizations/{id}/plan",
        "/consultant/assessments/{id}/commentary",
        "/consultant/assessments/{id}/import",
    ]
    comments = [world.a.markers["comment"], world.b.markers["comment"]]
    with TestClient(app) as client:
        sign_in_as(client, world.cast.funder_p)
        for template in templates:
            for value in ids:
                url = template.replace("{id}", str(value))
                response = client.get(url, follow_redirects=False)
                # Refused by role before any lookup, so an id that exists and one that does not
                # look the same: the answer tells nothing about which ids exist.
                assert response.status_code == 403, f"{url} gave a funder {response.status_code}"
                assert not any(marker in response.text for marker in comments)
        # Their own portfolio's pages and API show aggregates only: no comment text anywhere.
        for url in (
            f"/portfolio/{world.a.portfolio_id}",
            f"/portfolio/{world.a.portfolio_id}/export.csv",
            f"/api/v1/portfolios/{world.a.portfolio_id}/sites",
            f"/api/v1/portfolios/{world.a.portfolio_id}/summary",
        ):
            response = client.get(url)
            assert response.status_code == 200, url
            assert not any(marker in response.text for marker in comments), url
            assert world.b.markers["organization"] not in response.text, url
            if response.headers["content-type"].startswith("text/html"):
                page = parse(response)  # decoded text and attributes too, not only the bytes
                for marker in [*comments, world.b.markers["organization"]]:
                    page.assert_not_shown(marker)


def test_a_funder_sees_site_level_aggregates_only(app, db):
    """Org A's closed cycle: three peer-staff respondents and one lone clinical respondent (threshold 3).
    Funders get site-level figures; no respondent group (let alone one of a single person) appears."""
    from app.db.models import Assessment, AssessmentStatus
    from app.services import instruments_store
    from tests.web.journey import fill, full_answers

    world = build_world(db)
    assessment = db.get(Assessment, world.a.assessment_id)
    instrument = instruments_store.instrument_for(db, assessment)
    fill(
        db,
        assessment=assessment,
        group="clinical",
        user=world.cast.lead_a,
        submit=True,
        answers=full_answers(instrument, "clinical", value="1"),
    )
    assessment.status, assessment.closed_at = AssessmentStatus.closed, utcnow()
    db.add(assessment)
    db.commit()
    with TestClient(app) as client:
        sign_in_as(client, world.cast.funder_p)
        outputs = {
            url: client.get(url)
            for url in (
                f"/api/v1/portfolios/{world.a.portfolio_id}/sites",
                f"/api/v1/portfolios/{world.a.portfolio_id}/summary",
                f"/portfolio/{world.a.portfolio_id}",
                f"/portfolio/{world.a.portfolio_id}/export.csv",
            )
        }
    sites = outputs[f"/api/v1/portfolios/{world.a.portfolio_id}/sites"].json()["sites"]
    assert sites[0]["status"] == "scored"  # the site itself is shown ...
    for url, response in outputs.items():
        assert response.status_code == 200, url
        body = response.text.lower()
        for group in ("clinical", "peer_staff", "admin_hr", "family_advisory"):
            assert group not in body, f"{url} names the respondent group {group!r}"  # ... its groups never
        assert world.a.markers["comment"].lower() not in body


def test_an_org_lead_cannot_open_another_organizations_data_by_changing_the_id(app, db):
    world = build_world(db)
    b = world.b
    urls = [
        f"/assessments/{b.assessment_id}",
        f"/assessments/{b.assessment_id}/results",
        f"/assessments/{b.assessment_id}/invitations",
        f"/assessments/{b.assessment_id}/plan",
        f"/assessments/{b.assessment_id}/report.pdf",
        f"/organizations/{b.organization_id}/plan",
    ]
    with TestClient(app) as client:
        csrf = sign_in_as(client, world.cast.lead_a)
        for url in urls:
            response = client.get(url, follow_redirects=False)
            assert response.status_code == 404, url
            assert (
                b.markers["organization"] not in response.text and b.markers["comment"] not in response.text
            )
            if response.headers["content-type"].startswith("text/html"):
                assert parse(response).heading() == "Not found", url
        changed = client.post(
            f"/organizations/{b.organization_id}/plan/items/{b.plan_item_id}/status",
            data={"status": "dismissed", "csrf_token": csrf},
            follow_redirects=False,
        )
        assert changed.status_code == 404
    db.expire_all()
    from app.db.models import PlanItem

    assert db.get(PlanItem, b.plan_item_id).status != "dismissed"
