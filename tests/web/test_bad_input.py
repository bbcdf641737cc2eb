"""Bad input gets a clear 4xx and changes nothing. Unicode digits ("²", "١٢") pass str.isdigit()
but int() refuses some of them: each place that checked isdigit() before int() gave a 500."""

from __future__ import annotations

from sqlmodel import select

from app.db.models import Assessment
from app.services import responses
from tests.helpers.auth import login, make_cast
from tests.helpers.html import parse
from tests.web.journey import autosave, invite, respondent, respondent_csrf, start_cycle

UNICODE_DIGITS = ["²", "①", "١٢", "１２"]


def test_unicode_digits_in_path_ids_are_a_clear_422(client, db):
    cast = make_cast(db)
    login(client, cast.lead_a.email)
    for digits in UNICODE_DIGITS:
        for path, field in (
            (f"/assessments/{digits}", "assessment_id"),
            (f"/organizations/{digits}/plan", "organization_id"),
        ):
            answer = client.get(path, follow_redirects=False)
            assert answer.status_code == 422, (path, answer.status_code)
            assert parse(answer).error() == (
                "We could not do that",
                f"Some of what was sent is not valid: {field}",
            )


def test_unicode_digits_in_expected_respondents_are_a_clear_error(client, db):
    cast = make_cast(db)
    token = login(client, cast.lead_a.email)
    for digits in UNICODE_DIGITS:
        answer = client.post(
            "/assessments",
            data={
                "csrf_token": token,
                "organization_id": str(cast.org_a.id),
                "name": "Baseline",
                "instrument_id": "readiness_full",
                "expected_respondents": digits,
                "previous": "none",
            },
            follow_redirects=False,
        )
        assert answer.status_code == 400, (digits, answer.status_code)
        page = parse(answer)
        assert page.alerts() == ["The number of expected respondents must be a whole number."], digits
        assert page.form("form[action='/assessments']").fields["name"] == "Baseline"  # kept for a retry
    db.expire_all()
    assert db.exec(select(Assessment)).all() == []


def test_an_autosave_with_a_unicode_page_number_still_saves_the_answer(client, db):
    cast = make_cast(db)
    assessment = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id)
    personal = respondent(client, invite(db, user=cast.lead_a, assessment=assessment, group="peer_staff"))
    csrf = respondent_csrf(client, personal)
    for n, digits in enumerate(UNICODE_DIGITS + ["99999999999999999999"]):
        value = ["employ", "planning"][n % 2]
        saved = autosave(client, personal, csrf, item_id="pps_status", value=value, page=digits)
        assert saved.status_code == 200, (digits, saved.text)
        db.expire_all()
        response, _ = responses.get_by_token(db, token=personal, client_ip="test")
        assert responses.answers_of(db, response_id=response.id) == {"pps_status": value}
        assert response.last_page == 1
