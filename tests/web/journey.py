"""Helpers for web journey tests: a cycle with invitation links and respondents, built through
the same services the pages call."""

from __future__ import annotations

import re

from sqlmodel import Session

from app.db.models import Assessment, AssessmentStatus, User
from app.paths import INSTRUMENTS_DIR
from app.services import assessments, instruments_store, invitations, responses

LINK = re.compile(r"/r/([A-Za-z0-9_-]{40,})")


def start_cycle(
    db: Session,
    *,
    user: User,
    organization_id: int,
    name: str = "Baseline, spring 2027",
    instrument_id: str = "readiness_full",
    previous=assessments.LATEST,
) -> Assessment:
    assessment = assessments.create_assessment(
        db,
        user=user,
        organization_id=organization_id,
        name=name,
        instrument_id=instrument_id,
        previous=previous,
        instruments_dir=INSTRUMENTS_DIR,
    )
    db.commit()
    return assessment


def close_cycle(db: Session, *, user: User, assessment: Assessment, privacy_threshold: int = 3) -> None:
    """Close the cycle, which releases its results (docs/privacy.md, "Releases")."""
    assessments.set_status(
        db,
        user=user,
        assessment=assessment,
        status=AssessmentStatus.closed,
        privacy_threshold=privacy_threshold,
    )
    db.commit()


def invite(db: Session, *, user: User, assessment: Assessment, group: str) -> str:
    instrument = instruments_store.instrument_for(db, assessment)
    _, token = invitations.create_invitation(
        db, user=user, assessment=assessment, instrument=instrument, group=group
    )
    db.commit()
    return token


def respondent(client, invitation_token: str) -> str:
    """Open an invitation link like a browser; returns the personal token it redirects to."""
    response = client.get(f"/r/{invitation_token}", follow_redirects=False)
    assert response.status_code == 303, response.text
    match = re.match(r"/respond/([A-Za-z0-9_-]+)", response.headers["location"])
    assert match, response.headers["location"]
    return match.group(1)


def respondent_csrf(client, personal: str) -> str:
    page = client.get(f"/respond/{personal}/page/1")
    assert page.status_code == 200, page.text
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def autosave(client, personal: str, csrf: str, **payload):
    return client.post(
        f"/respond/{personal}/autosave",
        json=payload,
        headers={"X-CSRF-Token": csrf, "Accept": "application/json"},
    )


def fill(
    db: Session,
    *,
    assessment: Assessment,
    group: str,
    answers: dict[str, str],
    comments: dict[str, str] | None = None,
    submit: bool = False,
    user: User,
    language: str | None = None,
) -> int:
    """A complete respondent through the services (fast): returns the response id. `language`:
    the language the response is answered in, as the form records it (None: not recorded)."""
    token = invite(db, user=user, assessment=assessment, group=group)
    response, _, _ = responses.start_or_resume(db, token=token, remembered=None, client_ip="test")
    if language is not None:
        responses.remember_language(db, response=response, language=language)
    for item_id, value in answers.items():
        responses.save_answer(db, response=response, assessment=assessment, item_id=item_id, value=value)
    for domain_id, body in (comments or {}).items():
        responses.save_comment(db, response=response, assessment=assessment, domain_id=domain_id, body=body)
    if submit:
        assert responses.submit(db, response=response, assessment=assessment, privacy_threshold=3) == []
    db.commit()
    return response.id


def submit_all(db: Session, *, user: User, assessment: Assessment, groups: list[str], value: str) -> None:
    """One submitted response per entry of `groups`, every question shown answered `value`."""
    instrument = instruments_store.instrument_for(db, assessment)
    for group in groups:
        answers = full_answers(instrument, group, value=value)
        fill(db, assessment=assessment, group=group, answers=answers, user=user, submit=True)


def full_answers(instrument, group: str, value: str = "4", status: str = "employ") -> dict[str, str]:
    """An answer for every item shown to `group` when the agency employs peer specialists."""
    answers = {"pps_status": status}
    shown = responses.visible_ids(instrument, group, answers)
    for item in instrument.items:
        if item.id in shown and item.id != "pps_status":
            answers[item.id] = (
                value
                if instrument.option(item, value)
                else instrument.scale_by_id(item.scale).options[0].value
            )
    return answers
