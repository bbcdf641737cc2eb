"""Job fixtures: settings whose queue runs jobs immediately (through the real code path), a
cast of users, small assessments that render quickly, test-only job kinds, and a helper to run
a real `peerready worker` process against the same database and queue."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.config import Settings
from app.db.models import Assessment, Job, Organization
from app.jobs.queue import get_queue
from app.jobs.registry import JobKind, Output, Prepared, register, unregister
from app.jobs.runner import JobContext
from app.paths import INSTRUMENTS_DIR
from app.services import job_store as store
from app.services.report_samples import sample_respondents, snapshot_instrument, store_assessment
from tests.helpers.auth import Cast, make_cast

ROOT = Path(__file__).resolve().parents[2]
QUICK_CHECK = INSTRUMENTS_DIR / "quick-check.yaml"  # a short instrument: a short report, a quick render


@pytest.fixture
def immediate_settings(tmp_path: Path) -> Settings:
    return Settings(PEERREADY_ENV="test", PEERREADY_DATA_DIR=tmp_path / "data", PEERREADY_QUEUE="immediate")


@pytest.fixture
def cast(db: Session) -> Cast:
    return make_cast(db)


def small_assessment(
    db: Session, organization: Organization, *, name: str = "Baseline", people: int = 4
) -> Assessment:
    """A cycle with a few respondents: a short report that renders in well under a second."""
    version, instrument = snapshot_instrument(db, QUICK_CHECK)
    assessment = store_assessment(
        db,
        organization=organization,
        version=version,
        instrument=instrument,
        name=name,
        respondents=sample_respondents(instrument, random.Random(7), people, lean=0.6),
    )
    db.commit()
    return assessment


def reload(engine: Engine, job_id: int) -> Job:
    with Session(engine, expire_on_commit=False) as session:
        job = store.get(session, job_id)
    assert job is not None
    return job


# --- test-only kinds (in this process only; the worker process knows the real kinds) ----------


@dataclass
class StepsBehaviour:
    steps: int = 3
    fail_times: int = 0  # raise an unexpected error on the first N runs
    cancel_at: int | None = None  # request a cancel of itself when it reaches this step
    sleep: float = 0.0
    runs: int = 0
    finished_steps: int = 0


@pytest.fixture
def steps_kind(immediate_settings: Settings) -> Iterator[StepsBehaviour]:
    """A `test_steps` job kind: N steps with progress, optionally failing or cancelling itself."""
    behaviour = StepsBehaviour()

    def prepare(session: Session, params: dict[str, Any], user: Any, settings: Settings) -> Prepared:
        return Prepared(
            title="Test steps",
            params=params,
            organization_id=params.get("organization_id"),
            lock_key=params.get("lock_key"),
            timeout_seconds=params.get("timeout_seconds"),
            total=behaviour.steps,
        )

    def run(ctx: JobContext, params: dict[str, Any]) -> Output:
        behaviour.runs += 1
        if behaviour.runs <= behaviour.fail_times:
            raise RuntimeError(f"disk on fire (run {behaviour.runs})")
        for step in range(behaviour.steps):
            if behaviour.cancel_at == step:
                with ctx.session() as session:
                    store.request_cancel(session, ctx.job_id)
            ctx.progress(step, behaviour.steps, f"{step} of {behaviour.steps} things")
            if behaviour.sleep:
                time.sleep(behaviour.sleep)
            behaviour.finished_steps = step + 1
        path = ctx.output_dir() / "result.txt"
        path.write_text("all steps done\n")
        ctx.progress(behaviour.steps, behaviour.steps, "Ready")
        return Output(
            path=path, filename="result.txt", media_type="text/plain", detail={"steps": behaviour.steps}
        )

    register(JobKind(name="test_steps", label="Test steps", prepare=prepare, run=run, retries=None))
    try:
        yield behaviour
    finally:
        unregister("test_steps")


# --- a real worker process --------------------------------------------------------------------


def worker_settings(engine: Engine, data_dir: Path, **extra: Any) -> Settings:
    """Settings for the test process that match what the worker subprocess reads from its env."""
    return Settings(
        PEERREADY_ENV="test",
        PEERREADY_DATA_DIR=data_dir,
        DATABASE_URL=engine.url.render_as_string(hide_password=False),
        **extra,
    )


def worker_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEERREADY_") and k != "DATABASE_URL"}
    env.update(
        {
            "PEERREADY_ENV": "test",
            "PEERREADY_DATA_DIR": str(settings.data_dir),
            "DATABASE_URL": settings.database_url or "",
            "PEERREADY_QUEUE": settings.queue,
            "PEERREADY_JOB_RETRIES": str(settings.job_retries),
            "PEERREADY_JOB_RETRY_DELAY": str(settings.job_retry_delay),
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def run_burst(settings: Settings, *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`peerready worker --burst` in a subprocess; fails the test if it does not end in time."""
    result = subprocess.run(
        [sys.executable, "-m", "app", "worker", "--burst"],
        cwd=ROOT,
        env=worker_env(settings),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result


@contextmanager
def worker_process(settings: Settings, *, workers: int = 1) -> Iterator[subprocess.Popen[str]]:
    """A running `peerready worker`, stopped with SIGTERM (then killed) when the block ends."""
    log = open(settings.data_dir / f"worker-{time.monotonic_ns()}.log", "w+")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "worker", "--workers", str(workers)],
        cwd=ROOT,
        env=worker_env(settings),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        log.seek(0)
        process.output = log.read()  # type: ignore[attr-defined]
        log.close()


def wait_for(
    predicate: Callable[[], Any], *, timeout: float = 60, interval: float = 0.05, what: str = ""
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(interval)


@pytest.fixture
def queue_data_dir(tmp_path: Path, engine: Engine) -> Iterator[Path]:
    """A data folder for worker tests; the shared PostgreSQL queue tables start and end empty."""
    data_dir = tmp_path / "worker-data"
    data_dir.mkdir()
    settings = worker_settings(engine, data_dir)
    queue = get_queue(settings, engine)
    queue.flush()
    try:
        yield data_dir
    finally:
        queue.flush()


@pytest.fixture
def settings(immediate_settings: Settings) -> Settings:
    """The app fixture of tests/conftest.py runs with the immediate queue in this folder."""
    return immediate_settings
