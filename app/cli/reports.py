"""`peerready report` (one assessment, or the latest of every site of a portfolio) and
`peerready assessments` (find the id to report on)."""

from __future__ import annotations

import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import click
from sqlalchemy.engine import Engine

from app.cli.common import ready_engine
from app.config import load_settings_or_exit
from app.errors import PeerReadyError
from app.i18n import LANGUAGES

# Rendering is CPU-bound; two worker processes halve a batch on a two-core machine.
BATCH_WORKERS = 2


def write_report(
    engine: Engine, *, assessment_id: int, paper: str, out_dir: Path, cache_dir: Path, lang: str | None = None
) -> Path:
    """Render one assessment's report into `out_dir`; returns the file written."""
    from app.db.engine import session_scope
    from app.services.reports import report_pdf_for_operator

    with session_scope(engine) as session:
        body, filename = report_pdf_for_operator(
            session, assessment_id=assessment_id, paper=paper, cache_dir=cache_dir, lang=lang
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{assessment_id}-{filename}"
    path.write_bytes(body)
    return path


_worker_engine: Engine | None = None


def _worker_init(url: str) -> None:
    global _worker_engine
    from app.db.engine import make_engine

    _worker_engine = make_engine(url, pool_size=1, max_overflow=1)


def _worker_render(
    assessment_id: int, paper: str, out_dir: str, cache_dir: str, lang: str | None = None
) -> tuple[int, str | None, str | None]:
    assert _worker_engine is not None
    try:
        path = write_report(
            _worker_engine,
            assessment_id=assessment_id,
            paper=paper,
            out_dir=Path(out_dir),
            cache_dir=Path(cache_dir),
            lang=lang,
        )
        return assessment_id, str(path), None
    except PeerReadyError as exc:
        return assessment_id, None, exc.message


def render_batch(
    engine: Engine,
    assessment_ids: list[int],
    *,
    paper: str,
    out_dir: Path,
    cache_dir: Path,
    workers: int = BATCH_WORKERS,
    lang: str | None = None,
) -> list[tuple[int, str | None, str | None]]:
    """Reports for many assessments; with more than one, rendered in `workers` processes."""
    if len(assessment_ids) <= 1 or workers <= 1:
        return [
            (
                i,
                str(
                    write_report(
                        engine, assessment_id=i, paper=paper, out_dir=out_dir, cache_dir=cache_dir, lang=lang
                    )
                ),
                None,
            )
            for i in assessment_ids
        ]
    url = engine.url.render_as_string(hide_password=False)
    # "spawn": each worker starts clean, with no inherited database connections or font state.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_worker_init, initargs=(url,)
    ) as pool:
        futures = [
            pool.submit(_worker_render, i, paper, str(out_dir), str(cache_dir), lang) for i in assessment_ids
        ]
        return [future.result() for future in futures]


@click.command("report")
@click.argument("assessment_ids", metavar="[ASSESSMENT_ID]...", type=int, nargs=-1)
@click.option(
    "--portfolio",
    "portfolio_id",
    type=int,
    default=None,
    help="Report on the latest assessment of every site of this portfolio.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports/out"),
    show_default=True,
    help="Folder for the PDF files (not with --job: the job keeps its file).",
)
@click.option("--paper", type=click.Choice(["letter", "a4"]), default="letter", show_default=True)
@click.option(
    "--lang",
    type=click.Choice(LANGUAGES),
    default=None,
    help="Language of the report (default: the instrument's first language).",
)
@click.option(
    "--job",
    "as_job",
    is_flag=True,
    help="Start a background job instead and print its id: one assessment's PDF into the report "
    "cache, or a zip of site reports for several (or --portfolio). Follow it with `peerready jobs show`.",
)
@click.option(
    "--as",
    "as_email",
    default=None,
    metavar="EMAIL",
    help="With --job: the account the job runs as (its access applies; it can download the job "
    "at /jobs/ID). Needed for a zip.",
)
def report(
    assessment_ids: tuple[int, ...],
    portfolio_id: int | None,
    out_dir: Path,
    paper: str,
    lang: str | None,
    as_job: bool,
    as_email: str | None,
) -> None:
    """Write the action-plan PDF of each ASSESSMENT_ID (see `peerready assessments`), or of every
    site of a portfolio with --portfolio. With --job, a worker does it (`peerready worker`)."""
    if bool(assessment_ids) == (portfolio_id is not None):
        raise click.UsageError("Give either ASSESSMENT_ID (one or more) or --portfolio PORTFOLIO_ID.")
    if as_email and not as_job:
        raise click.UsageError("--as goes with --job.")
    from app.db.engine import session_scope
    from app.services.reports import latest_assessment_ids_for_portfolio

    settings = load_settings_or_exit()
    engine = ready_engine(settings)
    started = time.perf_counter()
    try:
        if assessment_ids:
            ids = list(dict.fromkeys(assessment_ids))
        else:
            with session_scope(engine) as session:
                ids = latest_assessment_ids_for_portfolio(session, portfolio_id=portfolio_id)  # type: ignore[arg-type]
            if not ids:
                click.echo(f"Portfolio {portfolio_id} has no site with an assessment; nothing to write.")
                return
        if as_job:
            from app.cli.jobs import start_job

            if len(ids) == 1 and portfolio_id is None:
                params = {"assessment_id": ids[0], "papers": [paper], "lang": lang}
                start_job("report", params, as_email=as_email, person_needed=False)
            else:
                params = {"assessment_ids": ids, "paper": paper, "lang": lang}
                start_job("report_batch", params, as_email=as_email, person_needed=True)
            return
        results = render_batch(
            engine, ids, paper=paper, out_dir=out_dir, cache_dir=settings.report_cache_dir, lang=lang
        )
    except PeerReadyError as exc:
        raise click.ClickException(exc.message) from None
    failed = 0
    for assessment, path, error in results:
        if path:
            click.echo(f"Wrote {path}")
        else:
            failed += 1
            click.echo(f"Assessment {assessment}: {error}", err=True)
    if len(results) > 1:
        click.echo(f"{len(results) - failed} report(s) in {time.perf_counter() - started:.1f} s.")
    if failed:
        raise SystemExit(1)


@click.command("assessments")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def assessments(as_json: bool) -> None:
    """List assessments: id, organization, cycle, status, respondents."""
    from app.db.engine import session_scope
    from app.services.reports import list_assessments

    with session_scope(ready_engine(load_settings_or_exit())) as session:
        rows = list_assessments(session)
    if as_json:
        click.echo(json.dumps([row.as_dict() for row in rows], indent=2))
        return
    if not rows:
        click.echo("No assessments yet.")
        return
    headers = ("ID", "Organization", "Cycle", "Status", "Respondents")
    table = [
        (str(r.id), r.organization, r.cycle, r.status, f"{r.respondents} ({r.submitted} submitted)")
        for r in rows
    ]
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(headers)]
    for row in (headers, *table):
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def register(cli: click.Group) -> None:
    """Add this module's commands to the `peerready` group."""
    cli.add_command(report)
    cli.add_command(assessments)
