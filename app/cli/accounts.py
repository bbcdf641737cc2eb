"""`peerready create-admin` and `peerready set-password`: accounts from the command line, for the first
administrator and for an administrator who is locked out."""

from __future__ import annotations

import sys

import click

from app.cli.common import ready_engine
from app.config import load_settings_or_exit
from app.db.engine import session_scope
from app.db.models import Role
from app.errors import PeerReadyError
from app.services import accounts

STDIN_HELP = "Read the password from the first line of standard input."


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt="Password again")


@click.command("create-admin")
@click.option("--email", required=True, help="Sign-in email of the new administrator.")
@click.option("--name", default=None, help="Display name (defaults to the part of the email before @).")
@click.option("--password-stdin", is_flag=True, help=STDIN_HELP)
def create_admin(email: str, name: str | None, password_stdin: bool) -> None:
    """Create an administrator account (prompts for the password twice)."""
    # Settings first: no password typed in vain when they are invalid.
    engine = ready_engine(load_settings_or_exit())
    password = _read_password(password_stdin)
    try:
        with session_scope(engine) as session:
            user = accounts.create_user(
                session,
                email=email,
                name=name or "",
                role=Role.admin,
                password=password,
                actor="command line",
            )
            summary = f"Created administrator {user.email} (user #{user.id})."
    except PeerReadyError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(summary)


@click.command("set-password")
@click.option("--email", required=True, help="Email of the account.")
@click.option("--password-stdin", is_flag=True, help=STDIN_HELP)
def set_password(email: str, password_stdin: bool) -> None:
    """Set a new password for an account and lift any sign-in lock (prompts twice)."""
    # Settings first: no password typed in vain when they are invalid.
    engine = ready_engine(load_settings_or_exit())
    password = _read_password(password_stdin)
    try:
        with session_scope(engine) as session:
            user = accounts.find_user_by_email(session, email=email)
            if user is None:
                raise click.ClickException(f"No account with the email {email}.")
            accounts.reset_password(session, actor="command line", user=user, temporary_password=password)
    except PeerReadyError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Password set for {email}; any sign-in lock is lifted.")


def register(cli: click.Group) -> None:
    """Add this module's commands to the `peerready` group."""
    cli.add_command(create_admin)
    cli.add_command(set_password)
