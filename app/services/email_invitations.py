"""Email invitations and reminders: a personal link for each emailed person of a cycle.

- `add_recipients` stores the addresses of one group (typed, pasted or from a CSV), each with a
  send time and a language; the invitations go out when they are due.
- `deliver_due` (the `email` job and the periodic work in app/jobs/kinds/email.py) sends what is
  due: invitations whose time has come, and reminders to people who have not submitted, N days
  after the last message (at most M; both per cycle, `EmailSchedule`). Each person is claimed
  with a conditional UPDATE first, so two workers never mail one person twice.
- A personal link is `/i/<token>`. The token is derived from the recipient's random nonce and the
  secret key, so it can be put in every message without being stored (only its SHA-256 is, like
  every other token). It opens the person's one response; its `/opt-out` page stops all further
  mail from that cycle.
- The send log shows the lead each person's status and whether they have submitted, never what
  they answered. When the cycle closes, addresses are erased (`erase_addresses`): a keyed hash
  stays, so an address that opted out is still never mailed again by that cycle.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app import i18n
from app.config import Settings
from app.db.models import (
    Assessment,
    EmailMessage,
    EmailRecipient,
    EmailSchedule,
    Organization,
    RecipientStatus,
    Response,
    ResponseStatus,
    User,
    utcnow,
)
from app.errors import BadInput, Gone, NotFound
from app.i18n import gettext
from app.instruments.models import Instrument, text
from app.services import access, audit, instruments_store, invitations, locks, mail
from app.services import assessments as assessments_service

log = logging.getLogger("peerready.email")

DEFAULT_REMINDER_DAYS = 7
DEFAULT_MAX_REMINDERS = 2
MAX_REMINDERS = 2
MAX_REMINDER_DAYS = 60
MAX_ADDRESSES_PER_BATCH = 2000
MAX_CSV_BYTES = 1_000_000
STALE_CLAIM = timedelta(minutes=15)
LANGUAGES = i18n.LANGUAGE_NAMES


# --- tokens and hashes --------------------------------------------------------------------------


def link_token(nonce: str, *, secret_key: str) -> str:
    digest = hmac.new(secret_key.encode(), b"email-link:" + nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def address_hash(address: str, *, secret_key: str) -> str:
    """Keyed, so a copy of the database cannot test addresses against it without the key."""
    message = b"email-address:" + address.strip().lower().encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def personal_url(recipient: EmailRecipient, *, settings: Settings) -> str:
    token = link_token(recipient.link_nonce, secret_key=settings.secret_key)
    return f"{settings.base_url.rstrip('/')}/i/{token}"


# --- reading addresses ------------------------------------------------------------------------


@dataclass
class ParsedAddresses:
    addresses: list[tuple[str, str | None, str | None]] = field(default_factory=list)  # (email, group, lang)
    invalid: list[str] = field(default_factory=list)


def _check_address(value: str) -> str | None:
    value = value.strip().strip("<>").strip().lower()
    if not value or len(value) > 254 or "@" not in value:
        return None
    local, _, domain = value.rpartition("@")
    if not local or "." not in domain or any(c.isspace() for c in value) or not mail.is_address(value):
        return None
    return value


def parse_pasted(raw: str) -> ParsedAddresses:
    """Addresses separated by commas, semicolons, spaces or lines; "Name <a@b.org>" works too."""
    parsed = ParsedAddresses()
    for chunk in re.split(r"[,;\n\r\t]+", raw):
        bracketed = re.search(r"<([^<>]*)>", chunk)
        pieces = [bracketed.group(1)] if bracketed else chunk.split()
        for piece in pieces:
            address = _check_address(piece)
            if address:
                parsed.addresses.append((address, None, None))
            elif piece.strip():
                parsed.invalid.append(piece.strip()[:100])
    return parsed


def parse_csv(data: bytes) -> ParsedAddresses:
    """A CSV with an `email` column (and optional `group` and `language` columns), or without a
    header, addresses in the first column."""
    if len(data) > MAX_CSV_BYTES:
        raise BadInput(gettext("The address file is too large (at most 1 MB)."))
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(gettext("The address file must be a CSV file saved as UTF-8.")) from exc
    rows = list(csv.reader(io.StringIO(content)))
    parsed = ParsedAddresses()
    if not rows:
        return parsed
    header = [cell.strip().lower() for cell in rows[0]]
    if "email" in header:
        email_at = header.index("email")
        group_at = header.index("group") if "group" in header else None
        lang_at = header.index("language") if "language" in header else None
        body = rows[1:]
    else:
        email_at, group_at, lang_at, body = 0, None, None, rows
    for row in body:
        if len(row) <= email_at or not row[email_at].strip():
            continue
        address = _check_address(row[email_at])
        if address is None:
            parsed.invalid.append(row[email_at][:100])
            continue
        group = row[group_at].strip() if group_at is not None and len(row) > group_at else None
        lang = row[lang_at].strip().lower() if lang_at is not None and len(row) > lang_at else None
        parsed.addresses.append((address, group or None, lang or None))
    return parsed


# --- adding people ------------------------------------------------------------------------------


@dataclass
class AddResult:
    added: int = 0
    already_listed: int = 0
    opted_out: int = 0
    invalid: list[str] = field(default_factory=list)
    due_now: bool = False


def _language(value: str | None) -> str:
    language = (value or "en").strip().lower()
    if language not in LANGUAGES:
        raise BadInput(
            gettext("Choose a language from the list (%(languages)s).")
            % {"languages": ", ".join(sorted(LANGUAGES))}
        )
    return language


def add_recipients(
    session: Session,
    *,
    actor: User | str,
    assessment: Assessment,
    instrument: Instrument,
    group: str,
    parsed: ParsedAddresses,
    send_at: datetime | None,
    language: str | None,
    secret_key: str,
) -> AddResult:
    """Store the people to invite. Nothing is sent here; `deliver_due` sends when they are due."""
    if not assessments_service.is_accepting_answers(assessment):
        raise BadInput(gettext("This cycle is closed: open it again before inviting people."))
    default_language = _language(language)
    now = utcnow()
    if send_at is not None and send_at.tzinfo is None:
        raise BadInput(gettext("The send time needs a time zone."))
    if send_at is not None and send_at < now - timedelta(minutes=5):
        raise BadInput(gettext("The send time is in the past. Leave it empty to send now."))
    if not parsed.addresses and not parsed.invalid:
        raise BadInput(gettext("Enter at least one email address."))
    if len(parsed.addresses) > MAX_ADDRESSES_PER_BATCH:
        raise BadInput(gettext("At most %(num)s addresses at a time.") % {"num": MAX_ADDRESSES_PER_BATCH})
    result = AddResult(invalid=list(parsed.invalid))
    rows: list[tuple[str, str, str]] = []
    for address, row_group, row_language in parsed.addresses:
        chosen = row_group or group
        if not instrument.has_group(chosen):
            result.invalid.append(f"{address} (unknown group {chosen[:64]})")
            continue
        try:
            chosen_language = _language(row_language) if row_language else default_language
        except BadInput:
            result.invalid.append(f"{address} (unknown language {row_language})")
            continue
        rows.append((address, chosen, chosen_language))
    assert assessment.id is not None
    locks.lock_assessment(session, assessment.id)
    hashes = {address_hash(address, secret_key=secret_key): (address, g, lang) for address, g, lang in rows}
    existing = {
        r.email_hash: r
        for r in session.exec(
            select(EmailRecipient).where(
                EmailRecipient.assessment_id == assessment.id,
                col(EmailRecipient.email_hash).in_(list(hashes)),
            )
        )
    }
    for digest, (address, chosen, chosen_language) in hashes.items():
        known = existing.get(digest)
        if known is not None:
            if known.status == RecipientStatus.opted_out:
                result.opted_out += 1
            elif known.email is None:  # erased when the cycle closed; listed again after reopening
                known.email = address
                session.add(known)
                result.already_listed += 1
            else:
                result.already_listed += 1
            continue
        nonce = secrets.token_urlsafe(24)
        session.add(
            EmailRecipient(
                assessment_id=assessment.id,
                group=chosen,
                email=address,
                email_hash=digest,
                language=chosen_language,
                link_nonce=nonce,
                token_hash=invitations.hash_token(link_token(nonce, secret_key=secret_key)),
                status=RecipientStatus.queued,
                send_at=send_at or now,
                created_by_id=actor.id if isinstance(actor, User) else None,
            )
        )
        result.added += 1
    session.flush()
    result.due_now = result.added > 0 and (send_at is None or send_at <= now)
    audit.record(
        session,
        actor=actor,
        action="email.invite",
        target=f"assessment:{assessment.id}",
        organization_id=assessment.organization_id,
        # Counts only: addresses do not belong in the audit log (it outlives the cycle).
        detail={
            "group": group,
            "added": result.added,
            "send_at": send_at.isoformat() if send_at else None,
            "language": default_language,
        },
    )
    return result


def invite_as_operator(
    session: Session,
    *,
    assessment_id: int,
    group: str,
    parsed: ParsedAddresses,
    send_at: datetime | None,
    language: str | None,
    secret_key: str,
) -> AddResult:
    """`peerready invite`: the operator may invite to any cycle."""
    assessment = access.get_row(session, Assessment, assessment_id, missing="No such assessment.")
    instrument = instruments_store.instrument_for(session, assessment)
    if not instrument.has_group(group):
        raise BadInput(f"No group {group!r}; choose one of {', '.join(g.id for g in instrument.groups)}.")
    return add_recipients(
        session,
        actor="command line",
        assessment=assessment,
        instrument=instrument,
        group=group,
        parsed=parsed,
        send_at=send_at,
        language=language,
        secret_key=secret_key,
    )


# --- the schedule ---------------------------------------------------------------------------------


def schedule_of(session: Session, *, assessment_id: int) -> EmailSchedule:
    row = session.get(EmailSchedule, assessment_id)
    return row or EmailSchedule(
        assessment_id=assessment_id, reminder_days=DEFAULT_REMINDER_DAYS, max_reminders=DEFAULT_MAX_REMINDERS
    )


def set_schedule(
    session: Session, *, actor: User | str, assessment: Assessment, reminder_days: int, max_reminders: int
) -> EmailSchedule:
    if not 1 <= reminder_days <= MAX_REMINDER_DAYS:
        raise BadInput(gettext("Reminders can be sent after 1 to %(num)s days.") % {"num": MAX_REMINDER_DAYS})
    if not 0 <= max_reminders <= MAX_REMINDERS:
        raise BadInput(gettext("Send at most %(num)s reminders (0 sends none).") % {"num": MAX_REMINDERS})
    assert assessment.id is not None
    row = session.get(EmailSchedule, assessment.id) or EmailSchedule(assessment_id=assessment.id)
    row.reminder_days, row.max_reminders = reminder_days, max_reminders
    session.add(row)
    audit.record(
        session,
        actor=actor,
        action="email.schedule",
        target=f"assessment:{assessment.id}",
        organization_id=assessment.organization_id,
        detail={"reminder_days": reminder_days, "max_reminders": max_reminders},
    )
    return row


# --- the send log -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogRow:
    recipient: EmailRecipient
    submitted: bool


def send_log(session: Session, *, assessment_id: int) -> list[LogRow]:
    """Each emailed person with their status and whether they submitted (never their answers)."""
    rows = session.exec(
        select(EmailRecipient, Response.status)
        .join(Response, col(Response.id) == col(EmailRecipient.response_id), isouter=True)
        .where(EmailRecipient.assessment_id == assessment_id)
        .order_by(col(EmailRecipient.id))
    )
    return [LogRow(recipient, status == ResponseStatus.submitted) for recipient, status in rows]


def _recipient(session: Session, *, assessment: Assessment, recipient_id: int) -> EmailRecipient:
    row = session.get(EmailRecipient, recipient_id)
    if row is None or row.assessment_id != assessment.id:
        raise NotFound(gettext("No such person in this cycle's email list."))
    return row


def resend(session: Session, *, actor: User, assessment: Assessment, recipient_id: int) -> EmailRecipient:
    """Send the invitation again now (after a failure, a bounce or a lost message)."""
    row = _recipient(session, assessment=assessment, recipient_id=recipient_id)
    if row.status == RecipientStatus.opted_out:
        raise BadInput(gettext("This person asked for no more email from this cycle."))
    if row.email is None:
        raise BadInput(gettext("This address was erased when the cycle closed; add it again."))
    if not assessments_service.is_accepting_answers(assessment):
        raise BadInput(gettext("This cycle is closed: open it again before sending."))
    row.status, row.send_at, row.last_error, row.bounced_at = RecipientStatus.queued, utcnow(), None, None
    session.add(row)
    audit.record(
        session,
        actor=actor,
        action="email.resend",
        target=f"email_recipient:{row.id}",
        organization_id=assessment.organization_id,
    )
    return row


def mark_bounced(
    session: Session, *, actor: User, assessment: Assessment, recipient_id: int
) -> EmailRecipient:
    """The lead saw a bounce: no further messages to this address until it is sent again."""
    row = _recipient(session, assessment=assessment, recipient_id=recipient_id)
    if row.status == RecipientStatus.opted_out:
        raise BadInput(gettext("This person opted out; nothing more is sent to them anyway."))
    row.status, row.bounced_at = RecipientStatus.bounced, utcnow()
    session.add(row)
    audit.record(
        session,
        actor=actor,
        action="email.bounced",
        target=f"email_recipient:{row.id}",
        organization_id=assessment.organization_id,
    )
    return row


def erase_addresses(session: Session, *, assessment_id: int) -> int:
    """Called when a cycle closes: addresses go, from the list and from the message log; what is
    left (a keyed hash, statuses, counts) cannot be turned back into an address without the key."""
    erased = session.exec(
        update(EmailRecipient)
        .where(col(EmailRecipient.assessment_id) == assessment_id, col(EmailRecipient.email).is_not(None))
        .values(email=None)
    ).rowcount
    session.exec(
        update(EmailMessage)
        .where(col(EmailMessage.assessment_id) == assessment_id)
        .values(to_address=None, body_text=None, body_html=None)
    )
    return int(erased or 0)


def erase_addresses_of_ended_cycles(engine: Engine) -> int:
    """Cycles whose close date passed are closed too, for their respondents: erase their addresses."""
    with Session(engine) as session:
        candidates = session.exec(
            select(Assessment)
            .join(EmailRecipient, col(EmailRecipient.assessment_id) == col(Assessment.id))
            .where(col(EmailRecipient.email).is_not(None))
            .distinct()
        ).all()
        erased = 0
        for assessment in candidates:
            if not assessments_service.is_accepting_answers(assessment):
                erased += erase_addresses(session, assessment_id=assessment.id)
        session.commit()
    return erased


# --- the personal link --------------------------------------------------------------------------


def _by_token(session: Session, *, token: str, client_ip: str | None) -> EmailRecipient:
    row = None
    if invitations.looks_like_token(token):
        row = session.exec(
            select(EmailRecipient).where(EmailRecipient.token_hash == invitations.hash_token(token))
        ).first()
    if row is None:  # counted toward the link-guess limit: 404, then 429 (app/services/invitations.py)
        invitations.refuse_unknown_token(
            session,
            client_ip=client_ip,
            message="This link does not work. Check that you copied all of it, or ask for a new one.",
        )
    return row


def open_personal_link(session: Session, *, token: str, client_ip: str | None) -> str:
    """The personal response token for an emailed link, creating the person's one response the
    first time. The response's token is the link's own token, so /respond/<token> works."""
    row = _by_token(session, token=token, client_ip=client_ip)
    if row.response_id is not None and session.get(Response, row.response_id) is not None:
        return token
    assessment = session.get(Assessment, row.assessment_id)
    if assessment is None or not assessments_service.is_accepting_answers(assessment):
        raise Gone(
            gettext("This survey is closed, so it no longer takes answers. Thank you for your interest.")
        )
    assert assessment.id is not None
    locks.lock_assessment(session, assessment.id)
    session.refresh(row)
    if row.response_id is not None and session.get(Response, row.response_id) is not None:
        return token
    response = Response(
        assessment_id=assessment.id, group=row.group, token_hash=row.token_hash, language=row.language
    )
    session.add(response)
    session.flush()
    row.response_id = response.id
    session.add(row)
    return token


@dataclass(frozen=True)
class OptOutView:
    organization: str
    cycle: str
    opted_out: bool


def opt_out_view(session: Session, *, token: str, client_ip: str | None) -> OptOutView:
    row = _by_token(session, token=token, client_ip=client_ip)
    assessment = session.get(Assessment, row.assessment_id)
    assert assessment is not None
    organization = session.get(Organization, assessment.organization_id)
    return OptOutView(
        organization=organization.name if organization else "",
        cycle=assessment.name,
        opted_out=row.status == RecipientStatus.opted_out,
    )


def opt_out(session: Session, *, token: str, client_ip: str | None) -> OptOutView:
    """No more email to this person from this cycle (invitation or reminders); idempotent."""
    row = _by_token(session, token=token, client_ip=client_ip)
    if row.status != RecipientStatus.opted_out:
        row.status, row.opted_out_at = RecipientStatus.opted_out, utcnow()
        session.add(row)
        assessment = session.get(Assessment, row.assessment_id)
        audit.record(
            session,
            actor=f"email recipient #{row.id}",
            action="email.opt_out",
            target=f"email_recipient:{row.id}",
            organization_id=assessment.organization_id if assessment else None,
        )
    return opt_out_view(session, token=token, client_ip=client_ip)


# --- sending ------------------------------------------------------------------------------------


@dataclass
class Delivered:
    invitations: int = 0
    reminders: int = 0
    failed: int = 0
    outbox: int = 0
    erased: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "invitations": self.invitations,
            "reminders": self.reminders,
            "failed": self.failed,
            "outbox": self.outbox,
            "erased": self.erased,
        }


def _release_stale_claims(session: Session, now: datetime) -> None:
    """A sender that died mid-message leaves its claim; after STALE_CLAIM the person is due again."""
    session.exec(
        update(EmailRecipient)
        .where(
            col(EmailRecipient.status) == RecipientStatus.sending,
            col(EmailRecipient.claimed_at) < now - STALE_CLAIM,
        )
        .values(status=RecipientStatus.queued, claimed_at=None)
    )


def _due_invitations(session: Session, now: datetime, assessment_id: int | None) -> list[int]:
    query = select(EmailRecipient.id).where(
        EmailRecipient.status == RecipientStatus.queued,
        col(EmailRecipient.send_at) <= now,
        col(EmailRecipient.email).is_not(None),
    )
    if assessment_id is not None:
        query = query.where(EmailRecipient.assessment_id == assessment_id)
    return [int(i) for i in session.exec(query.order_by(col(EmailRecipient.id))) if i is not None]


def _due_reminders(session: Session, now: datetime, assessment_id: int | None) -> list[tuple[int, int]]:
    """(recipient id, reminders already sent) of people who were mailed, have not submitted, and
    whose last message is older than their cycle's reminder interval."""
    query = (
        select(EmailRecipient, EmailSchedule, Response.status)
        .join(
            EmailSchedule, col(EmailSchedule.assessment_id) == col(EmailRecipient.assessment_id), isouter=True
        )
        .join(Response, col(Response.id) == col(EmailRecipient.response_id), isouter=True)
        .where(EmailRecipient.status == RecipientStatus.sent, col(EmailRecipient.email).is_not(None))
    )
    if assessment_id is not None:
        query = query.where(EmailRecipient.assessment_id == assessment_id)
    due: list[tuple[int, int]] = []
    for row, schedule, response_status in session.exec(query):
        if response_status == ResponseStatus.submitted or row.last_sent_at is None:
            continue
        days = schedule.reminder_days if schedule else DEFAULT_REMINDER_DAYS
        limit = min(schedule.max_reminders if schedule else DEFAULT_MAX_REMINDERS, MAX_REMINDERS)
        if row.reminders_sent < limit and row.last_sent_at <= now - timedelta(days=days):
            due.append((int(row.id), row.reminders_sent))
    return due


def _claim(session: Session, recipient_id: int, *, reminder_of: int | None, now: datetime) -> bool:
    condition = [col(EmailRecipient.id) == recipient_id]
    if reminder_of is None:
        condition.append(col(EmailRecipient.status) == RecipientStatus.queued)
        values: dict[str, object] = {"status": RecipientStatus.sending, "claimed_at": now}
    else:
        # The reminder is counted as it is claimed: at most once, even if the sender dies.
        condition += [
            col(EmailRecipient.status) == RecipientStatus.sent,
            col(EmailRecipient.reminders_sent) == reminder_of,
        ]
        values = {"reminders_sent": reminder_of + 1, "last_sent_at": now, "claimed_at": now}
    claimed = session.exec(update(EmailRecipient).where(*condition).values(**values)).rowcount
    session.commit()
    return bool(claimed)


def _unclaim(session: Session, recipient_id: int, *, reminder_of: int | None, error: str) -> None:
    row = session.get(EmailRecipient, recipient_id)
    if row is None:
        return
    if reminder_of is None:
        row.status = RecipientStatus.queued
    else:
        row.reminders_sent = reminder_of
    row.claimed_at, row.last_error = None, error[:1000]
    session.add(row)
    session.commit()


def _message_context(
    session: Session, row: EmailRecipient, assessment: Assessment, *, settings: Settings, reminder: bool
) -> dict[str, object]:
    instrument = instruments_store.instrument_for(session, assessment)
    organization = session.get(Organization, assessment.organization_id)
    group = instrument.group_by_id(row.group) if instrument.has_group(row.group) else None
    url = personal_url(row, settings=settings)
    return {
        "organization": organization.name if organization else "",
        "cycle": assessment.name,
        "instrument": text(instrument.title, row.language),
        "group": text(group.label, row.language) if group else row.group,
        "link": url,
        "opt_out_link": url + "/opt-out",
        "close_date": assessment.close_date.isoformat() if assessment.close_date else None,
        "reminder": reminder,
        "reminder_number": row.reminders_sent,
        "language": row.language,
    }


def _send_one(
    engine: Engine,
    settings: Settings,
    sender: mail.Sender,
    recipient_id: int,
    *,
    reminder_of: int | None,
    now: datetime,
    delivered: Delivered,
) -> None:
    with Session(engine, expire_on_commit=False) as session:
        if not _claim(session, recipient_id, reminder_of=reminder_of, now=now):
            return  # another sender has it, or it changed (submitted, opted out) since it was read
        row = session.get(EmailRecipient, recipient_id)
        assert row is not None
        assessment = session.get(Assessment, row.assessment_id)
        if (
            assessment is None
            or row.email is None
            or not assessments_service.is_accepting_answers(assessment)
        ):
            _unclaim(session, recipient_id, reminder_of=reminder_of, error="The cycle is closed.")
            return
        if reminder_of is not None and row.response_id is not None:
            response = session.get(Response, row.response_id)
            if response is not None and response.status == ResponseStatus.submitted:
                _unclaim(session, recipient_id, reminder_of=reminder_of, error="")
                row.last_error = None
                session.add(row)
                session.commit()
                return
        kind = "reminder" if reminder_of is not None else "invitation"
        context = _message_context(
            session, row, assessment, settings=settings, reminder=reminder_of is not None
        )
        outgoing = mail.render(
            kind,
            context,
            to=row.email,
            settings=settings,
            headers={
                "List-Unsubscribe": f"<{context['opt_out_link']}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )
        try:
            outcome = sender.send(outgoing)
        except mail.MailUnavailable as exc:
            _unclaim(session, recipient_id, reminder_of=reminder_of, error=str(exc))
            raise
        session.refresh(row)
        if outcome.status == mail.FAILED:
            row.status, row.last_error = RecipientStatus.failed, outcome.error
            delivered.failed += 1
        else:
            if row.status == RecipientStatus.sending:
                row.status = RecipientStatus.sent
            if reminder_of is None:
                row.sent_at = row.last_sent_at = now
                delivered.invitations += 1
            else:
                delivered.reminders += 1
            row.last_error = None
            delivered.outbox += outcome.status == mail.OUTBOX
        row.claimed_at = None
        session.add(row)
        mail.record(session, outgoing, outcome, assessment_id=assessment.id, recipient_id=row.id)
        session.commit()


def deliver_due(
    engine: Engine, settings: Settings, *, now: datetime | None = None, assessment_id: int | None = None
) -> Delivered:
    """Send every invitation and reminder that is due (all cycles, or one). Idempotent: run it
    as often as you like, from as many workers as you like."""
    now = now or utcnow()
    delivered = Delivered()
    delivered.erased = erase_addresses_of_ended_cycles(engine)
    with Session(engine, expire_on_commit=False) as session:
        _release_stale_claims(session, now)
        session.commit()
        due_invitations = _due_invitations(session, now, assessment_id)
        due_reminders = _due_reminders(session, now, assessment_id)
    with mail.Sender(settings) as sender:
        for recipient_id in due_invitations:
            _send_one(engine, settings, sender, recipient_id, reminder_of=None, now=now, delivered=delivered)
        for recipient_id, already in due_reminders:
            _send_one(
                engine, settings, sender, recipient_id, reminder_of=already, now=now, delivered=delivered
            )
    if delivered.invitations or delivered.reminders or delivered.failed:
        log.info("Email: %s", delivered.as_dict())
    return delivered


def count_by_status(rows: Iterable[LogRow]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.recipient.status] = counts.get(row.recipient.status, 0) + 1
    return counts
