"""Respondent pages: open an invitation link, fill one's own response, submit it.

No account: the personal token in the URL is the key to exactly one response. Every page sends
`Cache-Control: no-store`, and the site-wide `Referrer-Policy: no-referrer` keeps tokens out of
other sites' logs.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy import Connection
from sqlmodel import Session
from starlette.responses import Response as Response_

from app import i18n
from app.db.models import Assessment, Invitation, Response, ResponseStatus
from app.errors import BadInput, NotFound
from app.instruments.models import Instrument
from app.services import assessments as assessments_service
from app.services import instruments_store
from app.services import responses as responses_service
from app.web.boundary import read_json
from app.web.deps import SessionDep, SettingsDep, in_connection, in_transaction
from app.web.security import verify_request
from app.web.templating import render, render_form_page

router = APIRouter()

# Before resume cookies were named per invitation, one cookie scoped to the link's path held the
# personal token; browsers that still have one are resumed from it.
LEGACY_RESUME_COOKIE = "peerready_resume"
RESUME_COOKIE_PATH = "/r"
RESUME_COOKIE_DAYS = 120
ITEM_FIELD_PREFIX = "item:"


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _no_store(response):
    response.headers["cache-control"] = "no-store"
    return response


def _remember(redirect: Response_, request: Request, invitation: Invitation, personal: str) -> None:
    """Reopening the same group link in this browser resumes the same response; another link or
    another browser starts a new one. On a kiosk link the cookie ends with the browser session."""
    assert invitation.id is not None
    redirect.set_cookie(
        responses_service.resume_cookie_name(invitation.id),
        personal,
        max_age=None if invitation.kiosk else RESUME_COOKIE_DAYS * 86400,
        path=RESUME_COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def _forget(response: Response_, request: Request, invitation: Invitation) -> None:
    assert invitation.id is not None
    response.delete_cookie(
        responses_service.resume_cookie_name(invitation.id),
        path=RESUME_COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


@router.get("/r/{token}", include_in_schema=False)
def open_invitation(token: str, request: Request, session: SessionDep):
    def remembered(invitation_id: int) -> str | None:
        return request.cookies.get(
            responses_service.resume_cookie_name(invitation_id)
        ) or request.cookies.get(LEGACY_RESUME_COOKIE)

    response, personal, invitation = responses_service.start_or_resume(
        session, token=token, remembered=remembered, client_ip=_client_ip(request)
    )
    target = f"/respond/{personal}"
    if response.status != ResponseStatus.submitted and response.last_page == 0:
        target += "/page/0"
    # A link for Spanish speakers carries ?lang=es (the invitation's language comes first).
    asked = i18n.normalize(request.query_params.get("lang"))
    if asked:
        target += f"?lang={asked}"
    redirect = RedirectResponse(target, status_code=303)
    _remember(redirect, request, invitation, personal)
    if LEGACY_RESUME_COOKIE in request.cookies:
        redirect.delete_cookie(LEGACY_RESUME_COOKIE, path=f"/r/{token}")
    return _no_store(redirect)


def _load(session, request: Request, token: str) -> tuple[Response, Assessment, Instrument]:
    response, assessment, digest = responses_service.find_by_token(
        session, token=token, client_ip=_client_ip(request)
    )
    instrument = instruments_store.instrument_with_hash(session, assessment, digest)
    request.state.instrument_hash = digest
    _choose_language(session, request, response, instrument)
    return response, assessment, instrument


def offered_languages(instrument: Instrument) -> list[str]:
    """The languages a respondent can choose: the instrument's that have an interface catalog,
    the instrument's own default first."""
    offered = [lang for lang in instrument.languages if i18n.normalize(lang) == lang]
    return offered or [i18n.SOURCE_LANGUAGE]


def _choose_language(session, request: Request, response: Response, instrument: Instrument) -> str:
    """The respondent's language: `?lang=` (the link or the switch), else the one this response
    was answered in so far, else the browser's, else the instrument's default. The choice is
    stored on the response, so it is remembered on any device."""
    chosen = _negotiate_language(request, response.language, instrument)
    responses_service.remember_language(session, response=response, language=chosen)
    return chosen


def _negotiate_language(request: Request, answered_in: str | None, instrument: Instrument) -> str:
    """`_choose_language`'s choice (not stored), set as the request's language."""
    offered = offered_languages(instrument)
    chosen = i18n.negotiate(
        [
            request.query_params.get("lang"),
            answered_in,
            *i18n.parse_accept_language(request.headers.get("accept-language")),
        ],
        offered,
    )
    chosen = chosen or offered[0]
    request.state.locale = chosen
    request.state.languages = [(code, i18n.LANGUAGE_NAMES.get(code, code)) for code in offered]
    return chosen


@router.get("/respond/{token}", include_in_schema=False)
def resume(token: str, request: Request, session: SessionDep):
    response, assessment, instrument = _load(session, request, token)
    if response.status == ResponseStatus.submitted:
        return _no_store(RedirectResponse(f"/respond/{token}/done", status_code=303))
    if not assessments_service.is_accepting_answers(assessment):
        # The intro says the survey is closed, before anyone presses "Start".
        return _no_store(RedirectResponse(f"/respond/{token}/page/0", status_code=303))
    pages = responses_service.form_pages(instrument, response.group)
    page = min(max(response.last_page, 0), len(pages) + 1)
    target = f"/respond/{token}/review" if page == len(pages) + 1 else f"/respond/{token}/page/{page}"
    return _no_store(RedirectResponse(target, status_code=303))


def _page_context(
    session, request: Request, token: str, response, assessment, instrument, number: int
) -> dict:
    pages = responses_service.form_pages(instrument, response.group)
    answers, comments = responses_service.answers_and_comments(session, response_id=response.id)
    shown = responses_service.visible_list(instrument, response.group, answers)
    return {
        "token": token,
        "response": response,
        "assessment": assessment,
        "instrument": instrument,
        "group": instrument.group_by_id(response.group),
        "pages": pages,
        "page": pages[number - 1] if number >= 1 else None,
        "number": number,
        "answers": answers,
        "comments": comments,
        "visible": {item.id for item in shown},
        "progress": responses_service.progress_of(shown, answers),
        "locked": response.status == ResponseStatus.submitted,
        "personal_url": f"{str(request.base_url).rstrip('/')}/respond/{token}",
        # Questions are rendered once per snapshot and reused (app/web/templating.py).
        "instrument_hash": getattr(request.state, "instrument_hash", None),
        "languages": request.state.languages,
    }


# --- the two busiest routes: plain Starlette routes -------------------------------------------
# Every respondent's every answer is an autosave, and every page of the form a page view. As
# FastAPI routes, resolving their parameters and dependencies cost about as much again as their
# own work; as plain routes they do the same steps in a few lines: the checks every route passes
# (`verify_request`: ids, input, CSRF), the body, then the whole transaction in one go (on SQLite
# without the thread pool: deps.py). Errors are the domain errors every route raises, shown by
# the app's handlers. They are matched before every router (app/web/main.py).


_PAGE_NUMBER = re.compile(r"-?[0-9]{1,9}")


async def show_page(request: Request) -> Response_:
    await verify_request(request)
    token, number = request.path_params["token"], request.path_params["number"]
    # Digits, with a minus sign ("no such page" below); anything else is not found either.
    if _PAGE_NUMBER.fullmatch(number) is None:
        raise NotFound("There is no such page in this survey.")
    return await in_transaction(request, _show_page, token, int(number), request)


def _show_page(session: Session, token: str, number: int, request: Request):
    response, assessment, instrument = _load(session, request, token)
    if response.status == ResponseStatus.submitted:
        return _no_store(RedirectResponse(f"/respond/{token}/done", status_code=303))
    pages = responses_service.form_pages(instrument, response.group)
    if not 0 <= number <= len(pages):
        raise NotFound("There is no such page in this survey.")
    responses_service.remember_page(session, response=response, page=number)
    context = _page_context(session, request, token, response, assessment, instrument, number)
    if number == 0:
        # Said before "Start", not after it: a personal link to a closed cycle opens here.
        context["accepting"] = assessments_service.is_accepting_answers(assessment)
        link = responses_service.group_link_of(session, response=response)
        context["kiosk"] = link is not None and link.kiosk
        return _no_store(render(request, "respond/intro.html", **context))
    # From the page's cached skeleton, filled with this response's values (templating.py).
    return _no_store(render_form_page(request, "respond/page.html", **context))


async def _page_form(request: Request) -> Any:
    return await request.form()


# Bodies are read by async dependencies, so the routes' database work never waits for a lock on
# the event loop: a plain `def` route runs in the thread pool, and `in_transaction` waits for a
# lock (two saves of one response) only there (deps.py). Waiting on the loop would stop it, and
# with it the other request's commit, for the lock's whole timeout.
PageForm = Annotated[Any, Depends(_page_form)]


@router.post("/respond/{token}/page/{number}", include_in_schema=False)
def save_page(token: str, number: int, request: Request, session: SessionDep, form: PageForm):
    """The form without JavaScript: save the whole page, then go on, back or stay."""
    response, assessment, instrument = _load(session, request, token)
    nav = form.get("nav", "next")
    switch_to = i18n.normalize(form.get("lang"), offered_languages(instrument))
    if switch_to:
        # The language switch posts the page: save it, then show it again in the new language.
        responses_service.remember_language(session, response=response, language=switch_to)
        nav = "stay"
    pages = responses_service.form_pages(instrument, response.group)
    if number == 0:
        responses_service.ensure_editable(response, assessment)
        responses_service.remember_page(session, response=response, page=1)
        return RedirectResponse(f"/respond/{token}/page/1", status_code=303)
    answers: dict[str, str] = {}
    for key, value in form.multi_items():
        if key.startswith(ITEM_FIELD_PREFIX):
            if not isinstance(value, str):
                raise BadInput("Answers must be plain text.")
            answers[key[len(ITEM_FIELD_PREFIX) :]] = value
    comment = form.get("comment")
    visible_before = responses_service.visible_ids(
        instrument, response.group, responses_service.answers_of(session, response_id=response.id)
    )
    result = responses_service.save_page(
        session,
        response=response,
        assessment=assessment,
        page_number=number,
        answers=answers,
        comment=comment if isinstance(comment, str) else None,
        instrument=instrument,
    )
    page = pages[number - 1]
    appeared = [
        i
        for i in page.items
        if i.id in result.visible and i.id not in visible_before and i.id not in result.answers
    ]
    if appeared and nav == "next":
        # Without JavaScript, questions that depend on this page's answers appear only now.
        context = _page_context(session, request, token, response, assessment, instrument, number)
        context["flashes"] = [
            (
                "ok",
                i18n.lazy_gettext(
                    "Saved. Your answers opened more questions on this page; please look at them."
                ),
            )
        ]
        return _no_store(render(request, "respond/page.html", **context))
    if nav == "back":
        target = number - 1
    elif nav == "stay":
        target = number
    else:
        target = number + 1
    if target > len(pages):
        responses_service.remember_page(session, response=response, page=len(pages) + 1)
        return RedirectResponse(f"/respond/{token}/review", status_code=303)
    responses_service.remember_page(session, response=response, page=target)
    return RedirectResponse(f"/respond/{token}/page/{target}", status_code=303)


async def _autosave_payload(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        data = read_json(await request.body())  # depth and characters checked (app/web/boundary.py)
        if not isinstance(data, dict):
            raise BadInput("The answer could not be read.")
        return data
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def autosave(request: Request) -> Response_:
    """Save one answer or one comment as it is given (called by static/respond.js)."""
    await verify_request(request)
    data = await _autosave_payload(request)
    token = request.path_params["token"]
    saved = await in_connection(request, _autosave, token, request, data)
    if saved is None:  # no response has this token: refused as every respondent page refuses it
        return await in_transaction(request, _refuse_unknown_token, token, request)
    return saved


def _refuse_unknown_token(session: Session, token: str, request: Request) -> NoReturn:
    responses_service.find_by_token(session, token=token, client_ip=_client_ip(request))
    raise NotFound("This link does not work.")  # a response made meanwhile: refused all the same


# (path, endpoint, methods): added to the app's own router ahead of every included router.
FAST_ROUTES = [
    ("/respond/{token}/page/{number}", show_page, ["GET"]),
    ("/respond/{token}/autosave", autosave, ["POST"]),
]


def _autosave(connection: Connection, token: str, request: Request, data: dict[str, Any]) -> Response_ | None:
    editing = responses_service.editing_by_token(connection, token=token)
    if editing is None:
        return None
    instrument = instruments_store.instrument_of_snapshot(
        connection, version_id=editing.version_id, digest=editing.digest
    )
    request.state.instrument_hash = editing.digest
    responses_service.remember_language_of(
        connection, editing, language=_negotiate_language(request, editing.language, instrument)
    )
    page = data.get("page")
    page_number = None
    if isinstance(page, int) and not isinstance(page, bool):
        page_number = page
    elif isinstance(page, str) and page.isascii() and page.isdigit() and len(page) <= 6:
        page_number = int(page)  # isascii: int() refuses Unicode digits such as "²"
    pages = responses_service.form_pages(instrument, editing.group)
    if page_number is not None and not 0 <= page_number <= len(pages):
        page_number = None
    if "item_id" in data:
        item_id, value = data.get("item_id"), data.get("value", "")
        if not isinstance(item_id, str) or not isinstance(value, str):
            raise BadInput("The answer could not be read.")
        result = responses_service.autosave_answer(
            connection, editing, item_id=item_id, value=value, page=page_number, instrument=instrument
        )
        return JSONResponse(
            {
                "saved": True,
                "visible": sorted(result.visible),
                "answered": result.progress.answered,
                "shown": result.progress.shown,
            },
            headers={"cache-control": "no-store"},
        )
    if "domain_id" in data:
        domain_id, body = data.get("domain_id"), data.get("comment", "")
        if not isinstance(domain_id, str) or not isinstance(body, str):
            raise BadInput("The comment could not be read.")
        responses_service.autosave_comment(
            connection, editing, domain_id=domain_id, body=body, page=page_number, instrument=instrument
        )
        return JSONResponse({"saved": True}, headers={"cache-control": "no-store"})
    raise BadInput("Nothing to save: send item_id and value, or domain_id and comment.")


def _review_context(session, request, token, response, assessment, instrument) -> dict:
    context = _page_context(session, request, token, response, assessment, instrument, 0)
    context["number"] = len(context["pages"]) + 1  # the "Check and submit" step
    answers = context["answers"]
    context["missing"] = responses_service.missing_required(instrument, response.group, answers)
    context["short"] = responses_service.short_conditions(instrument, response.group, answers)
    context["page_counts"] = [
        (
            p,
            sum(1 for i in p.items if i.id in context["visible"] and answers.get(i.id)),
            sum(1 for i in p.items if i.id in context["visible"]),
        )
        for p in context["pages"]
    ]
    return context


@router.get("/respond/{token}/review", include_in_schema=False)
def review(token: str, request: Request, session: SessionDep):
    response, assessment, instrument = _load(session, request, token)
    if response.status == ResponseStatus.submitted:
        return _no_store(RedirectResponse(f"/respond/{token}/done", status_code=303))
    pages = responses_service.form_pages(instrument, response.group)
    responses_service.remember_page(session, response=response, page=len(pages) + 1)
    context = _review_context(session, request, token, response, assessment, instrument)
    return _no_store(render(request, "respond/review.html", **context))


@router.post("/respond/{token}/submit", include_in_schema=False)
def submit(token: str, request: Request, session: SessionDep, settings: SettingsDep):
    response, assessment, instrument = _load(session, request, token)
    missing = responses_service.submit(
        session,
        response=response,
        assessment=assessment,
        instrument=instrument,
        privacy_threshold=settings.privacy_threshold,
    )
    if missing:
        context = _review_context(session, request, token, response, assessment, instrument)
        context["submit_failed"] = True
        return _no_store(render(request, "respond/review.html", status_code=400, **context))
    link = responses_service.group_link_of(session, response=response)
    if link is not None and link.kiosk:
        # A shared device: forget this response and show the start again for the next person.
        redirect = RedirectResponse(f"/respond/{token}/next", status_code=303)
        _forget(redirect, request, link)
        return redirect
    return RedirectResponse(f"/respond/{token}/done", status_code=303)


@router.post("/respond/{token}/change", include_in_schema=False)
def change_own_answers(token: str, request: Request, session: SessionDep, settings: SettingsDep):
    """The respondent reopens their own submitted response (only their link can)."""
    response, assessment, _ = _load(session, request, token)
    responses_service.reopen_own(
        session, response=response, assessment=assessment, privacy_threshold=settings.privacy_threshold
    )
    return _no_store(RedirectResponse(f"/respond/{token}/review", status_code=303))


@router.get("/respond/{token}/done", include_in_schema=False)
def done(token: str, request: Request, session: SessionDep):
    response, assessment, instrument = _load(session, request, token)
    if response.status != ResponseStatus.submitted:
        return _no_store(RedirectResponse(f"/respond/{token}", status_code=303))
    return _no_store(
        render(
            request,
            "respond/done.html",
            token=token,
            accepting=assessments_service.is_accepting_answers(assessment),
            response=response,
            assessment=assessment,
            instrument=instrument,
            can_start_another=responses_service.can_start_another(
                session, response=response, assessment=assessment
            ),
            languages=request.state.languages,
        )
    )


@router.get("/respond/{token}/next", include_in_schema=False)
def next_person(token: str, request: Request, session: SessionDep):
    """The start for the next person on a shared device, after a submitted response. Nothing of
    the previous response is shown, and no new response exists until "Start" is pressed."""
    response, assessment, instrument = _load(session, request, token)
    if response.status != ResponseStatus.submitted:
        return _no_store(RedirectResponse(f"/respond/{token}", status_code=303))
    if not responses_service.can_start_another(session, response=response, assessment=assessment):
        return _no_store(RedirectResponse(f"/respond/{token}/done", status_code=303))
    link = responses_service.group_link_of(session, response=response)
    answers: dict[str, str] = {}
    pages = responses_service.form_pages(instrument, response.group)
    return _no_store(
        render(
            request,
            "respond/intro.html",
            token=token,
            assessment=assessment,
            instrument=instrument,
            group=instrument.group_by_id(response.group),
            pages=pages,
            number=0,
            progress=responses_service.progress(instrument, response.group, answers),
            accepting=True,
            kiosk=link is not None and link.kiosk,
            next_person=True,
            languages=request.state.languages,
            flashes=[
                (
                    "ok",
                    i18n.lazy_gettext(
                        "Thank you: the response is submitted. The next person can start their own now."
                    ),
                )
            ],
        )
    )


@router.post("/respond/{token}/another", include_in_schema=False)
def start_another(token: str, request: Request, session: SessionDep):
    """Start a new response from the same group link, for the next person on this device."""
    response, assessment, _ = _load(session, request, token)
    _, personal, invitation = responses_service.start_another(
        session, response=response, assessment=assessment
    )
    # On a kiosk the start page was just shown, so go straight to the questions.
    target = f"/respond/{personal}/page/{1 if invitation.kiosk else 0}"
    redirect = RedirectResponse(target, status_code=303)
    _remember(redirect, request, invitation, personal)
    return _no_store(redirect)
