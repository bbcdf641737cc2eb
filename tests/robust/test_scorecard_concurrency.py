"""Stored scorecards stay right when people submit at once, and a close stops what is in flight.

Through a real server on SQLite and PostgreSQL: 20 respondents submit at the same moment on one
new cycle; every submit succeeds, and the stored scorecard counts all 20 and equals a fresh
recompute. Then submits race a close: each is either accepted before the close or refused after
it, and the stored scorecard equals a recompute of exactly the accepted ones.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlmodel import Session, select

from app.db.models import Answer, Assessment, AssessmentScore, DomainScore, Response, ResponseStatus
from app.scoring import score_responses
from app.services import instruments_store, invitations, scores
from tests.helpers.auth import make_cast, sign_in_as
from tests.web.journey import full_answers, start_cycle

N = 20


def _ready_respondents(db: Session, *, n: int) -> tuple[object, Assessment, list[tuple[str, str]]]:
    """A new cycle with `n` complete responses not yet submitted: (personal token, group).
    Written in bulk (the pages' own saves are tested elsewhere): only the submits are timed."""
    cast = make_cast(db)
    assessment = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id)
    instrument = instruments_store.instrument_for(db, assessment)
    groups = ["leadership", "clinical", "peer_staff"]
    ready, rows = [], []
    for k in range(n):
        group = groups[k % len(groups)]
        personal = invitations.new_token()
        response = Response(
            assessment_id=assessment.id, group=group, token_hash=invitations.hash_token(personal)
        )
        db.add(response)
        rows.append((response, full_answers(instrument, group, value=str(2 + k % 3))))
        ready.append((personal, group))
    db.flush()
    db.add_all(
        Answer(response_id=r.id, item_id=i, value=v) for r, answers in rows for i, v in answers.items()
    )
    db.commit()
    return cast, assessment, ready


def _submit(url: str, secret_key: str, personal: str, start: threading.Barrier) -> httpx.Response:
    from app.web.security import respondent_csrf_for

    with httpx.Client(base_url=url, timeout=600) as client:
        start.wait()
        return client.post(
            f"/respond/{personal}/submit",
            headers={"X-CSRF-Token": respondent_csrf_for(secret_key, personal)},
            follow_redirects=False,
        )


def _assert_stored_equals_recompute(
    db: Session, assessment: Assessment, expected_n: int, *, released: bool
) -> None:
    db.expire_all()
    instrument = instruments_store.instrument_for(db, assessment)
    counted = scores.counted_responses(db, assessment_id=assessment.id, instrument=instrument)
    assert counted.submitted == expected_n
    fresh = score_responses(instrument, counted.inputs, privacy_threshold=3)
    stored = db.get(AssessmentScore, assessment.id)
    assert stored is not None
    assert (stored.n_submitted, stored.n_respondents) == (expected_n, expected_n)
    assert stored.scorecard == fresh.model_dump(mode="json")
    rows = {
        r.domain_id: r for r in db.exec(select(DomainScore).where(DomainScore.assessment_id == assessment.id))
    }
    # Per-condition rows are the released figures (docs/privacy.md): none while the cycle is open.
    if not released:
        assert rows == {}
        return
    for domain in fresh.domains:
        assert (rows[domain.domain_id].n, rows[domain.domain_id].score) == (domain.n, domain.score)


def test_parallel_submits_on_a_new_cycle_all_count(db, live):
    _, assessment, ready = _ready_respondents(db, n=N)
    start = threading.Barrier(N)
    with ThreadPoolExecutor(max_workers=N) as pool:
        results = list(pool.map(lambda r: _submit(live.url, live.settings.secret_key, r[0], start), ready))
    assert [r.status_code for r in results] == [303] * N, [
        r.text[:200] for r in results if r.status_code != 303
    ]
    _assert_stored_equals_recompute(db, assessment, N, released=False)


def test_submits_racing_a_close_are_accepted_before_it_or_refused_after_it(db, live):
    cast, assessment, ready = _ready_respondents(db, n=N)
    start = threading.Barrier(N + 1)
    lead = httpx.Client(base_url=live.url, timeout=600)
    csrf = sign_in_as(lead, cast.lead_a, secret_key=live.settings.secret_key, engine=live.engine)

    def close() -> httpx.Response:
        start.wait()
        return lead.post(
            f"/assessments/{assessment.id}/status",
            data={"status": "closed", "confirm": "yes", "csrf_token": csrf},
            follow_redirects=False,
        )

    with ThreadPoolExecutor(max_workers=N + 1) as pool:
        closing = pool.submit(close)
        results = list(pool.map(lambda r: _submit(live.url, live.settings.secret_key, r[0], start), ready))
    assert closing.result().status_code == 303, closing.result().text[:300]
    assert {r.status_code for r in results} <= {303, 409}, [r.text[:200] for r in results]

    db.expire_all()
    closed = db.get(Assessment, assessment.id)
    assert closed.closed_at is not None
    stored = db.exec(select(Response).where(Response.assessment_id == assessment.id)).all()
    by_token = {r.token_hash: r for r in stored}
    accepted = 0
    for (personal, _), result in zip(ready, results, strict=True):
        row = by_token[invitations.hash_token(personal)]
        if result.status_code == 303:
            accepted += 1
            assert row.status == ResponseStatus.submitted
            # Nothing is accepted for a cycle after its close committed.
            assert row.submitted_at <= closed.closed_at
        else:
            assert row.status == ResponseStatus.in_progress
    _assert_stored_equals_recompute(db, assessment, accepted, released=True)
