"""A respondent's own response: start it from an invitation, fill it page by page, submit it.

A respondent has no account. Their response is reached only through its personal resume token
(stored as a SHA-256 hash), which nobody else is shown; leads see counts and statuses only.

Pages: one per condition (domain) holding the items shown to the respondent's group, in
instrument order. Page 0 is "Before you start"; page M+1 is "Check and submit".

Conditional items (`show_if`), decided here:
* the server decides what is visible from the stored answers, with `app.scoring.visible_items`
  (the same function the scores use), and renders hidden items with the `hidden` attribute;
* an autosave of an answer to an item that is hidden for the current answers is rejected (400);
* a whole-page save (the no-JavaScript form) ignores values for items that are hidden once the
  page's answers are applied (the browser submits them because `hidden` inputs still post);
* an answer stored earlier for an item that later becomes hidden is KEPT but ignored: it is not
  scored (the rules module skips hidden items), not required and not shown. Keeping it means a
  respondent who changes an answer back finds their earlier answer again, and PeerReady never
  throws away something a respondent said.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    CompoundSelect,
    Connection,
    bindparam,
    delete,
    insert,
    literal_column,
    union_all,
    update,
)
from sqlalchemy import select as sa_select
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from app.db.models import (
    Answer,
    Assessment,
    AssessmentStatus,
    Comment,
    InstrumentVersion,
    Invitation,
    Response,
    ResponseStatus,
    utcnow,
)
from app.errors import BadInput, Conflict, Gone, NotFound
from app.instruments.models import Domain, Instrument, Item
from app.scoring import visible_items
from app.scoring.models import ResponseInput
from app.scoring.rules import Coverage, coverage_of
from app.services import assessments as assessments_service
from app.services import audit, instruments_store, invitations, locks, scores

MAX_COMMENT_CHARS = 5000


@dataclass(frozen=True)
class Page:
    number: int  # 1..M
    domain: Domain
    items: tuple[Item, ...]  # items of this condition for the respondent's group


# --- derived from the pinned instrument alone, computed once per parsed instrument ------------
#
# The catalog keeps exactly one parsed (frozen) Instrument per content hash, so what is derived
# from an instrument alone is kept beside that object: the same text, the same pages. Entries
# hold the instrument itself, so an id is never reused while its entry lives. Nothing about a
# respondent is ever stored here.

_DERIVED_SIZE = 64  # as many as the catalog keeps parsed
_derived: OrderedDict[int, tuple[Instrument, dict[Any, Any]]] = OrderedDict()
_derived_lock = threading.Lock()
_T = TypeVar("_T")


def _memo(instrument: Instrument, key: Any, build: Callable[[], _T]) -> _T:
    with _derived_lock:
        entry = _derived.get(id(instrument))
        if entry is not None and entry[0] is instrument:
            _derived.move_to_end(id(instrument))
            if key in entry[1]:
                return entry[1][key]
    value = build()  # outside the lock: two threads may both build; both get equal values
    with _derived_lock:
        entry = _derived.get(id(instrument))
        if entry is None or entry[0] is not instrument:
            entry = (instrument, {})
            _derived[id(instrument)] = entry
            while len(_derived) > _DERIVED_SIZE:
                _derived.popitem(last=False)
        entry[1].setdefault(key, value)
        return entry[1][key]


def clear_derived() -> None:
    with _derived_lock:
        _derived.clear()


def form_pages(instrument: Instrument, group: str) -> tuple[Page, ...]:
    """The condition pages a respondent of `group` sees (conditions without items are skipped).

    Computed once per parsed instrument and group (the pages are frozen, safe to share)."""
    return _memo(instrument, ("pages", group), lambda: _build_pages(instrument, group))


def _build_pages(instrument: Instrument, group: str) -> tuple[Page, ...]:
    shown: dict[str, list[Item]] = {domain.id: [] for domain in instrument.domains}
    for item in instrument.items:
        if not item.groups or group in item.groups:
            shown.setdefault(item.domain, []).append(item)
    pages: list[Page] = []
    for domain in instrument.domains:
        if shown[domain.id]:
            pages.append(Page(number=len(pages) + 1, domain=domain, items=tuple(shown[domain.id])))
    return tuple(pages)


def page_of_item(instrument: Instrument, group: str, item_id: str) -> Page | None:
    return next((p for p in form_pages(instrument, group) if any(i.id == item_id for i in p.items)), None)


# --- starting and finding a response ---------------------------------------------------------


def resume_cookie_name(invitation_id: int) -> str:
    """The cookie that remembers, in one browser, the response started from one invitation link.

    Named per invitation (not scoped to the link's path) so that the pages of a response, which
    never see the invitation token, can forget it after a submit on a shared device."""
    return f"peerready_resume_{invitation_id}"


Remembered = Callable[[int], str | None]


def start_or_resume(
    session: Session, *, token: str, remembered: Remembered | str | None, client_ip: str | None
) -> tuple[Response, str, Invitation]:
    """Open an invitation link: resume the response this browser started from it (its personal
    token is remembered in a cookie, see `resume_cookie_name`), or start a new one.

    `remembered` is the remembered personal token, or a function from the invitation id to it.
    A remembered response that is already submitted is never resumed: on a shared computer the
    next person who opens the group link starts their own response instead of seeing the
    previous person's "Thank you" page.

    Returns the response, its personal token and the invitation. Nothing is created for an
    unknown, revoked or expired link, or a cycle that no longer accepts answers.
    """
    invitation = invitations.find_invitation(session, token=token, client_ip=client_ip)
    assessment = session.get(Assessment, invitation.assessment_id)
    if assessment is None or not assessments_service.is_accepting_answers(assessment):
        raise Gone("This survey is closed. Thank you for your interest.")
    assert invitation.id is not None
    personal = remembered(invitation.id) if callable(remembered) else remembered
    if personal and invitations.looks_like_token(personal):
        existing = session.exec(
            select(Response).where(Response.token_hash == invitations.hash_token(personal))
        ).first()
        if (
            existing is not None
            and existing.invitation_id == invitation.id
            and existing.status != ResponseStatus.submitted
        ):
            return existing, personal, invitation
    return (*_new_response(session, invitation), invitation)


def _new_response(session: Session, invitation: Invitation) -> tuple[Response, str]:
    personal = invitations.new_token()
    response = Response(
        assessment_id=invitation.assessment_id,
        invitation_id=invitation.id,
        group=invitation.group,
        token_hash=invitations.hash_token(personal),
    )
    session.add(response)
    session.flush()
    return response, personal


def group_link_of(session: Session, *, response: Response) -> Invitation | None:
    """The group link a response was started from, when it came from one (not a paper import)."""
    if response.invitation_id is None or response.source != "web":
        return None
    return session.get(Invitation, response.invitation_id)


def can_start_another(session: Session, *, response: Response, assessment: Assessment) -> bool:
    """Whether "Start a new response for someone else" is offered after this response: it was
    submitted from a group link that still works, in a cycle that still accepts answers."""
    invitation = group_link_of(session, response=response)
    return (
        response.status == ResponseStatus.submitted
        and invitation is not None
        and invitations.invitation_state(invitation) == "active"
        and assessments_service.is_accepting_answers(assessment)
    )


def start_another(
    session: Session, *, response: Response, assessment: Assessment
) -> tuple[Response, str, Invitation]:
    """A new response from the same group link as a submitted one, for the next person on a
    shared device. The new response shares nothing with the previous one but its group."""
    if response.status != ResponseStatus.submitted:
        raise Conflict("Submit this response first; then the next person can start their own.")
    if not assessments_service.is_accepting_answers(assessment):
        raise Gone("This survey is closed. Thank you for your interest.")
    invitation = group_link_of(session, response=response)
    if invitation is None:
        raise NotFound("This response did not come from a group link, so no new response can start here.")
    state = invitations.invitation_state(invitation)
    if state != "active":
        raise Gone("This link has been switched off or has expired. Ask the agency for a new one.")
    return (*_new_response(session, invitation), invitation)


# Built once: the respondent pages run these on every request, and a prebuilt statement skips
# most of SQLAlchemy's per-call statement building. One query finds the response, its cycle and
# the content hash of the instrument snapshot the cycle is pinned to.
_BY_TOKEN = (
    select(Response, Assessment, InstrumentVersion.content_hash)
    .outerjoin(Assessment, col(Assessment.id) == col(Response.assessment_id))
    .outerjoin(InstrumentVersion, col(InstrumentVersion.id) == col(Assessment.instrument_version_id))
    .where(col(Response.token_hash) == bindparam("token_hash"))
)


def find_by_token(
    session: Session, *, token: str, client_ip: str | None
) -> tuple[Response, Assessment, str | None]:
    """The response behind a personal token, its cycle and the content hash of the cycle's
    instrument snapshot, in one query (404 otherwise; failures count toward the rate limit).

    Unlike invitation links, a working personal token is served even from an address that is
    over the guessing limit: a shared office address where someone mistyped links must not lock
    out colleagues, and guessing a 256-bit token is hopeless anyway. Only failures are checked,
    which also keeps the rate-limit query off every autosave."""
    row = None
    if invitations.looks_like_token(token):
        row = session.exec(_BY_TOKEN, params={"token_hash": invitations.hash_token(token)}).first()
    if row is None:
        invitations.refuse_unknown_token(
            session, client_ip=client_ip, message="This link does not work. Check that you copied all of it."
        )
    response, assessment, digest = row
    if assessment is None:
        raise NotFound("This link does not work.")
    return response, assessment, digest


def get_by_token(session: Session, *, token: str, client_ip: str | None) -> tuple[Response, Assessment]:
    """The response behind a personal token and its cycle (see `find_by_token`)."""
    response, assessment, _ = find_by_token(session, token=token, client_ip=client_ip)
    return response, assessment


@dataclass(slots=True)
class Editing:
    """A response and its cycle as a save needs them, read in one Core row by the autosave
    (`editing_by_token`): loading the two ORM objects cost as much as the rest of the save. The
    cycle's state is brought up to date under the lock (`_lock`)."""

    id: int  # the response's
    status: ResponseStatus
    group: str
    language: str | None
    assessment_id: int
    cycle_status: AssessmentStatus
    close_date: date | None
    version_id: int
    digest: str | None  # the content hash of the cycle's instrument snapshot


_EDITING_BY_TOKEN = (
    sa_select(
        col(Response.id),
        col(Response.status),
        col(Response.group),
        col(Response.language),
        col(Assessment.id),
        col(Assessment.status),
        col(Assessment.close_date),
        col(Assessment.instrument_version_id),
        col(InstrumentVersion.content_hash),
    )
    .select_from(Response)
    .outerjoin(Assessment, col(Assessment.id) == col(Response.assessment_id))
    .outerjoin(InstrumentVersion, col(InstrumentVersion.id) == col(Assessment.instrument_version_id))
    .where(col(Response.token_hash) == bindparam("token_hash"))
)


def editing_by_token(connection: Connection, *, token: str) -> Editing | None:
    """The response behind a personal token and its cycle, in one Core row; None when no
    response has this token (the caller refuses it as `find_by_token` does, rate limit
    included). A response without its cycle is "not found", as there."""
    if not invitations.looks_like_token(token):
        return None
    row = connection.execute(_EDITING_BY_TOKEN, {"token_hash": invitations.hash_token(token)}).first()
    if row is None:
        return None
    response_id, status, group, language, assessment_id, cycle_status, close_date, version_id, digest = row
    if assessment_id is None:
        raise NotFound("This link does not work.")
    return Editing(
        response_id,
        ResponseStatus(status),
        group,
        language,
        assessment_id,
        AssessmentStatus(cycle_status),
        close_date,
        version_id,
        digest,
    )


SUBMITTED_MESSAGE = (
    "This response has been submitted. To change something while the survey is open, choose "
    "“Change my answers” on the thank-you page of your personal link."
)


def ensure_editable(response: Response, assessment: Assessment) -> None:
    _refuse_unless_editable(response.status, assessment.status, assessment.close_date)


def _refuse_unless_editable(
    status: ResponseStatus, cycle_status: AssessmentStatus, close_date: date | None
) -> None:
    if status == ResponseStatus.submitted:
        raise Conflict(SUBMITTED_MESSAGE)
    if not assessments_service.accepts_answers(cycle_status, close_date):
        raise Conflict("This survey is closed, so answers can no longer be changed.")


def _core(bind: Session | Connection, statement: Any, params: dict[str, Any]) -> Any:  # a CursorResult
    """A prebuilt statement run on the session's connection (or the caller's connection), past
    the ORM's execution layer (which costs as much again as the statement on SQLite, and these
    run on every autosave). Changes pending in a session are flushed first, as the ORM's
    autoflush would."""
    if isinstance(bind, Connection):
        return bind.execute(statement, params)
    bind.flush()
    return bind.connection().execute(statement, params)


_LOCK_RESPONSE = (
    update(Response)
    .where(
        col(Response.id) == bindparam("response_id"),
        col(Response.status) == ResponseStatus.in_progress,
    )
    .values(updated_at=bindparam("now"))
    .execution_options(synchronize_session=False)
)
_LOCK_RESPONSE_AT_PAGE = _LOCK_RESPONSE.values(last_page=bindparam("page"))


def _cycle_column(column: Any) -> Any:
    # By the cycle's id as a parameter, not correlated to the updated row: SQLite's RETURNING is
    # compiled without table names, where a correlation would only hold by luck of column names.
    return select(column).where(col(Assessment.id) == bindparam("cycle_id")).scalar_subquery()


# SQLite: the same UPDATE returns the cycle's status and close date, read once it holds the
# database's write lock (one statement instead of the UPDATE and a SELECT after it).
_LOCK_READING_CYCLE = {
    with_page: statement.returning(_cycle_column(Assessment.status), _cycle_column(Assessment.close_date))
    for with_page, statement in ((False, _LOCK_RESPONSE), (True, _LOCK_RESPONSE_AT_PAGE))
}


def _lock_for_writing(
    session: Session, response: Response, assessment: Assessment, page: int | None = None
) -> None:
    """Serialize writers of one response, then re-check it is still open.

    Two autosaves (or an autosave and a submit) of one response may run at once. Without this,
    both read "no answer yet" and both insert: the second fails on the Answer unique constraint
    (a 500, the answer lost), or an autosave lands after a submit was scored. The conditional
    UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite) until commit, so the next
    writer waits, then reads the answers as committed by the one before.

    The assessment's lock comes first (shared; app/services/locks.py), then the cycle's status is
    read again: an answer in flight while the cycle closes is either saved before the close
    commits or refused after it.

    The same UPDATE "touches" the response (updated_at, and `page` as its last page when given),
    so a save writes the response row once; the loaded object is brought up to date without
    being marked changed."""
    editing = Editing(
        response.id,
        response.status,
        response.group,
        response.language,
        assessment.id,
        assessment.status,
        assessment.close_date,
        assessment.instrument_version_id,
        None,
    )
    now = _lock(session, editing, page)
    set_committed_value(response, "updated_at", now)
    if page is not None:
        set_committed_value(response, "last_page", page)
    set_committed_value(assessment, "status", editing.cycle_status)
    set_committed_value(assessment, "close_date", editing.close_date)


def _lock(bind: Session | Connection, editing: Editing, page: int | None) -> datetime:
    """`_lock_for_writing` of a response read as `Editing` (its cycle's state brought up to
    date); returns the time the response was touched at."""
    _refuse_unless_editable(editing.status, editing.cycle_status, editing.close_date)
    state = locks.share_assessment(bind, editing.assessment_id)  # PostgreSQL: read under the lock
    now = utcnow()
    params: dict[str, Any] = {"response_id": editing.id, "now": now}
    if state is None:
        params["cycle_id"] = editing.assessment_id
    if page is not None:
        params["page"] = page
    if state is None:
        # SQLite: the cycle's state as the UPDATE reads it once it holds the write lock.
        row = _core(bind, _LOCK_READING_CYCLE[page is not None], params).one_or_none()
        if row is None:
            raise Conflict(SUBMITTED_MESSAGE)
        if row[0] is None:  # the cycle was deleted meanwhile
            raise NotFound("This link does not work.")
        state = (AssessmentStatus(row[0]), row[1])
    else:
        locked = _core(bind, _LOCK_RESPONSE if page is None else _LOCK_RESPONSE_AT_PAGE, params)
        if locked.rowcount != 1:
            raise Conflict(SUBMITTED_MESSAGE)
    editing.cycle_status, editing.close_date = state
    _refuse_unless_editable(editing.status, editing.cycle_status, editing.close_date)
    return now


# --- reading ---------------------------------------------------------------------------------


_ANSWERS = select(Answer.item_id, Answer.value).where(col(Answer.response_id) == bindparam("response_id"))
_COMMENTS = select(Comment.domain_id, Comment.text).where(
    col(Comment.response_id) == bindparam("response_id")
)
_ANSWERS_AND_COMMENTS: CompoundSelect[str, str, str] = union_all(
    select(literal_column("'a'").label("kind"), Answer.item_id, Answer.value).where(
        col(Answer.response_id) == bindparam("response_id")
    ),
    select(literal_column("'c'").label("kind"), Comment.domain_id, Comment.text).where(
        col(Comment.response_id) == bindparam("response_id")
    ),
)


def answers_of(session: Session | Connection, *, response_id: int) -> dict[str, str]:
    return dict(_core(session, _ANSWERS, {"response_id": response_id}).all())


def comments_of(session: Session | Connection, *, response_id: int) -> dict[str, str]:
    return dict(_core(session, _COMMENTS, {"response_id": response_id}).all())


def answers_and_comments(session: Session, *, response_id: int) -> tuple[dict[str, str], dict[str, str]]:
    """`answers_of` and `comments_of` in one query (what a form page shows)."""
    session.flush()  # a Core statement does not autoflush: see pending saves as an ORM query would
    answers: dict[str, str] = {}
    comments: dict[str, str] = {}
    for kind, key, value in session.connection().execute(_ANSWERS_AND_COMMENTS, {"response_id": response_id}):
        (answers if kind == "a" else comments)[key] = value
    return answers, comments


# Which items are shown depends on the group and on the answers to the items that conditions
# refer to (`show_if.item`), nothing else: the shown items are kept per parsed instrument for each
# such combination (a few in the shipped instruments; bounded for any other).
_VISIBLE_SIZE = 1024


def _visible(instrument: Instrument, group: str, answers: Mapping[str, str]) -> tuple[Item, ...]:
    sources, kept, lock = _memo(instrument, "visible", lambda: _visible_cache(instrument))
    key = (group, *(answers.get(source) for source in sources))
    with lock:
        found = kept.get(key)
        if found is not None:
            kept.move_to_end(key)
            return found
    shown = tuple(visible_items(instrument, group=group, answers=answers))
    with lock:
        kept[key] = shown
        while len(kept) > _VISIBLE_SIZE:
            kept.popitem(last=False)
    return shown


def _visible_cache(
    instrument: Instrument,
) -> tuple[tuple[str, ...], OrderedDict[tuple[str | None, ...], tuple[Item, ...]], threading.Lock]:
    sources = tuple(sorted({item.show_if.item for item in instrument.items if item.show_if is not None}))
    return sources, OrderedDict(), threading.Lock()


def visible_ids(instrument: Instrument, group: str, answers: Mapping[str, str]) -> set[str]:
    return {item.id for item in _visible(instrument, group, answers)}


@dataclass
class Progress:
    answered: int
    shown: int


def progress(instrument: Instrument, group: str, answers: Mapping[str, str]) -> Progress:
    return progress_of(_visible(instrument, group, answers), answers)


def visible_list(instrument: Instrument, group: str, answers: Mapping[str, str]) -> list[Item]:
    """The items shown for these answers, in order (`visible_ids` and `progress` in one pass)."""
    return list(_visible(instrument, group, answers))


def progress_of(shown: Sequence[Item], answers: Mapping[str, str]) -> Progress:
    return Progress(answered=sum(1 for i in shown if answers.get(i.id)), shown=len(shown))


@dataclass(frozen=True)
class ShortCondition:
    """A condition whose answers are not yet enough to count (the coverage rule)."""

    page: Page
    coverage: Coverage


def short_conditions(instrument: Instrument, group: str, answers: Mapping[str, str]) -> list[ShortCondition]:
    """Conditions of this respondent's form that would not count if submitted now: too few
    scored answers ("Don't know" and blanks do not count; "Not applicable" lowers the need)."""
    by_domain = {
        c.domain_id: c
        for c in coverage_of(instrument, ResponseInput(respondent_id="-", group=group, answers=dict(answers)))
    }
    return [
        ShortCondition(page, by_domain[page.domain.id])
        for page in form_pages(instrument, group)
        if page.domain.id in by_domain and by_domain[page.domain.id].status == "below_coverage"
    ]


@dataclass(frozen=True)
class Missing:
    page: int
    item: Item


def missing_required(instrument: Instrument, group: str, answers: Mapping[str, str]) -> list[Missing]:
    """Required items that are shown to this respondent and still unanswered, with their page."""
    shown = visible_ids(instrument, group, answers)
    missing = []
    for page in form_pages(instrument, group):
        for item in page.items:
            if item.required and item.id in shown and not answers.get(item.id):
                missing.append(Missing(page.number, item))
    return missing


# --- writing ---------------------------------------------------------------------------------


def _check_value(instrument: Instrument, group: str, item_id: str, value: str) -> Item:
    if not isinstance(item_id, str) or not instrument.has_item(item_id):
        raise BadInput("That question is not part of this survey.")
    item = instrument.item_by_id(item_id)
    if item.groups and group not in item.groups:
        raise BadInput("That question is not part of your survey.")
    if value != "" and instrument.option(item, value) is None:
        raise BadInput("That answer is not one of the choices for this question.")
    return item


def _touch(response: Response, page: int | None = None) -> None:
    response.updated_at = utcnow()
    if page is not None:
        response.last_page = page


# One statement per changed answer or comment, decided from the rows read under the response's
# lock (`_lock_for_writing`): no other writer can add or remove them until this one commits.
def _row_statements(model: Any, key_column: str, value_column: str) -> tuple[Any, Any, Any]:
    """UPDATE, INSERT and DELETE of one row of `model` (Answer or Comment) found by its response
    and `key_column`, built once with bind parameters `key_response_id`, `key_<key_column>`,
    `new_<value_column>` and `now`."""
    table = model.__table__
    key = (
        table.c.response_id == bindparam("key_response_id"),
        table.c[key_column] == bindparam(f"key_{key_column}"),
    )
    values: dict[str, Any] = {value_column: bindparam(f"new_{value_column}"), "updated_at": bindparam("now")}
    return (
        update(table).where(*key).values(**values).execution_options(synchronize_session=False),
        insert(table).values(
            response_id=bindparam("key_response_id"), **{key_column: bindparam(f"key_{key_column}")}, **values
        ),
        delete(table).where(*key).execution_options(synchronize_session=False),
    )


_ANSWER_WRITES = _row_statements(Answer, "item_id", "value")
_COMMENT_WRITES = _row_statements(Comment, "domain_id", "text")


def _write_row(
    session: Session | Connection,
    *,
    stored: bool,
    wanted: bool,
    params: dict[str, Any],
    statements: tuple[Any, Any, Any],
) -> None:
    """Update, insert or delete one answer/comment row. `stored`: a row was read under the lock."""
    update_, insert_, delete_ = statements
    params["now"] = utcnow()
    if not wanted:
        if stored:
            _core(session, delete_, params)
    elif stored:
        updated = _core(session, update_, params)
        if updated.rowcount == 0:  # cannot happen under the lock; never lose the answer anyway
            _core(session, insert_, params)
    else:
        _core(session, insert_, params)


def _store_answer(
    session: Session | Connection, response_id: int, item_id: str, value: str, existing: dict[str, str]
) -> bool:
    """Upsert or clear one answer; True when something changed. `existing`: the response's
    answers as read after `_lock_for_writing` (updated here)."""
    if existing.get(item_id, "") == value:
        return False
    _write_row(
        session,
        stored=item_id in existing,
        wanted=value != "",
        params={"key_response_id": response_id, "key_item_id": item_id, "new_value": value},
        statements=_ANSWER_WRITES,
    )
    if value == "":
        existing.pop(item_id, None)
    else:
        existing[item_id] = value
    return True


def _store_comment(
    session: Session | Connection, response_id: int, domain_id: str, body: str, existing: dict[str, str]
) -> bool:
    # Browsers post a textarea's line breaks as CRLF while its maxlength counted each as one
    # character: without this, a comment at the limit would refuse the whole page it came with.
    body = body.replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(body) > MAX_COMMENT_CHARS:
        raise BadInput(f"A comment can be at most {MAX_COMMENT_CHARS} characters.")
    if existing.get(domain_id, "") == body:
        return False
    _write_row(
        session,
        stored=domain_id in existing,
        wanted=bool(body),
        params={"key_response_id": response_id, "key_domain_id": domain_id, "new_text": body},
        statements=_COMMENT_WRITES,
    )
    existing[domain_id] = body
    return True


@dataclass
class SaveResult:
    visible: set[str]
    answers: dict[str, str]
    progress: Progress


def _save_result(instrument: Instrument, group: str, answers: dict[str, str]) -> SaveResult:
    shown = list(_visible(instrument, group, answers))  # once, for both figures
    return SaveResult({item.id for item in shown}, answers, progress_of(shown, answers))


def save_answer(
    session: Session,
    *,
    response: Response,
    assessment: Assessment,
    item_id: str,
    value: str,
    page: int | None = None,
    instrument: Instrument | None = None,
) -> SaveResult:
    """Autosave one answer (value "" clears it). Rejects hidden or unknown items and bad values."""
    _lock_for_writing(session, response, assessment, page)
    instrument = instrument or instruments_store.instrument_for(session, assessment)
    return _save_answer_locked(session, response.id, response.group, instrument, item_id, value)


def autosave_answer(
    connection: Connection,
    editing: Editing,
    *,
    item_id: str,
    value: str,
    page: int | None,
    instrument: Instrument,
) -> SaveResult:
    """`save_answer` of a response read by `editing_by_token`, on the caller's connection."""
    _lock(connection, editing, page)
    return _save_answer_locked(connection, editing.id, editing.group, instrument, item_id, value)


def _save_answer_locked(
    bind: Session | Connection, response_id: int, group: str, instrument: Instrument, item_id: str, value: str
) -> SaveResult:
    _check_value(instrument, group, item_id, value)
    answers = answers_of(bind, response_id=response_id)
    if item_id not in visible_ids(instrument, group, answers):
        raise BadInput("That question is not shown for your earlier answers, so it cannot be answered.")
    _store_answer(bind, response_id, item_id, value, answers)
    # No rescore: only submitted responses count (app.services.scores.COUNTING_RULE), and a
    # response being edited is never submitted.
    return _save_result(instrument, group, answers)


def save_comment(
    session: Session,
    *,
    response: Response,
    assessment: Assessment,
    domain_id: str,
    body: str,
    page: int | None = None,
    instrument: Instrument | None = None,
) -> None:
    """Autosave one condition's comment ("" removes it). Comments are not scored."""
    _lock_for_writing(session, response, assessment, page)
    instrument = instrument or instruments_store.instrument_for(session, assessment)
    _save_comment_locked(session, response.id, response.group, instrument, domain_id, body)


def autosave_comment(
    connection: Connection,
    editing: Editing,
    *,
    domain_id: str,
    body: str,
    page: int | None,
    instrument: Instrument,
) -> None:
    """`save_comment` of a response read by `editing_by_token`, on the caller's connection."""
    _lock(connection, editing, page)
    _save_comment_locked(connection, editing.id, editing.group, instrument, domain_id, body)


def _save_comment_locked(
    bind: Session | Connection,
    response_id: int,
    group: str,
    instrument: Instrument,
    domain_id: str,
    body: str,
) -> None:
    if not any(p.domain.id == domain_id for p in form_pages(instrument, group)):
        raise BadInput("That condition is not part of your survey.")
    _store_comment(bind, response_id, domain_id, body, comments_of(bind, response_id=response_id))


def save_page(
    session: Session,
    *,
    response: Response,
    assessment: Assessment,
    page_number: int,
    answers: Mapping[str, str],
    comment: str | None,
    instrument: Instrument | None = None,
) -> SaveResult:
    """Save a whole page (the form without JavaScript). All or nothing: one unknown item or bad
    value refuses the whole post. Values for items hidden by the page's own answers are ignored."""
    _lock_for_writing(session, response, assessment, page_number)
    instrument = instrument or instruments_store.instrument_for(session, assessment)
    pages = form_pages(instrument, response.group)
    if not 1 <= page_number <= len(pages):
        raise NotFound("There is no such page in this survey.")
    page = pages[page_number - 1]
    on_page = {i.id for i in page.items}
    for item_id, value in answers.items():
        _check_value(instrument, response.group, item_id, value)
        if item_id not in on_page:
            raise BadInput("That question is not on this page.")
    stored = answers_of(session, response_id=response.id)
    merged = dict(stored)
    merged.update({k: v for k, v in answers.items() if v})
    shown = visible_ids(instrument, response.group, merged)
    for item_id, value in answers.items():
        if item_id in shown and value:
            _store_answer(session, response.id, item_id, value, stored)
    if comment is not None:
        _store_comment(
            session,
            response.id,
            page.domain.id,
            comment,
            comments_of(session, response_id=response.id),
        )
    return _save_result(instrument, response.group, stored)


def remember_page(session: Session, *, response: Response, page: int) -> None:
    if response.status != ResponseStatus.submitted and response.last_page != page:
        response.last_page = page
        session.add(response)


_SET_LANGUAGE = (
    update(Response)
    .where(col(Response.id) == bindparam("response_id"))
    .values(language=bindparam("language"))
    .execution_options(synchronize_session=False)
)


def remember_language_of(connection: Connection, editing: Editing, *, language: str) -> None:
    """`remember_language` of a response read by `editing_by_token`."""
    if editing.status != ResponseStatus.submitted and editing.language != language:
        connection.execute(_SET_LANGUAGE, {"response_id": editing.id, "language": language})
        editing.language = language


def remember_language(session: Session, *, response: Response, language: str) -> None:
    """Store the language the response is answered in (kept once it is submitted)."""
    if response.status != ResponseStatus.submitted and response.language != language:
        response.language = language
        session.add(response)


def submit(
    session: Session,
    *,
    response: Response,
    assessment: Assessment,
    privacy_threshold: int,
    instrument: Instrument | None = None,
) -> list[Missing]:
    """Lock the response when every required visible item is answered; otherwise return what is
    missing (and change nothing).

    Takes the assessment's write lock first, then reads the cycle's status again: a submit that
    read "open" while a close was committing waits for the close and is then refused."""
    locks.lock_assessment(session, assessment.id)
    session.refresh(assessment)
    _lock_for_writing(session, response, assessment)
    instrument = instrument or instruments_store.instrument_for(session, assessment)
    missing = missing_required(instrument, response.group, answers_of(session, response_id=response.id))
    if missing:
        return missing
    response.status = ResponseStatus.submitted
    response.submitted_at = utcnow()
    _touch(response)
    session.add(response)
    session.flush()
    scores.refresh_scores(
        session, assessment_id=assessment.id, instrument=instrument, privacy_threshold=privacy_threshold
    )
    audit.record(
        session,
        actor=f"respondent #{response.id}",
        action="response.submit",
        target=f"response:{response.id}",
        organization_id=assessment.organization_id,
        detail={"assessment_id": assessment.id, "group": response.group},
    )
    return []


def reopen_own(
    session: Session, *, response: Response, assessment: Assessment, privacy_threshold: int
) -> Response:
    """The respondent reopens their OWN submitted response, through their personal link, to
    change it. Only while the cycle takes answers (to change a closed cycle, the lead opens the
    whole cycle again). Nobody else can reopen a response: a lead who could reopen one row and
    watch the figures could single that person out (docs/privacy.md)."""
    locks.lock_assessment(session, assessment.id)
    session.refresh(assessment)
    session.refresh(response)
    if not assessments_service.is_accepting_answers(assessment):
        raise Conflict("This survey is closed, so answers can no longer be changed.")
    if response.status != ResponseStatus.submitted:
        return response
    response.status = ResponseStatus.in_progress
    response.submitted_at = None
    _touch(response)
    session.add(response)
    session.flush()
    scores.refresh_scores(session, assessment_id=assessment.id, privacy_threshold=privacy_threshold)
    audit.record(
        session,
        actor=f"respondent #{response.id}",
        action="response.reopen_own",
        target=f"response:{response.id}",
        organization_id=assessment.organization_id,
        detail={"assessment_id": assessment.id},
    )
    return response
