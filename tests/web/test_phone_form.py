"""Phone-first form (issue 13), as the server renders it: long conditions in parts, the chosen
answer marked, a place for "Saved" beside each question, the heading ready for focus, and a
review page that names the conditions whose answers are still too few to count."""

from __future__ import annotations

from app.services import instruments_store, invitations, responses
from tests.helpers.auth import make_cast
from tests.helpers.html import parse
from tests.web.journey import start_cycle


def _respondent(db, cast, instrument_id: str, group: str):
    assessment = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id, instrument_id=instrument_id)
    instrument = instruments_store.instrument_for(db, assessment)
    _, token = invitations.create_invitation(
        db, user=cast.lead_a, assessment=assessment, instrument=instrument, group=group
    )
    db.commit()
    response, personal, _ = responses.start_or_resume(db, token=token, remembered=None, client_ip="t")
    db.commit()
    return assessment, instrument, response, personal


def test_a_long_condition_comes_in_parts_with_the_chosen_answer_marked(client, db):
    cast = make_cast(db)
    assessment, instrument, response, personal = _respondent(db, cast, "readiness_full", "leadership")
    responses.save_answer(db, response=response, assessment=assessment, item_id="pps_status", value="employ")
    db.commit()
    page = parse(client.get(f"/respond/{personal}/page/1"))
    assert page.has("h1[tabindex='-1'][data-focus-on-load]")
    items = responses.form_pages(instrument, "leadership")[0].items
    parts = page.select("section.form-part")
    assert len(parts) == -(-len(items) // 6) > 1
    assert page.texts("section.form-part > h2") == [
        f"Part {n} of {len(parts)}" for n in range(1, len(parts) + 1)
    ]
    assert len(page.select("button.next-part[hidden]")) == len(parts) - 1  # shown by the script on a phone
    assert page.texts("#q-pps_status label.choice.chosen") == ["We employ parent peer specialists now"]
    assert len(page.select("fieldset.question p.item-saved")) == len(items)
    # A short condition stays one part.
    quick = _respondent(db, cast, "quick_check", "clinical")[3]
    assert len(parse(client.get(f"/respond/{quick}/page/1")).select("section.form-part")) == 1


def test_the_review_page_names_conditions_without_enough_answers(client, db):
    assessment, instrument, response, personal = _respondent(db, make_cast(db), "quick_check", "clinical")
    required = {
        "pps_status": "employ",
        "qc_leaders_support": "4",
        "qc_staff_trained": "dk",
        "qc_report_route": "5",
        "qc_supervision": "2",
    }
    for item_id, value in required.items():
        responses.save_answer(db, response=response, assessment=assessment, item_id=item_id, value=value)
    db.commit()
    review = parse(client.get(f"/respond/{personal}/review"))
    assert not review.has("#missing")
    assert review.text("#too-few h2") == "4 topics do not have enough answers to count yet"
    lines = review.texts("#too-few li")
    assert lines[0] == "Clear purpose and inclusion: 1 more answer needed (1 of the 2 needed)"
    assert lines[1].endswith("2 more answers needed (0 of the 2 needed)")  # "Don't know" does not count
    assert review.text("#too-few p:last-child") == "You can still submit now: your other answers count."

    for item_id in ("qc_clear_purpose", "qc_full_members", "qc_meetings", "qc_courtesy", "qc_training"):
        responses.save_answer(db, response=response, assessment=assessment, item_id=item_id, value="4")
    db.commit()
    review = parse(client.get(f"/respond/{personal}/review"))
    assert not review.has("#too-few")
    assert review.text("p.lead").startswith("Every required question is answered.")
