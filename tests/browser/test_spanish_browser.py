"""Spanish end to end in real Chromium on a phone-sized screen: a respondent opens a `?lang=es`
link, answers the whole instrument in Spanish, switches to English and back mid-way (every
answer kept), submits; axe-core is clean on each Spanish page; the lead then downloads the
Spanish PDF, whose text holds no English interface string (the catalog's msgids)."""

from __future__ import annotations

import io

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from pypdf import PdfReader
from sqlmodel import select

from app.db.models import Answer, Response
from tests.helpers.browser import lead_with_cycle, login, submit_colleagues
from tests.i18n.english_check import english_in
from tests.web.journey import invite

PASSWORD = "browser-test-password"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}


def assert_accessible(page, what: str) -> None:
    results = Axe().run(page)
    serious = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    assert not serious, f"{what}: " + results.generate_report()


def assert_fits_the_phone(page, what: str) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{what}: the page is {overflow}px wider than the phone screen"


@pytest.fixture
def phone(browser):
    context = browser.new_context(**PHONE)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def spanish_cycle(live_server):
    with live_server.session() as db:
        lead, assessment = lead_with_cycle(
            db,
            live_server,
            agency="Servicios Familiares Cedro",
            email_prefix="lider",
            password=PASSWORD,
            name="Primavera 2027",
        )
        # three colleagues already answered, so there are results
        submit_colleagues(db, lead=lead, assessment=assessment, groups=["leadership"] * 3, value="2")
        token = invite(db, user=lead, assessment=assessment, group="clinical")
        return {"assessment_id": assessment.id, "lead": lead.email, "token": token}


def answer_shown(page) -> dict[str, str]:
    """Answer every question a person sees now (4 where the scale has it), as a person taps.
    Questions in parts not yet opened, and those hidden by a condition, are not visible."""
    given: dict[str, str] = {}
    questions = page.locator("fieldset.question:visible")
    index = 0
    while index < questions.count():  # answering can show more questions
        fieldset = questions.nth(index)
        item = fieldset.get_attribute("data-item")
        choice = fieldset.locator('input[value="4"]')
        if item == "pps_status":
            choice = fieldset.locator('input[value="employ"]')
        elif choice.count() == 0:
            choice = fieldset.locator("input[type=radio]").first
        if choice.is_checked():  # answered before the language switch
            given[item] = choice.get_attribute("value")
            index += 1
            continue
        choice.check()
        given[item] = choice.get_attribute("value")
        expect(page.locator("#save-state")).to_have_text("Guardado")
        index += 1
    return given


def answer_every_part(page) -> dict[str, str]:
    """Answer the page part by part: on a phone a long condition shows one part of six
    questions at a time, and "Siguientes preguntas" opens the next."""
    given = answer_shown(page)
    more = page.get_by_role("button", name="Siguientes preguntas")
    while more.locator("visible=true").count():
        more.locator("visible=true").first.click()
        given.update(answer_shown(page))
    return given


def assert_checked(page, answers: dict[str, str]) -> None:
    """Every given answer to a question on this page is still checked."""
    for item, value in answers.items():
        if page.locator(f"#q-{item}").count() == 0:
            continue
        expect(page.locator(f'input[name="item:{item}"][value="{value}"]')).to_be_checked()


@pytest.mark.browser
def test_spanish_respondent_on_a_phone_then_the_spanish_pdf(live_server, phone, spanish_cycle):
    page = phone
    base = live_server.url
    page.goto(f"{base}/r/{spanish_cycle['token']}?lang=es")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("h2", has_text="Su enlace personal")).to_be_visible()
    assert_accessible(page, "intro (es)")
    assert_fits_the_phone(page, "intro (es)")
    personal_url = page.locator("#personal-link").input_value()
    page.get_by_role("button", name="Empezar la encuesta").click()

    given: dict[str, str] = {}
    pages = page.locator(".progress ol li").count() - 2
    for number in range(1, pages + 1):
        expect(page.locator("#progress-text strong")).to_have_text(f"Página {number} de {pages}")
        if number == 2:
            # mid-way: half the page answered, then English and back with the switch
            first = page.locator("fieldset.question:visible").first
            item = first.get_attribute("data-item")
            first.locator('input[value="4"]').check()
            expect(page.locator("#save-state")).to_have_text("Guardado")
            given[item] = "4"
            page.get_by_role("button", name="English").click()
            expect(page.locator("html")).to_have_attribute("lang", "en")
            expect(page.locator("#progress-text strong")).to_have_text(f"Page 2 of {pages}")
            assert_checked(page, given)
            page.get_by_role("button", name="Español").click()
            expect(page.locator("html")).to_have_attribute("lang", "es")
            assert_checked(page, given)
        given.update(answer_every_part(page))
        if number == 1:
            assert_accessible(page, "question page (es)")
            assert_fits_the_phone(page, "question page (es)")
        page.get_by_role("button", name="Guardar y seguir").click()

    expect(page.locator("h1")).to_have_text("Revisar y enviar")
    assert_accessible(page, "review (es)")
    assert_fits_the_phone(page, "review (es)")
    for number in range(1, pages + 1):  # every answer survived the switches
        page.goto(f"{personal_url}/page/{number}")
        expect(page.locator("html")).to_have_attribute("lang", "es")  # remembered on the response
        assert_checked(page, given)
    page.goto(f"{personal_url}/review")
    page.get_by_role("button", name="Enviar mi respuesta").click()
    expect(page.locator("h1")).to_contain_text("Gracias")
    assert_accessible(page, "thanks (es)")

    with live_server.session() as db:
        stored = db.exec(
            select(Response).where(
                Response.assessment_id == spanish_cycle["assessment_id"], Response.group == "clinical"
            )
        ).one()
        assert stored.language == "es" and stored.status == "submitted"
        saved = {a.item_id: a.value for a in db.exec(select(Answer).where(Answer.response_id == stored.id))}
        assert saved == given

    # the lead downloads the report in Spanish
    login(page, live_server, spanish_cycle["lead"], PASSWORD)
    download = page.request.get(
        f"{base}/assessments/{spanish_cycle['assessment_id']}/report.pdf?lang=es", timeout=180_000
    )
    assert download.status == 200 and download.headers["content-type"] == "application/pdf"
    assert "-es.pdf" in download.headers["content-disposition"]
    reader = PdfReader(io.BytesIO(download.body()))
    assert reader.trailer["/Root"]["/Lang"] == "es"
    text = " ".join(" ".join(p.extract_text() or "" for p in reader.pages).split())
    assert "Resultados de preparación y plan de acción" in text
    assert english_in(text.split("Referencias")[0]) == []
