"""Reaching every respondent, in real Chromium (issue 13): two people answer one after another on
one shared browser (an ordinary group link, then a kiosk link); the lead previews the questions
and downloads a group's paper form (its text read back). axe-core checks every new page."""

from __future__ import annotations

import io

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader
from sqlmodel import select

from app.db.models import Membership, User
from app.services import instruments_store, invitations
from tests.helpers.browser import assert_accessible, lead_with_cycle, login
from tests.web.journey import start_cycle

PASSWORD = "reach-browser-password"
REQUIRED = {
    "pps_status": "employ",
    "qc_leaders_support": "4",
    "qc_staff_trained": "3",
    "qc_report_route": "5",
    "qc_supervision": "2",
}


@pytest.fixture(scope="module")
def cycle(live_server):
    with live_server.session() as db:
        lead, assessment = lead_with_cycle(
            db,
            live_server,
            agency="Juniper Family Center",
            email_prefix="reach-lead",
            password=PASSWORD,
            lead_name="Rae Lead",
            instrument_id="quick_check",
        )
        instrument = instruments_store.instrument_for(db, assessment)
        _, group_link = invitations.create_invitation(
            db, user=lead, assessment=assessment, instrument=instrument, group="family_advisory"
        )
        _, kiosk_link = invitations.create_invitation(
            db, user=lead, assessment=assessment, instrument=instrument, group="family_advisory", kiosk=True
        )
        db.commit()
        return {"assessment_id": assessment.id, "lead": lead.email, "group": group_link, "kiosk": kiosk_link}


def answer_required(page, first_value: str) -> None:
    """Answer every required question, page by page (autosave), and arrive at "Check and submit"."""
    answers = dict(REQUIRED, qc_leaders_support=first_value)
    # The caller has just clicked into the form: read the questions only once the page is there
    # (reading the previous page's empty list posted page 1 without its answers, now and then)
    # and its script runs.
    expect(page.locator("#response-form")).to_be_attached()
    page.wait_for_load_state("load")  # and respond.js listens, or a check() is never autosaved
    while True:
        for fieldset in page.locator("fieldset.question:not([hidden])").all():
            item = fieldset.get_attribute("data-item")
            if item in answers:
                page.locator(f'input[name="item:{item}"][value="{answers[item]}"]').check()
                expect(page.locator("#save-state")).to_have_text("Saved")
        with page.expect_navigation():
            page.get_by_role("button", name="Save and continue").click()
        if page.locator("h1", has_text="Check and submit").count():
            return


@pytest.mark.browser
def test_two_people_answer_one_after_another_on_one_shared_browser(live_server, browser_page, cycle):
    page = browser_page
    page.goto(f"{live_server.url}/r/{cycle['group']}")
    first_link = page.locator("#personal-link").input_value()
    page.get_by_role("button", name="Start the survey").click()
    answer_required(page, "5")
    page.get_by_role("button", name="Submit my response").click()
    expect(page.locator("h1")).to_have_text("Thank you — your response is submitted")
    assert_accessible(page, "done page with the offer for someone else")

    # The next person: the same browser, the same group link. They get a fresh response.
    page.get_by_role("button", name="Start a new response for someone else").click()
    expect(page.get_by_role("button", name="Start the survey")).to_be_visible()
    second_link = page.locator("#personal-link").input_value()
    assert second_link != first_link
    page.goto(f"{live_server.url}/r/{cycle['group']}")  # reopening the link resumes person two
    expect(page.locator("#personal-link")).to_have_value(second_link)
    page.get_by_role("button", name="Start the survey").click()
    expect(page.locator('input[name="item:pps_status"]:checked')).to_have_count(0)  # nothing of person one
    answer_required(page, "1")
    page.get_by_role("button", name="Submit my response").click()
    expect(page.locator("h1")).to_have_text("Thank you — your response is submitted")

    # A third visit of the group link never shows a submitted response.
    page.goto(f"{live_server.url}/r/{cycle['group']}")
    expect(page.locator("h1")).not_to_have_text("Thank you — your response is submitted")
    assert page.locator("#personal-link").input_value() not in (first_link, second_link)


@pytest.mark.browser
def test_a_kiosk_starts_again_after_each_submit(live_server, browser_page, cycle):
    page = browser_page
    page.goto(f"{live_server.url}/r/{cycle['kiosk']}")
    expect(page.locator("#shared-device h2")).to_have_text("A shared device")
    expect(page.locator("#personal-link")).to_have_count(0)
    assert_accessible(page, "kiosk intro")
    page.get_by_role("button", name="Start the survey").click()
    answer_required(page, "5")
    page.get_by_role("button", name="Submit my response").click()

    # Back at the start for the next person, and the device has forgotten the response.
    expect(page.locator(".notice-ok")).to_have_text(
        "Thank you: the response is submitted. The next person can start their own now."
    )
    cookies = [c["name"] for c in page.context.cookies()]
    assert not [name for name in cookies if name.startswith("peerready_resume")]
    assert_accessible(page, "kiosk start for the next person")
    page.get_by_role("button", name="Start the survey").click()
    expect(page.locator("h1")).to_contain_text("Clear purpose and inclusion")
    expect(page.locator('input[name="item:pps_status"]:checked')).to_have_count(0)
    answer_required(page, "2")
    page.get_by_role("button", name="Submit my response").click()
    expect(page.get_by_role("button", name="Start the survey")).to_be_visible()


@pytest.mark.browser
def test_preview_and_paper_form(live_server, browser_page, cycle):
    page = browser_page
    login(page, live_server, cycle["lead"], PASSWORD)
    page.goto(f"{live_server.url}/assessments/new")
    page.get_by_role("link", name="preview Organizational Readiness Self-Assessment").click()
    expect(page.locator("h1")).to_have_text("Preview: Organizational Readiness Self-Assessment")
    page.get_by_role("link", name="Peer staff").click()
    expect(page.locator("nav.group-choice [aria-current=page]")).to_have_text("Peer staff")
    expect(page.locator(".condition-note").first).to_contain_text("Shown only to people who answered")
    assert_accessible(page, "instrument preview")

    page.goto(f"{live_server.url}/assessments/{cycle['assessment_id']}")
    page.get_by_role("link", name="Preview and paper forms").click()
    page.get_by_role("link", name="Family advisory members").click()
    assert_accessible(page, "cycle preview")
    # Printing the form takes a few seconds on a loaded machine.
    with page.expect_download(timeout=90_000) as download:
        page.get_by_role("link", name="Paper form (PDF, US Letter)").click(timeout=90_000)
    body = open(download.value.path(), "rb").read()
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(body)).pages)
    assert "Paper form for: Family advisory members" in text
    assert "1. Which of these best describes your agency today? (required)" in text
    with page.expect_download() as template:
        page.get_by_role("link", name="Blank CSV template for typing in the answers").click()
    header = open(template.value.path(), encoding="utf-8-sig").read().splitlines()
    assert header[0].startswith("respondent,group,pps_status,")

    page.goto(f"{live_server.url}/assessments/{cycle['assessment_id']}/invitations")
    expect(page.get_by_label("For one shared device (kiosk)")).not_to_be_checked()
    assert_accessible(page, "invitation links with the kiosk option")


@pytest.fixture(scope="module")
def full_link(live_server, cycle):
    with live_server.session() as db:
        lead = db.exec(select(User).where(User.email == cycle["lead"])).one()
        organization_id = (
            db.exec(select(Membership).where(Membership.user_id == lead.id)).one().organization_id
        )
        assessment = start_cycle(db, user=lead, organization_id=organization_id, name="Phone cycle")
        instrument = instruments_store.instrument_for(db, assessment)
        _, token = invitations.create_invitation(
            db, user=lead, assessment=assessment, instrument=instrument, group="leadership"
        )
        db.commit()
        return token


@pytest.mark.browser
def test_on_a_phone_parts_focus_saved_and_chosen(live_server, browser, full_link):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/r/{full_link}")
        page.get_by_role("button", name="Start the survey").click()
        # Focus starts at the page's heading, not eight Tab stops above the first question.
        expect(page.locator("h1")).to_be_focused()
        # A long condition comes in parts, one at a time on a phone.
        expect(page.locator("section.form-part").first).to_be_visible()
        assert page.locator("section.form-part").count() > 1
        expect(page.locator("section.form-part").nth(1)).to_be_hidden()
        expect(page.get_by_role("button", name="Save and continue")).to_be_hidden()
        height = page.evaluate("document.documentElement.scrollHeight")
        assert height < 4000, height  # the whole condition on one page was about 7,000 px

        # "Saved" appears beside the answer that was saved, and the chosen answer is marked.
        page.locator('input[name="item:pps_status"][value="employ"]').check()
        expect(page.locator("#saved-pps_status")).to_have_text("Saved")
        chosen = page.locator("#q-pps_status label.choice.chosen")
        expect(chosen).to_have_count(1)
        expect(chosen).to_contain_text("We employ parent peer specialists now")
        border = chosen.evaluate("el => getComputedStyle(el).borderTopWidth")
        assert border == "2px"

        page.get_by_role("button", name="Next questions").first.click()
        expect(page.locator("section.form-part").nth(1)).to_be_visible()
        expect(page.locator("section.form-part").nth(1).locator("h2")).to_be_focused()
        assert_accessible(page, "phone form page with parts")

        # The next page's heading has the focus too.
        while page.get_by_role("button", name="Next questions").first.is_visible():
            page.get_by_role("button", name="Next questions").first.click()
        page.get_by_role("button", name="Save and continue").click()
        expect(page.locator("h1")).to_contain_text("Team integration")
        expect(page.locator("h1")).to_be_focused()
    finally:
        context.close()
