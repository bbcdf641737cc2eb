"""The whole web journey in real headless Chromium: a respondent answers on two pages with
autosave, reloads and finds every answer, sees a conditional question appear, submits; the lead
signs in, sees the result and edits the plan. axe-core checks the form, results and plan pages."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from app.services import instruments_store
from tests.helpers.browser import assert_accessible, lead_with_cycle, login, submit_colleagues
from tests.web.journey import invite

PASSWORD = "browser-test-password"


@pytest.fixture
def agency(live_server):
    with live_server.session() as db:
        lead, assessment = lead_with_cycle(
            db, live_server, agency="Cedar Family Services", email_prefix="lead", password=PASSWORD
        )
        # three colleagues already submitted (low answers), so results and actions exist
        # (two of them clinical, so with the browser's respondent that group reaches the threshold
        # and its comments can be shown once the cycle closes)
        groups = ["leadership", "leadership", "leadership", "clinical", "clinical"]
        submit_colleagues(db, lead=lead, assessment=assessment, groups=groups, value="2")
        token = invite(db, user=lead, assessment=assessment, group="clinical")
        return {
            "organization_id": assessment.organization_id,
            "assessment_id": assessment.id,
            "lead": lead.email,
            "token": token,
            "instrument": instruments_store.instrument_for(db, assessment),
        }


def answer(page, item_id: str, value: str) -> None:
    page.locator(f'input[name="item:{item_id}"][value="{value}"]').check()


def wait_saved(page) -> None:
    expect(page.locator("#save-state")).to_have_text("Saved")


@pytest.mark.browser
def test_respondent_and_lead_journey(live_server, browser_page, agency):
    page = browser_page
    base = live_server.url
    page.goto(f"{base}/r/{agency['token']}")
    expect(page.locator("h2", has_text="Your personal link")).to_be_visible()
    personal_url = page.locator("#personal-link").input_value()
    assert re.search(r"/respond/[A-Za-z0-9_-]{40,}$", personal_url)
    page.get_by_role("button", name="Start the survey").click()

    # page 1: a conditional question appears once its condition is met, and goes again
    expect(page.locator("h1")).to_contain_text("Clear purpose and inclusion")
    conditional = page.locator("#q-purpose_prep_stakeholders")
    expect(conditional).to_be_hidden()
    answer(page, "pps_status", "planning")
    expect(conditional).to_be_visible()
    wait_saved(page)
    answer(page, "pps_status", "employ")
    expect(conditional).to_be_hidden()
    wait_saved(page)
    answer(page, "pps_status", "planning")
    expect(conditional).to_be_visible()
    answer(page, "purpose_prep_stakeholders", "4")
    answer(page, "purpose_leaders_support", "dk")
    page.fill("#comment", "Our director talks about this often.")
    page.locator("#comment").blur()
    wait_saved(page)
    assert_accessible(page, "form page")

    # page 2 with autosave only, then reload: every answer is still there
    page.get_by_role("button", name="Save and continue").click()
    expect(page.locator("h1")).to_contain_text("Team integration")
    page2_item = page.locator("fieldset.question:not([hidden])").first.get_attribute("data-item")
    answer(page, page2_item, "5")
    wait_saved(page)
    page.reload()
    expect(page.locator(f'input[name="item:{page2_item}"][value="5"]')).to_be_checked()
    page.goto(personal_url.replace("http://testserver", base))
    expect(page.locator("h1")).to_contain_text("Team integration")  # resumes on the last page
    page.goto(f"{personal_url}/page/1")
    expect(page.locator('input[name="item:pps_status"][value="planning"]')).to_be_checked()
    expect(page.locator('input[name="item:purpose_leaders_support"][value="dk"]')).to_be_checked()
    expect(page.locator("#comment")).to_have_value("Our director talks about this often.")
    expect(conditional).to_be_visible()

    # answer every required visible question, page by page, then submit
    page_count = page.locator(".progress ol li").count() - 2
    for number in range(1, page_count + 1):
        page.goto(f"{personal_url}/page/{number}")
        required = page.locator("fieldset.question:not([hidden]):has(.required)")
        for index in range(required.count()):
            fieldset = required.nth(index)
            if fieldset.locator("input:checked").count() == 0:
                fieldset.locator("input[type=radio]").first.check()
        page.get_by_role("button", name="Save and continue").click()
    expect(page.locator("h1")).to_have_text("Check and submit")
    page.get_by_role("button", name="Submit my response").click()
    expect(page.locator("h1")).to_contain_text("your response is submitted")

    # the lead signs in, sees the result and edits the plan
    login(page, live_server, agency["lead"], PASSWORD)
    # while the cycle is open the results page shows progress, never figures (docs/privacy.md)
    page.goto(f"{base}/assessments/{agency['assessment_id']}/results")
    expect(page.locator("#scores-table")).to_have_count(0)
    # results and the plan follow the released figures: the lead closes the cycle
    page.goto(f"{base}/assessments/{agency['assessment_id']}")
    page.locator("#confirm-close").check()
    page.get_by_role("button", name="Close the cycle").click()
    expect(page.get_by_role("button", name="Open the cycle again")).to_be_visible()
    page.goto(f"{base}/assessments/{agency['assessment_id']}/results")
    expect(page.locator("#respondent-count")).to_contain_text("6 submitted")
    expect(page.locator("#scores-table")).to_be_visible()
    comments = page.locator("#domain-purpose ul.comments blockquote")
    expect(comments.filter(has_text="Our director talks about this often.")).to_have_count(1)
    assert_accessible(page, "results page")

    page.goto(f"{base}/organizations/{agency['organization_id']}/plan")
    first = page.locator("article.plan-item").first
    title = first.locator("h3").inner_text()
    first.get_by_role("button", name=re.compile("^Accept")).click()
    # the confirmation sits on the item, in view where the page scrolled to
    expect(page.locator("#item-flash")).to_contain_text("Accepted")
    expect(page.locator("#item-flash")).to_be_in_viewport()
    # dismissing asks first; cancelling the question changes nothing
    other = page.locator("article.plan-item", has=page.locator(".badge", has_text="Proposed")).first
    other_title = other.locator("h3").inner_text()
    page.once("dialog", lambda dialog: dialog.dismiss())
    other.get_by_role("button", name=re.compile("^Dismiss")).click()
    expect(page.locator("article.plan-item", has_text=other_title).first.locator(".badge")).to_have_text(
        "Proposed"
    )
    item = page.locator("article.plan-item", has_text=title).first
    item.locator("select[name=status]").select_option("in_progress")
    item.locator("input[name=owner]").fill("Program manager")
    item.locator("input[name=due_date]").fill((date.today() + timedelta(days=90)).isoformat())
    item.get_by_role("button", name=re.compile("^Save")).click()
    expect(page.locator("#item-flash")).to_contain_text("Saved")
    item = page.locator("article.plan-item", has_text=title).first
    expect(item.locator(".badge")).to_have_text("In progress")
    expect(item.locator("input[name=owner]")).to_have_value("Program manager")
    assert_accessible(page, "plan page")
    # printing leaves out menus and forms but keeps the owner
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.locator("form.plan-form").first).to_be_hidden()
    expect(
        page.locator("article.plan-item", has_text=title).first.locator(".print-only").first
    ).to_contain_text("Owner: Program manager")
    page.emulate_media(media="screen")


@pytest.mark.browser
def test_an_answer_chosen_before_the_script_ran_is_saved_when_it_runs(live_server, browser_page, agency):
    """On a slow phone or a busy server the form can be answered before respond.js has run: that
    click has no change event, so the script saves such answers when it starts."""
    page = browser_page
    base = live_server.url
    page.goto(f"{base}/r/{agency['token']}")
    page.get_by_role("button", name="Start the survey").click()
    expect(page.locator("h1")).to_contain_text("Clear purpose and inclusion")
    # The next load of the page gets the script late: first no script at all...
    page.route("**/static/respond.js", lambda route: route.fulfill(body="", content_type="text/javascript"))
    page.reload()
    expect(page.locator("h1")).to_contain_text("Clear purpose and inclusion")
    page.locator('input[name="item:pps_status"][value="planning"]').check()
    expect(page.locator("#save-state")).to_have_text("")  # nothing ran, nothing was sent
    # ...then the script runs, after the answer (from its own address: the policy forbids inline)
    page.add_script_tag(url=f"{base}/static/respond.js?late=1")
    expect(page.locator("#save-state")).to_have_text("Saved")
    page.unroute("**/static/respond.js")
    page.reload()  # the answer is stored, not only shown
    expect(page.locator('input[name="item:pps_status"][value="planning"]')).to_be_checked()
