"""`peerready` commands for this area."""

import click


def register(cli: click.Group) -> None:
    """Add this module's commands to the `peerready` group."""
