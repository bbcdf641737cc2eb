"""Two edits of one plan item at the same time, on SQLite and PostgreSQL: the second waits for the
first (the item's write lock, app/services/locks.py) and then compares with what the first saved,
so the due-date rule's "previous date" and the audit's "from" are the stored ones, never a stale
read. Deterministic: editor B holds its edit open while editor A reaches its first write."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlmodel import Session, col, select

from app.db.models import AuditEvent, PlanItem, PlanStatus, utcnow
from app.errors import BadInput
from app.services import plan
from tests.helpers.auth import make_cast
from tests.web.journey import start_cycle


def _item(db: Session, *, with_cycle: bool, due) -> tuple[object, PlanItem]:
    cast = make_cast(db)
    assessment = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id) if with_cycle else None
    item = PlanItem(
        organization_id=cast.org_a.id,
        assessment_id=assessment.id if assessment else None,
        action_id="some_action" if with_cycle else None,
        title="Write the peer role description",
        status=PlanStatus.accepted,
        due_date=due,
    )
    db.add(item)
    db.commit()
    return cast, item


def _edit_while_the_other_waits(
    engine, *, cast, item_id: int, first: dict, second: dict
) -> list[BaseException]:
    """Editor B saves `first` and keeps its transaction open; editor A starts saving `second` in
    another thread; once A is about to write anything, B commits. Returns A's errors."""
    about_to_write = threading.Event()

    def watch(conn, cursor, statement, *args) -> None:
        if threading.current_thread().name == "editor-a" and statement.lstrip()[:6].upper() in (
            "UPDATE",
            "INSERT",
        ):
            about_to_write.set()

    errors: list[BaseException] = []

    def editor_a() -> None:
        with Session(engine, expire_on_commit=False) as session:
            try:
                plan.update_item(
                    session, user=cast.lead_a, organization_id=cast.org_a.id, item_id=item_id, **second
                )
                session.commit()
            except BaseException as error:  # noqa: BLE001 - handed to the test
                session.rollback()
                errors.append(error)

    event.listen(engine, "before_cursor_execute", watch)
    try:
        with Session(engine, expire_on_commit=False) as b:
            plan.update_item(b, user=cast.lead_a, organization_id=cast.org_a.id, item_id=item_id, **first)
            b.flush()
            thread = threading.Thread(target=editor_a, name="editor-a")
            thread.start()
            assert about_to_write.wait(timeout=60), "editor A never reached a write"
            b.commit()
        thread.join(timeout=60)
        assert not thread.is_alive()
    finally:
        event.remove(engine, "before_cursor_execute", watch)
    return errors


@pytest.mark.parametrize("with_cycle", [True, False], ids=["proposed", "own-action"])
def test_parallel_due_date_edits_compare_with_the_stored_date(engine, db, with_cycle):
    today = utcnow().date()
    start, b_date, a_date = today + timedelta(days=30), today + timedelta(days=60), today + timedelta(days=90)
    cast, item = _item(db, with_cycle=with_cycle, due=start)
    fields = {"status": PlanStatus.in_progress, "owner": "Director", "notes": None}
    errors = _edit_while_the_other_waits(
        engine,
        cast=cast,
        item_id=item.id,
        first={**fields, "due_date": b_date},
        second={**fields, "due_date": a_date},
    )
    assert errors == []
    db.expire_all()
    assert db.get(PlanItem, item.id).due_date == a_date
    audits = db.exec(
        select(AuditEvent).where(AuditEvent.target == f"plan_item:{item.id}").order_by(col(AuditEvent.id))
    ).all()
    chain = [(a.detail["changes"]["due_date"]["from"], a.detail["changes"]["due_date"]["to"]) for a in audits]
    # A saw B's date as the previous one: the audit is one chain, not two edits "from" the start.
    assert chain == [(str(start), str(b_date)), (str(b_date), str(a_date))]


def test_keeping_an_overdue_date_is_checked_against_the_date_saved_meanwhile(engine, db):
    """The item is overdue (kept dates may have passed). B moves the date on; A's form still holds
    the old, passed date: after B, that is a change to a past date, refused with a clear message."""
    today = utcnow().date()
    overdue, later = today - timedelta(days=5), today + timedelta(days=40)
    cast, item = _item(db, with_cycle=False, due=overdue)
    errors = _edit_while_the_other_waits(
        engine,
        cast=cast,
        item_id=item.id,
        first={"status": PlanStatus.accepted, "owner": None, "notes": None, "due_date": later},
        second={"status": PlanStatus.done, "owner": None, "notes": "Finished", "due_date": overdue},
    )
    assert len(errors) == 1 and isinstance(errors[0], BadInput)
    assert f"{overdue.isoformat()} is in the past" in str(errors[0])
    db.expire_all()
    stored = db.get(PlanItem, item.id)
    assert (stored.due_date, stored.status, stored.notes) == (later, PlanStatus.accepted, None)
