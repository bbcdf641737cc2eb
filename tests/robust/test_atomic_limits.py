"""Limits hold when attempts arrive all at once: through a real server on SQLite and PostgreSQL,
parallel wrong passwords lock the account (once), parallel failed sign-ins from one address get
at most the address limit past it, and parallel link guesses get at most the limit of 404s —
while a working link still opens from that address."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlmodel import Session

from app.db.models import Role, User, utcnow
from app.services import invitations
from app.services.accounts import LOGIN_IP_LIMIT, LOGIN_PAUSED_MESSAGE
from tests.helpers.auth import csrf_from_html, make_cast, make_user
from tests.helpers.html import parse
from tests.web.journey import invite, start_cycle


def _sign_in_at_once(url: str, attempts: list[tuple[str, str]]) -> list[httpx.Response]:
    """Each (email, password) from its own browser, all posted at the same moment."""
    start = threading.Barrier(len(attempts))

    def attempt(pair: tuple[str, str]) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=600) as client:
            token = csrf_from_html(client.get("/login").text)
            start.wait()
            return client.post(
                "/login",
                data={"email": pair[0], "password": pair[1], "csrf_token": token},
                follow_redirects=False,
            )

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        return list(pool.map(attempt, attempts))


def test_parallel_wrong_passwords_lock_the_account_once(db: Session, live):
    user = make_user(db, role=Role.org_lead, email="lead@example.org")
    results = _sign_in_at_once(live.url, [("lead@example.org", f"wrong password {n}") for n in range(20)])
    assert {r.status_code for r in results} == {400}
    db.expire_all()
    locked = db.get(User, user.id)
    assert locked.locked_until is not None and locked.locked_until > utcnow()
    assert locked.lockouts == 1  # one lock, not one per batch of parallel attempts
    # The right password now gets the pause message, which says nothing about the account.
    (right,) = _sign_in_at_once(live.url, [("lead@example.org", "correct-horse-battery-staple")])
    assert right.status_code == 400
    assert parse(right).alerts() == [LOGIN_PAUSED_MESSAGE]


def test_parallel_failures_from_one_address_stop_at_the_limit(db: Session, live):
    extra = 12
    attempts = [(f"nobody-{n}@example.org", "wrong password") for n in range(LOGIN_IP_LIMIT + extra)]
    results = _sign_in_at_once(live.url, attempts)
    statuses = [r.status_code for r in results]
    assert set(statuses) <= {400, 429}
    assert statuses.count(400) <= LOGIN_IP_LIMIT
    assert statuses.count(429) >= extra


def test_parallel_link_guesses_get_at_most_the_limit_of_404s(db: Session, live):
    cast = make_cast(db)
    assessment = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id)
    token = invite(db, user=cast.lead_a, assessment=assessment, group="peer_staff")
    guesses = [invitations.new_token() for _ in range(60)]
    start = threading.Barrier(len(guesses))

    def guess(made_up: str) -> int:
        with httpx.Client(base_url=live.url, timeout=600) as client:
            start.wait()
            return client.get(f"/r/{made_up}", follow_redirects=False).status_code

    with ThreadPoolExecutor(max_workers=len(guesses)) as pool:
        statuses = list(pool.map(guess, guesses))
    assert set(statuses) <= {404, 429}
    assert statuses.count(404) <= invitations.TOKEN_MAX_FAILURES
    assert statuses.count(429) >= len(guesses) - invitations.TOKEN_MAX_FAILURES
    # Guessing is refused from this address; a working link still opens from it.
    with httpx.Client(base_url=live.url, timeout=60) as client:
        assert client.get(f"/r/{invitations.new_token()}").status_code == 429
        assert client.get(f"/r/{token}", follow_redirects=False).status_code == 303
