"""`peerready invite`: email personal invitation links to a cycle's respondents."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from app.cli.common import ready_engine
from app.config import load_settings_or_exit
from app.errors import PeerReadyError
from app.i18n import LANGUAGES


def _send_at(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(
            "use an ISO date and time, e.g. 2027-03-01T09:00 or 2027-03-01T09:00-05:00"
        ) from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@click.command("invite")
@click.argument("assessment_id", type=int)
@click.option("--group", required=True, help="Respondent group id of the instrument (e.g. peer_staff).")
@click.option("--email", "emails", multiple=True, help="An address to invite (repeatable).")
@click.option(
    "--file",
    "address_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A CSV of addresses: an `email` column (optional `group`, `language`), or the first column.",
)
@click.option(
    "--send-at",
    default=None,
    help="When to send (ISO date and time; UTC unless an offset is given). Default: now.",
)
@click.option(
    "--lang",
    "language",
    type=click.Choice(LANGUAGES),
    default="en",
    show_default=True,
    help="Language of the messages.",
)
def invite(
    assessment_id: int,
    group: str,
    emails: tuple[str, ...],
    address_file: Path | None,
    send_at: str | None,
    language: str,
) -> None:
    """Invite people to ASSESSMENT_ID by email: each gets a personal link. The messages are sent
    by the job queue (`peerready worker`; at once with PEERREADY_QUEUE=immediate)."""
    from app.db.engine import session_scope
    from app.services import email_invitations, jobs

    if bool(emails) == bool(address_file):
        raise click.UsageError("Give either --email (one or more) or --file.")
    when = _send_at(send_at)
    settings = load_settings_or_exit()
    engine = ready_engine(settings)
    try:
        with session_scope(engine) as session:
            if address_file is not None:
                parsed = email_invitations.parse_csv(address_file.read_bytes())
            else:
                parsed = email_invitations.parse_pasted("\n".join(emails))
            result = email_invitations.invite_as_operator(
                session,
                assessment_id=assessment_id,
                group=group,
                parsed=parsed,
                send_at=when,
                language=language,
                secret_key=settings.secret_key,
            )
            if result.due_now:
                jobs.start(
                    session, "email", params={"assessment_id": assessment_id}, user=None, settings=settings
                )
    except PeerReadyError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(
        f"{result.added} added, {result.already_listed} already listed, "
        f"{result.opted_out} left out (opted out), {len(result.invalid)} not understood."
    )
    for problem in result.invalid:
        click.echo(f"  not added: {problem}", err=True)
    if result.added:
        click.echo(
            "Sending now." if result.due_now else f"They will be sent at {when.isoformat() if when else ''}."
        )


def register(cli: click.Group) -> None:
    cli.add_command(invite)
