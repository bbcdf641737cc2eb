"""Sending email: render a message from templates/email/, hand it to the SMTP server (stdlib
`smtplib`), or keep it in the outbox when no SMTP host is set, and log every message.

    with mail.Sender(settings) as sender:
        outcome = sender.send(mail.render("invitation", context, to="a@example.org", settings=settings))

With `PEERREADY_SMTP_HOST` empty (the default, and the demo) nothing ever leaves the machine: each
message is stored with its body in the `emailmessage` table, and administrators read it at
/admin/outbox. With a host, only the envelope (to, subject, status, the server's reply) is kept:
bodies hold personal links, which PeerReady otherwise never stores.

Sending is done by background jobs (app/jobs/kinds/email.py), never inside a web request.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from types import TracebackType
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from sqlmodel import Session, col, select

from app import i18n
from app.config import Settings
from app.db.models import EmailMessage
from app.errors import NotFound
from app.paths import TEMPLATES_DIR

OUTBOX = "outbox"
SENT = "sent"
FAILED = "failed"
SMTP_TIMEOUT_SECONDS = 30
OUTBOX_PAGE = 200


class MailUnavailable(Exception):
    """The SMTP server could not be reached or dropped the connection: nothing was decided about
    the message, so it stays due and is tried again later."""


@dataclass(frozen=True)
class Outgoing:
    kind: str
    to: str
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    status: str  # outbox | sent | failed
    error: str | None = None


def _environment(templates_dir: Path | None) -> Environment:
    loaders = [FileSystemLoader(str(templates_dir))] if templates_dir is not None else []
    loaders.append(FileSystemLoader(str(TEMPLATES_DIR)))
    # .txt templates are not escaped; .html ones are (addresses and names are the sender's input).
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        keep_trailing_newline=True,
    )
    i18n.install_jinja(env)  # {{ _("...") }} in email templates follows the recipient's language
    return env


_ENVIRONMENTS: dict[str, Environment] = {}


def environment(templates_dir: Path | None) -> Environment:
    key = str(templates_dir)
    if key not in _ENVIRONMENTS:
        _ENVIRONMENTS[key] = _environment(templates_dir)
    return _ENVIRONMENTS[key]


def render(
    kind: str,
    context: dict[str, Any],
    *,
    to: str,
    settings: Settings,
    headers: dict[str, str] | None = None,
) -> Outgoing:
    """templates/email/<kind>.subject.txt, <kind>.txt and <kind>.html with `context`."""
    env = environment(settings.templates_dir)
    with i18n.use_locale(str(context.get("language") or i18n.SOURCE_LANGUAGE)):
        subject = env.get_template(f"email/{kind}.subject.txt").render(context)
        text = env.get_template(f"email/{kind}.txt").render(context)
        html = env.get_template(f"email/{kind}.html").render(context)
    return Outgoing(
        kind=kind,
        to=to,
        subject=" ".join(subject.split())[:300],
        text=text,
        html=html,
        headers=headers or {},
    )


def build_mime(outgoing: Outgoing, *, mail_from: str) -> MimeMessage:
    message = MimeMessage()
    message["From"] = mail_from
    message["To"] = outgoing.to
    message["Subject"] = outgoing.subject
    message["Date"] = formatdate(localtime=False)
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    for name, value in outgoing.headers.items():
        message[name] = value
    message.set_content(outgoing.text)
    message.add_alternative(outgoing.html, subtype="html")
    return message


def _reply(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {words}".strip()[:1000]


class Sender:
    """One SMTP connection for a batch of messages (opened at the first message), or the outbox."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    @property
    def uses_outbox(self) -> bool:
        return not self.settings.smtp_host

    def __enter__(self) -> Sender:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self._smtp = None

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        try:
            if settings.smtp_port == 465:  # implicit TLS ("SMTPS")
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    settings.smtp_host,
                    settings.smtp_port,
                    timeout=SMTP_TIMEOUT_SECONDS,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS)
                smtp.ehlo()
                if settings.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
        except (smtplib.SMTPException, OSError) as exc:
            raise MailUnavailable(
                f"The mail server {settings.smtp_host}:{settings.smtp_port} could not be used: {exc}"
            ) from exc
        return smtp

    def send(self, outgoing: Outgoing) -> Outcome:
        """Deliver one message. A refusal by the server is an Outcome with its reply; a server that
        cannot be reached raises MailUnavailable."""
        if self.uses_outbox:
            return Outcome(OUTBOX)
        if self._smtp is None:
            self._smtp = self._connect()
        message = build_mime(outgoing, mail_from=self.settings.mail_from)
        try:
            refused = self._smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            return Outcome(FAILED, _reply(code, text))
        except smtplib.SMTPSenderRefused as exc:
            return Outcome(FAILED, _reply(exc.smtp_code, exc.smtp_error))
        except smtplib.SMTPDataError as exc:
            return Outcome(FAILED, _reply(exc.smtp_code, exc.smtp_error))
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._smtp = None
            raise MailUnavailable(f"The mail server dropped the connection: {exc}") from exc
        except smtplib.SMTPException as exc:
            return Outcome(FAILED, str(exc)[:1000])
        if refused:
            code, text = next(iter(refused.values()))
            return Outcome(FAILED, _reply(code, text))
        return Outcome(SENT)


def is_address(value: str) -> bool:
    """A single plain address the email package can put in a To header."""
    try:
        Address(addr_spec=value)
    except (ValueError, IndexError, TypeError):
        return False
    return True


# --- the message log and the outbox ---------------------------------------------------------


def record(
    session: Session,
    outgoing: Outgoing,
    outcome: Outcome,
    *,
    assessment_id: int | None = None,
    recipient_id: int | None = None,
) -> EmailMessage:
    """Log one message; its body only when it went to the outbox (it is the only copy then)."""
    keep_body = outcome.status == OUTBOX
    row = EmailMessage(
        kind=outgoing.kind,
        assessment_id=assessment_id,
        recipient_id=recipient_id,
        to_address=outgoing.to,
        subject=outgoing.subject,
        body_text=outgoing.text if keep_body else None,
        body_html=outgoing.html if keep_body else None,
        status=outcome.status,
        error=outcome.error,
    )
    session.add(row)
    return row


def outbox(session: Session, *, limit: int = OUTBOX_PAGE) -> list[EmailMessage]:
    """The newest messages first, every kind and status (the admin page)."""
    return list(session.exec(select(EmailMessage).order_by(col(EmailMessage.id).desc()).limit(limit)))


def outbox_message(session: Session, *, message_id: int) -> EmailMessage:
    row = session.get(EmailMessage, message_id)
    if row is None:
        raise NotFound("No such message.")
    return row
