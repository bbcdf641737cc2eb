"""A backup taken while respondents keep submitting is one point in time: every foreign key in the
archive resolves, and what one transaction wrote is in it entirely or not at all (a submitted
response, its answers, its audit event and the stored count of submitted responses)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlmodel import Session, SQLModel

from app.db import backup
from app.db.models import Assessment
from app.services import instruments_store
from tests.backup.conftest import archive_tables, settings_for, url_of
from tests.helpers.auth import make_cast
from tests.web.journey import fill, full_answers, start_cycle


def _check_consistent(tables: dict[str, list[dict]], assessment_id: int, answers_each: int) -> int:
    """Assert the archive's invariants; returns how many responses were submitted in it."""
    for table in SQLModel.metadata.sorted_tables:
        for fk in table.foreign_keys:
            present = {row[fk.column.name] for row in tables[fk.column.table.name]}
            for row in tables[table.name]:
                value = row[fk.parent.name]
                assert value is None or value in present, (
                    f"{table.name}.{fk.parent.name}={value} has no {fk.column.table.name} row"
                )
    submitted = {
        r["id"]
        for r in tables["response"]
        if r["assessment_id"] == assessment_id and r["status"] == "submitted"
    }
    audited = {
        int(e["target"].split(":")[1])
        for e in tables["auditevent"]
        if e["action"] == "response.submit" and e["detail"].get("assessment_id") == assessment_id
    }
    assert submitted == audited
    answer_counts: dict[int, int] = {}
    for answer in tables["answer"]:
        answer_counts[answer["response_id"]] = answer_counts.get(answer["response_id"], 0) + 1
    assert all(answer_counts.get(response_id) == answers_each for response_id in submitted)
    score = [s for s in tables["assessmentscore"] if s["assessment_id"] == assessment_id]
    if submitted:
        assert score and score[0]["n_submitted"] == len(submitted)
    return len(submitted)


@pytest.mark.slow
def test_backup_while_responses_are_submitted_is_one_point_in_time(engine, db: Session, tmp_path):
    cast = make_cast(db)
    assessment = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id)
    instrument = instruments_store.instrument_for(db, assessment)
    answers = full_answers(instrument, "peer_staff")
    assessment_id = assessment.id

    committed = 0
    stop = threading.Event()
    errors: list[BaseException] = []

    def keep_submitting() -> None:
        nonlocal committed
        try:
            with Session(engine, expire_on_commit=False) as session:
                cycle = session.get(Assessment, assessment_id)
                while not stop.is_set():
                    fill(
                        session,
                        assessment=cycle,
                        group="peer_staff",
                        answers=answers,
                        submit=True,
                        user=cast.lead_a,
                    )
                    committed += 1
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    writer = threading.Thread(target=keep_submitting, daemon=True)
    writer.start()
    settings = settings_for(url_of(engine), tmp_path / "data")
    overlapping = 0
    seen: list[int] = []
    deadline = time.monotonic() + 90
    try:
        while (overlapping < 3 or len(seen) < 5) and time.monotonic() < deadline:
            before = committed
            archive = backup.backup(settings, tmp_path / f"during-{len(seen)}.zip").path
            overlapping += committed > before  # the writer committed while this backup was read
            assert backup.read_manifest(archive)["tables"]  # checksums and counts verified
            _manifest, tables = archive_tables(archive)
            seen.append(_check_consistent(tables, assessment_id, len(answers)))
    finally:
        stop.set()
        writer.join(timeout=60)
    assert not errors, errors
    assert overlapping >= 3, "no backup ran while responses were being submitted"
    assert seen == sorted(seen) and seen[-1] > seen[0]
