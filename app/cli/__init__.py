"""The `peerready` command. Each area of the product adds its commands from its own module."""

import click

from app.cli import accounts as accounts_commands
from app.cli import backup as backup_commands
from app.cli import email as email_commands
from app.cli import evidence as evidence_commands
from app.cli import instruments as instruments_commands
from app.cli import jobs as jobs_commands
from app.cli import portfolio as portfolio_commands
from app.cli import reports as reports_commands
from app.cli import scoring as scoring_commands
from app.cli import server as server_commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="peerready")
def cli() -> None:
    """PeerReady: organizational readiness for parent peer specialists."""


for module in (
    instruments_commands,
    server_commands,
    accounts_commands,
    reports_commands,
    portfolio_commands,
    scoring_commands,
    backup_commands,
    jobs_commands,
    email_commands,
    evidence_commands,
):
    module.register(cli)


def main() -> None:
    cli()
