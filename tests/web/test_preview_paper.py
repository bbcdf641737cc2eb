"""Preview, paper form and CSV template (issue 13): the questions as each group sees them, without
creating a response; the printable paper form with its conditional rules in words (PDF text read
back); a blank CSV template that the importer reads as the layout of docs/csv-layout.md."""

from __future__ import annotations

import csv
import io

import pytest
from pypdf import PdfReader
from sqlmodel import select

from app.db.models import Response
from app.instruments import catalog
from app.instruments.outline import outline
from app.paths import INSTRUMENTS_DIR
from app.reports.paper import PaperForm, render_paper_pdf
from app.scoring.csv_responses import ResponsesCsvInvalid, blank_template, parse_responses_csv
from app.services import instruments_store
from tests.helpers.auth import login, make_cast
from tests.helpers.html import parse
from tests.web.journey import start_cycle


@pytest.fixture(scope="module")
def full():
    return catalog.find_instrument("readiness_full", INSTRUMENTS_DIR).instrument


def pdf_text(body: bytes) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(body)).pages)


def test_the_outline_numbers_questions_and_groups_their_conditions(full):
    form = outline(full, "family_advisory")
    numbers = [q.number for q in form.questions]
    assert numbers == list(range(1, len(numbers) + 1))
    assert form.questions[0].item.id == "pps_status"
    # Every conditional question names the question that decides it, and says where to go otherwise.
    for section in form.sections:
        for block in section.blocks:
            assert block.condition.source_number == 1
            assert block.skip_to == block.last + 1 or block.last == numbers[-1]
            inside = [q for q in section.questions if block.first <= q.number <= block.last]
            assert all(q.condition == block.condition for q in inside)
    # Only the items this group can be shown.
    asked = {i.id for i in full.items if not i.groups or "family_advisory" in i.groups}
    assert set(form.item_ids) == asked


def test_the_paper_form_says_the_conditions_in_words(full):
    # Rendered once, without the web app (the route test below prints a short instrument).
    text = pdf_text(render_paper_pdf(PaperForm(outline=outline(full, "clinical"), cycle="Spring")))
    assert "Paper form for: Clinical staff · Spring" in text
    assert (
        "Question 9 is only for people who answered “We employ parent peer specialists now” to question 1."
        " If you gave another answer to question 1, or none, skip to question 10."
    ) in text
    assert "9. Parent peer specialists are part of agency-wide meetings, news and events." in text
    assert "For data entry: column integ_team_member" in text
    assert "Please do not write your name anywhere on this form." in text
    assert text.rstrip().endswith("Page 7 of 7")


def test_a_blank_template_is_the_import_layout(full):
    header = next(csv.reader(io.StringIO(blank_template(full, "peer_staff"))))
    assert header[:2] == ["respondent", "group"]
    assert header[2:] == outline(full, "peer_staff").item_ids
    everything = next(csv.reader(io.StringIO(blank_template(full))))
    assert sorted(everything[2:]) == sorted(i.id for i in full.items)
    # The importer accepts the header as it is: it only asks for rows.
    with pytest.raises(ResponsesCsvInvalid) as refused:
        parse_responses_csv(full, blank_template(full, "peer_staff"))
    assert [str(e) for e in refused.value.errors] == ["row 2: the file has a header but no responses"]


def test_preview_paper_form_and_template_from_the_cycle_page(client, db):
    cast = make_cast(db)
    assessment = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id, instrument_id="quick_check")
    login(client, cast.lead_a.email)
    detail = parse(client.get(f"/assessments/{assessment.id}"))
    assert f"/assessments/{assessment.id}/preview" in detail.links()

    page = parse(client.get(f"/assessments/{assessment.id}/preview?group=clinical"))
    assert page.heading() == "Preview: Quick Check"
    assert page.text("nav.group-choice [aria-current=page]") == "Clinical staff"
    assert page.text("#pq-pps_status .preview-text").endswith("(required)")
    assert db.exec(select(Response)).all() == []  # a preview creates no response

    pdf = client.get(f"/assessments/{assessment.id}/paper.pdf?group=clinical&paper=a4")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    filename = "peerready-paper-quick-check-clinical.pdf"
    assert pdf.headers["content-disposition"] == f'attachment; filename="{filename}"'
    text = pdf_text(pdf.content)
    assert f"Paper form for: Clinical staff · {assessment.name} · {cast.org_a.name}" in text
    assert "1. Which of these best describes your agency today? (required)" in text

    template = client.get(f"/assessments/{assessment.id}/paper-template.csv?group=clinical")
    assert template.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(template.content.decode("utf-8-sig"))))
    instrument = instruments_store.instrument_for(db, assessment)
    assert rows == [["respondent", "group", *outline(instrument, "clinical").item_ids]]

    assert client.get(f"/assessments/{assessment.id}/preview?group=nobody").status_code == 400


def test_preview_from_start_a_cycle(client, db):
    cast = make_cast(db)
    login(client, cast.lead_a.email)
    new = parse(client.get("/assessments/new"))
    assert "/instruments/readiness_full/preview" in new.links()
    page = parse(client.get("/instruments/readiness_full/preview?group=family_advisory"))
    assert page.text("nav.group-choice [aria-current=page]") == "Family advisory members"
    assert not page.has("#paper-forms")  # paper forms belong to a cycle
    note = page.text("#pq-integ_family_sees_team .condition-note")
    assert note.startswith(
        "Shown only to people who answered “We employ parent peer specialists now” to question 1"
    )
    assert note.endswith("(on page 1).")
    assert client.get("/instruments/no_such/preview").status_code == 404
