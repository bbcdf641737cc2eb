"""Races on one response, made deterministic: request 1 has written but not yet committed when
request 2 arrives. The second must wait for the first and then see its work — not fail on the
Answer unique constraint (a 500 and a lost answer) nor change a response submitted meanwhile."""

from __future__ import annotations

import threading
import time

import pytest
from sqlmodel import Session

from app.errors import Conflict
from app.services import instruments_store, responses
from tests.helpers.auth import make_cast
from tests.web.journey import full_answers, invite, start_cycle

HOLD_SECONDS = 0.6


def _started_response(db: Session):
    cast = make_cast(db)
    assessment = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id)
    token = invite(db, user=cast.lead_a, assessment=assessment, group="peer_staff")
    _, personal, _ = responses.start_or_resume(db, token=token, remembered=None, client_ip="test")
    db.commit()
    return assessment, personal


def _second_request(engine, personal: str, action, outcome: dict, started: threading.Event) -> None:
    """Runs in a thread like a second server worker: load, act, commit."""
    started.wait(10)
    try:
        with Session(engine, expire_on_commit=False) as session:
            response, assessment = responses.get_by_token(session, token=personal, client_ip="test")
            action(session, response, assessment)
            session.commit()
        outcome["ok"] = True
    except Exception as exc:  # the test asserts on what happened
        outcome["error"] = exc


def _race(engine, personal: str, first, second) -> dict:
    outcome: dict = {}
    started = threading.Event()
    thread = threading.Thread(target=_second_request, args=(engine, personal, second, outcome, started))
    thread.start()
    with Session(engine, expire_on_commit=False) as session:
        response, assessment = responses.get_by_token(session, token=personal, client_ip="test")
        first(session, response, assessment)
        session.flush()
        started.set()
        time.sleep(HOLD_SECONDS)  # request 2 runs now, while request 1 is uncommitted
        session.commit()
    thread.join(30)
    assert not thread.is_alive()
    return outcome


def _stored(engine, personal: str) -> dict[str, str]:
    with Session(engine) as session:
        response, _ = responses.get_by_token(session, token=personal, client_ip="test")
        return responses.answers_of(session, response_id=response.id)


def _save(item_id: str, value: str):
    def action(session, response, assessment):
        responses.save_answer(session, response=response, assessment=assessment, item_id=item_id, value=value)

    return action


def test_two_first_saves_of_one_item_at_once_keep_the_later(engine, db):
    _, personal = _started_response(db)
    outcome = _race(engine, personal, _save("pps_status", "planning"), _save("pps_status", "employ"))
    assert outcome == {"ok": True}, outcome
    assert _stored(engine, personal) == {"pps_status": "employ"}


def test_two_first_comments_on_one_condition_at_once_keep_the_later(engine, db):
    _, personal = _started_response(db)

    def comment(text):
        def action(session, response, assessment):
            responses.save_comment(
                session, response=response, assessment=assessment, domain_id="stigma", body=text
            )

        return action

    outcome = _race(engine, personal, comment("first draft"), comment("first draft, finished"))
    assert outcome == {"ok": True}, outcome
    with Session(engine) as session:
        response, _ = responses.get_by_token(session, token=personal, client_ip="test")
        assert responses.comments_of(session, response_id=response.id) == {"stigma": "first draft, finished"}


def test_an_autosave_racing_a_submit_is_refused_not_stored_behind_the_score(engine, db):
    assessment, personal = _started_response(db)
    instrument = instruments_store.instrument_for(db, assessment)
    answers = full_answers(instrument, "peer_staff", value="4")
    with Session(engine, expire_on_commit=False) as session:
        response, loaded = responses.get_by_token(session, token=personal, client_ip="test")
        for item_id, value in answers.items():
            responses.save_answer(session, response=response, assessment=loaded, item_id=item_id, value=value)
        session.commit()
    changed_item = next(i for i in answers if i != "pps_status")

    def submit(session, response, assessment):
        assert responses.submit(session, response=response, assessment=assessment, privacy_threshold=3) == []

    outcome = _race(engine, personal, submit, _save(changed_item, "1"))
    assert isinstance(outcome.get("error"), Conflict), outcome
    assert _stored(engine, personal)[changed_item] == "4"


@pytest.mark.parametrize("clear_first", [False, True])
def test_clearing_and_setting_one_item_at_once_never_fails(engine, db, clear_first):
    _, personal = _started_response(db)
    with Session(engine, expire_on_commit=False) as session:
        response, assessment = responses.get_by_token(session, token=personal, client_ip="test")
        responses.save_answer(
            session, response=response, assessment=assessment, item_id="pps_status", value="planning"
        )
        session.commit()
    first, second = (_save("pps_status", ""), _save("pps_status", "employ"))
    if clear_first:
        outcome = _race(engine, personal, first, second)
        assert _stored(engine, personal) == {"pps_status": "employ"}
    else:
        outcome = _race(engine, personal, second, first)
        assert _stored(engine, personal) == {}
    assert outcome == {"ok": True}, outcome
