"""`peerready import-responses`: paper-collected responses (CSV, docs/csv-layout.md) or a REDCap
data export (docs/interoperability.md) into a cycle. `peerready portfolio pdf`: a portfolio's PDF,
now or as a background job."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click

from app.cli.common import ready_engine
from app.config import load_settings_or_exit
from app.services import report_prepare


@click.command("import-responses")
@click.argument("assessment_id", type=int)
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file and show what would be saved; save nothing.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "peerready", "redcap"]),
    default="auto",
    show_default=True,
    help="peerready: the paper-response CSV; redcap: a REDCap data export of a project built from"
    " `peerready export redcap`; auto: redcap when the header starts with record_id.",
)
def import_responses(assessment_id: int, csv_file: Path, dry_run: bool, fmt: str) -> None:
    """Import responses from CSV_FILE (paper-collected, or a REDCap data export) into assessment
    ASSESSMENT_ID.

    Every row is checked first; a file with any error saves nothing and lists every error with
    its row (REDCap: FILE:LINE: COLUMN: message) and column. Otherwise all rows are saved as one
    import in one transaction, which counts once the agency's lead approves it.
    """
    from app.db.engine import session_scope
    from app.errors import PeerReadyError
    from app.scoring.csv_responses import ResponsesCsvInvalid
    from app.services.imports import file_format, import_file_directly

    settings = load_settings_or_exit()
    content = csv_file.read_bytes()
    try:
        engine = ready_engine(settings)
        report_prepare.watch(engine, settings)  # the cycle's reports are re-rendered by a worker
        with session_scope(engine) as session:
            rows, result = import_file_directly(
                session,
                assessment_id=assessment_id,
                content=content,
                actor="command line",
                privacy_threshold=settings.privacy_threshold,
                dry_run=dry_run,
                fmt=fmt,
            )
    except ResponsesCsvInvalid as invalid:
        problems = len(invalid.errors)
        click.echo(f"{csv_file}: not imported, nothing was saved. {problems} problem(s):", err=True)
        redcap = file_format(content.decode("utf-8-sig", errors="replace"), fmt) == "redcap"
        for error in invalid.errors:
            if redcap:  # compiler-style, as the lines of the file REDCap wrote
                click.echo(f"{csv_file}:{error.row}: {error.column or '-'}: {error.message}", err=True)
            else:
                click.echo(f"  {error}", err=True)
        raise SystemExit(1) from None
    except PeerReadyError as error:
        click.echo(f"Not imported: {error.message}", err=True)
        raise SystemExit(1) from None
    groups = ", ".join(f"{group} {n}" for group, n in sorted(Counter(r.group for r in rows).items()))
    if result is None:
        click.echo(f"{csv_file}: {len(rows)} responses pass every check ({groups}). Dry run: nothing saved.")
    else:
        click.echo(
            f"Saved {result.n_saved} responses into assessment {assessment_id} ({groups}). "
            "They count once the agency's lead approves the import on the cycle page."
        )
        click.echo("Stored scores refreshed.")


@click.group("portfolio")
def portfolio_group() -> None:
    """A funder's portfolio from the command line."""


@portfolio_group.command("pdf")
@click.argument("portfolio_id", type=int)
@click.option(
    "--as",
    "as_email",
    required=True,
    metavar="EMAIL",
    help="The funder or administrator whose view it prints (the portfolio page's privacy rules apply).",
)
@click.option("--region", default=None, help="Only sites of this region.")
@click.option("--cohort", default=None, help="Only sites of this cohort.")
@click.option("--instrument", default=None, help="Only cycles of this instrument id.")
@click.option("--sort", default=None, help="Site order, as on the page (e.g. -score_purpose).")
@click.option(
    "--job",
    "as_job",
    is_flag=True,
    help="Start a background job and print its id instead of printing the PDF here "
    "(follow it with `peerready jobs show ID --wait`).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Without --job: the file to write (default: the download's name in reports/out/).",
)
def portfolio_pdf(
    portfolio_id: int,
    as_email: str,
    region: str | None,
    cohort: str | None,
    instrument: str | None,
    sort: str | None,
    as_job: bool,
    out: Path | None,
) -> None:
    """The PDF of portfolio PORTFOLIO_ID as the portfolio page's PDF download makes it."""
    params = {
        "portfolio_id": portfolio_id,
        "region": region,
        "cohort": cohort,
        "instrument": instrument,
        "sort": sort,
    }
    if as_job:
        if out is not None:
            raise click.UsageError("--out is not used with --job: the job keeps its file.")
        from app.cli.jobs import start_job

        start_job("portfolio_pdf", params, as_email=as_email, person_needed=True)
        return
    from app.db.engine import session_scope
    from app.errors import PeerReadyError
    from app.services import portfolio_pdf as printing

    settings = load_settings_or_exit()
    try:
        with session_scope(ready_engine(settings)) as session:
            body, filename = printing.print_as(session, params=params, email=as_email, settings=settings)
    except PeerReadyError as exc:
        raise click.ClickException(exc.message) from None
    path = out or Path("reports/out") / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    click.echo(f"Wrote {path} ({len(body):,} bytes).")


def register(cli: click.Group) -> None:
    """Add this module's commands to the `peerready` group."""
    cli.add_command(import_responses)
    cli.add_command(portfolio_group)
