"""Job status changes are atomic on SQLite and PostgreSQL: parallel callers (threads with their
own connections, started together at a barrier) never both win the same transition."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, select

from app.config import Settings
from app.db.models import Job, JobStatus, User, utcnow
from app.services import job_store as store
from app.services import jobs
from tests.jobs.conftest import reload

PARALLEL = 6


def _race(engine, action: Callable[[Session], Any], n: int = PARALLEL) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            with Session(engine, expire_on_commit=False) as session:
                barrier.wait(timeout=10)
                results[index] = action(session)
                session.commit()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def _queued_job(engine, **fields: Any) -> int:
    with Session(engine, expire_on_commit=False) as session:
        job = Job(kind="test_steps", title="t", **fields)
        session.add(job)
        session.commit()
        assert job.id is not None
        return job.id


def test_only_one_worker_claims_a_job(engine):
    job_id = _queued_job(engine)
    results = _race(engine, lambda s: store.claim(s, job_id, worker="w"))
    assert results.count(True) == 1
    job = reload(engine, job_id)
    assert job.status == JobStatus.running and job.attempts == 1


def test_cancel_and_claim_race_has_one_winner(engine):
    for _ in range(3):
        job_id = _queued_job(engine)
        actions = [
            lambda s, j=job_id: ("claim", store.claim(s, j, worker="w")),
            lambda s, j=job_id: ("cancel", store.cancel_queued(s, j)),
        ]
        results = _race(engine, lambda s, box=iter(actions * 3): next(box)(s))
        winners = [name for name, won in results if won]
        assert len(winners) == 1
        assert reload(engine, job_id).status == (
            JobStatus.running if winners == ["claim"] else JobStatus.cancelled
        )


def test_finishing_twice_records_one_result(engine):
    job_id = _queued_job(engine)
    with Session(engine) as session:
        assert store.claim(session, job_id, worker="w")
        session.commit()
    results = _race(
        engine,
        lambda s: store.finish(
            s, job_id, path=None, filename=None, media_type=None, detail={"by": threading.get_ident()}
        ),
    )
    assert results.count(True) == 1


def test_parallel_starts_of_the_same_work_make_one_job(db, engine, cast, steps_kind, tmp_path):
    settings = Settings(PEERREADY_ENV="test", PEERREADY_DATA_DIR=tmp_path / "queue", PEERREADY_QUEUE="sqlite")
    user_id = cast.lead_a.id
    params = {"organization_id": cast.org_a.id, "lock_key": "test:parallel"}

    def start(session: Session) -> int:
        user = session.get(User, user_id)
        return jobs.start(session, "test_steps", params=params, user=user, settings=settings).id

    ids = _race(engine, start)
    assert len(set(ids)) == 1
    with Session(engine) as session:
        assert len(session.exec(select(Job)).all()) == 1


def test_only_one_holder_of_a_lease(engine):
    holders = [_queued_job(engine) for _ in range(PARALLEL)]
    box = iter(holders)
    lock = threading.Lock()

    def take(session: Session) -> bool:
        with lock:
            job_id = next(box)
        return store.try_lease(session, "report-pdf:abc", job_id=job_id, ttl=timedelta(minutes=5))

    assert _race(engine, take).count(True) == 1


def test_an_expired_lease_can_be_taken_over_by_one(engine):
    old = _queued_job(engine)
    with Session(engine) as session:
        assert store.try_lease(session, "report-pdf:old", job_id=old, ttl=timedelta(seconds=-1))
    newcomers = iter([_queued_job(engine) for _ in range(PARALLEL)])
    lock = threading.Lock()

    def take(session: Session) -> bool:
        with lock:
            job_id = next(newcomers)
        return store.try_lease(session, "report-pdf:old", job_id=job_id, ttl=timedelta(minutes=5))

    assert _race(engine, take).count(True) == 1


def test_a_running_job_whose_worker_died_is_failed_and_can_be_retried(engine):
    stale, fresh = _queued_job(engine), _queued_job(engine)
    with Session(engine) as session:
        assert store.claim(session, stale, worker="dead") and store.claim(session, fresh, worker="alive")
        session.execute(
            update(Job).where(Job.id == stale).values(heartbeat_at=utcnow() - timedelta(minutes=10))
        )
        session.commit()
    results = _race(engine, lambda s: store.reap_stale(s, stale_after=timedelta(seconds=90)))
    assert sorted(sum(results, [])) == [stale]  # reaped once, by one of them
    assert reload(engine, stale).status == JobStatus.failed and "stopped" in reload(engine, stale).error
    assert reload(engine, fresh).status == JobStatus.running
    with Session(engine) as session:
        assert store.requeue_finished(session, stale, statuses=[JobStatus.failed])
        session.commit()
    assert reload(engine, stale).status == JobStatus.queued
