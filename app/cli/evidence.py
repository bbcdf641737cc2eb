"""`peerready agreement`, `peerready psychometrics` and `peerready export ...`: evidence-grade
results for an administrator at the server (docs/scoring.md, docs/privacy.md)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from app.cli.common import check_language, ready_engine
from app.config import load_settings_or_exit
from app.errors import PeerReadyError
from app.scoring.agreement import MIN_RESPONDENTS_FOR_ALPHA
from app.scoring.numbers import format_score


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return lines


@click.command("agreement")
@click.argument("assessment_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def agreement_command(assessment_id: int, as_json: bool) -> None:
    """Print rwg(j) and awg(j) per condition of ASSESSMENT_ID, beside n, mean and SD."""
    from app.db.engine import session_scope
    from app.services.evidence import assessment_agreement

    settings = load_settings_or_exit()
    try:
        with session_scope(ready_engine(settings)) as session:
            site = assessment_agreement(
                session, assessment_id=assessment_id, privacy_threshold=settings.privacy_threshold
            )
    except PeerReadyError as error:
        raise click.ClickException(error.message) from None
    if as_json:
        document = {
            "assessment": site.assessment.id,
            "organization": site.organization,
            "cycle": site.assessment.name,
            "instrument": site.instrument.id,
            "instrument_version": site.instrument.version,
            "respondents": site.n_respondents,
            "null": "uniform",
            "missing": "available",
            "conditions": [row.as_dict() for row in site.rows],
        }
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    lines = [
        f"Assessment {site.assessment.id}: {site.organization}, {site.assessment.name}"
        f" ({site.instrument.id} {site.instrument.version}; {site.n_respondents} submitted responses)",
        "rwg(j) with the uniform null and awg(j), on the raw answers after reverse-scoring;"
        ' "Don\'t know" and N/A left out.',
        "",
        *_table(
            ["Condition", "n", "Mean", "SD", "Raters", "Items", "rwg(j)", "awg(j)"],
            [
                [
                    row.title,
                    str(row.n),
                    format_score(row.mean, missing="-"),
                    format_score(row.sd, missing="-"),
                    "-" if row.raters is None else str(row.raters),
                    "-" if row.items is None else str(row.items),
                    row.rwg_j.shown if row.rwg_j.value is not None else "-",
                    row.awg_j.shown if row.awg_j.value is not None else "-",
                ]
                for row in site.rows
            ],
        ),
        "",
    ]
    for row in site.rows:
        lines.append(f"{row.title}:")
        lines.append(f"  rwg(j): {row.rwg_j.reading}")
        lines.append(f"  awg(j): {row.awg_j.reading}")
    click.echo("\n".join(lines))


@click.command("psychometrics")
@click.argument("instrument_id")
@click.option(
    "--min-n",
    type=click.IntRange(min=2),
    default=MIN_RESPONDENTS_FOR_ALPHA,
    show_default=True,
    help="Fewest respondents who answered every item of a condition for alpha to be shown.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def psychometrics_command(instrument_id: str, min_n: int, as_json: bool) -> None:
    """Print Cronbach's alpha with its 95% CI per condition of INSTRUMENT_ID, for each stored
    version, pooled across all assessments pinned to it."""
    from app.db.engine import session_scope
    from app.services.evidence import instrument_psychometrics

    settings = load_settings_or_exit()
    try:
        with session_scope(ready_engine(settings)) as session:
            found = instrument_psychometrics(session, instrument_id=instrument_id, min_n=min_n)
    except PeerReadyError as error:
        raise click.ClickException(error.message) from None
    if as_json:
        document = [
            {
                "instrument": v.instrument.id,
                "version": v.version.version,
                "content_hash": v.version.content_hash,
                "assessments": v.n_assessments,
                "respondents": v.n_respondents,
                "min_n": v.min_n,
                "conditions": [row.as_dict() for row in v.rows],
            }
            for v in found
        ]
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    lines: list[str] = []
    for v in found:
        lines += [
            f"{v.instrument.id} {v.version.version} (snapshot {v.version.content_hash[:12]}):"
            f" {v.n_assessments} assessments, {v.n_respondents} submitted responses; alpha from"
            f" {v.min_n} complete respondents",
            *_table(
                ["Condition", "Common items", "Reversed", "Complete", "Alpha", "95% CI"],
                [
                    [
                        row.title,
                        str(len(row.items)),
                        str(len(row.reverse_items)),
                        str(row.n_complete),
                        row.alpha.shown if row.alpha.value is not None else "-",
                        row.ci_shown if row.alpha.value is not None else "-",
                    ]
                    for row in v.rows
                ],
            ),
        ]
        lines += [f"  {row.title}: {row.alpha.reading}" for row in v.rows]
        lines.append("")
    click.echo("\n".join(lines).rstrip())


@click.group("export")
def export_group() -> None:
    """Write data for researchers and other tools (docs/privacy.md, docs/interoperability.md)."""


@export_group.command("responses")
@click.argument("assessment_id", type=int)
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
def export_responses(assessment_id: int, out: Path, fmt: str) -> None:
    """Write the research file of ASSESSMENT_ID: respondent x item raw answers in random order,
    with a codebook (csv: FILE, FILE-codebook.csv and FILE-notes.csv; xlsx: one workbook)."""
    from app.db.engine import session_scope
    from app.scoring.research import research_csv, research_xlsx
    from app.services.evidence import research_export

    settings = load_settings_or_exit()
    try:
        with session_scope(ready_engine(settings)) as session:
            export = research_export(
                session,
                assessment_id=assessment_id,
                privacy_threshold=settings.privacy_threshold,
                actor="command line",
            )
    except PeerReadyError as error:
        raise click.ClickException(error.message) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "xlsx":
        out.write_bytes(research_xlsx(export.table, export.instrument))
        click.echo(f"Wrote {out} ({len(export.table.rows)} respondents; sheets responses, codebook, notes)")
        return
    responses, codebook, notes = research_csv(export.table, export.instrument)
    codebook_path = out.with_name(f"{out.stem}-codebook.csv")
    notes_path = out.with_name(f"{out.stem}-notes.csv")
    out.write_bytes(responses)
    codebook_path.write_bytes(codebook)
    notes_path.write_bytes(notes)
    click.echo(f"Wrote {out} ({len(export.table.rows)} respondents), {codebook_path} and {notes_path}")


def _instrument(ref: str):
    from app.cli.scoring import _load_instrument, _SettingsOnce
    from app.instruments.errors import InstrumentInvalid

    try:
        return _load_instrument(ref, _SettingsOnce())
    except InstrumentInvalid as error:
        raise click.ClickException(f"the instrument has errors:\n{error}") from None


def _write(out: Path | None, body: bytes) -> None:
    if out is None:
        click.echo(body.decode("utf-8"), nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(body)
    click.echo(f"Wrote {out}", err=True)


@export_group.command("fhir")
@click.argument("instrument_ref", metavar="INSTRUMENT_ID")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="File (default: print)."
)
@click.option("--lang", default=None, help="Language of the texts (default: the instrument's first).")
@click.option(
    "--responses",
    "assessment_id",
    type=int,
    default=None,
    metavar="ASSESSMENT_ID",
    help="Write the cycle's responses as a Bundle of QuestionnaireResponses instead"
    " (needs research sharing; docs/privacy.md).",
)
def export_fhir(instrument_ref: str, out: Path | None, lang: str | None, assessment_id: int | None) -> None:
    """Write INSTRUMENT_ID (an id in the instruments folder, or a YAML path) as an HL7 FHIR R4
    Questionnaire (JSON), validated with the fhir.resources R4B models. With --responses, write
    the answers of that assessment (which must use INSTRUMENT_ID) as a Bundle of
    QuestionnaireResponses to the Questionnaire of the version the cycle is pinned to."""
    from app.instruments.interop import NotExpressible, fhir_questionnaire

    if assessment_id is not None:
        _export_fhir_responses(instrument_ref, assessment_id, out, lang)
        return
    instrument = _instrument(instrument_ref)
    check_language(lang, instrument.languages, what=f"the languages of instrument {instrument.id}")
    try:
        resource = fhir_questionnaire(instrument, lang=lang)
    except NotExpressible as error:
        raise click.ClickException(f"cannot be written as FHIR: {error}") from None
    _write(out, (json.dumps(resource, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def _export_fhir_responses(
    instrument_ref: str, assessment_id: int, out: Path | None, lang: str | None
) -> None:
    from app.db.engine import session_scope
    from app.instruments.interop import fhir_response_bundle, questionnaire_canonical
    from app.services.evidence import research_export

    expected = _instrument(instrument_ref)
    check_language(lang, expected.languages, what=f"the languages of instrument {expected.id}")
    settings = load_settings_or_exit()
    try:
        with session_scope(ready_engine(settings)) as session:
            export = research_export(
                session,
                assessment_id=assessment_id,
                privacy_threshold=settings.privacy_threshold,
                actor="command line",
                fmt="fhir",
            )
            if export.instrument.id != expected.id:
                raise click.ClickException(
                    f"assessment {assessment_id} uses instrument {export.instrument.id}, not {expected.id}"
                )
            # The cycle's pinned version may lack a language the instruments folder has now.
            check_language(
                lang,
                export.instrument.languages,
                what=f"the languages of version {export.instrument.version} the cycle is pinned to",
            )
            bundle = fhir_response_bundle(export.instrument, export.table, lang=lang)
    except PeerReadyError as error:
        raise click.ClickException(error.message) from None
    _write(out, (json.dumps(bundle, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    click.echo(
        f"{len(bundle['entry'])} QuestionnaireResponses to {questionnaire_canonical(export.instrument)}",
        err=True,
    )
    if expected.version != export.instrument.version:
        click.echo(
            f"Note: the cycle is pinned to version {export.instrument.version}; the instruments folder"
            f" now has {expected.version}, so `peerready export fhir {expected.id}` writes another version.",
            err=True,
        )


@export_group.command("redcap")
@click.argument("instrument_ref", metavar="INSTRUMENT_ID")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="File (default: print)."
)
@click.option("--lang", default=None, help="Language of the texts (default: the instrument's first).")
def export_redcap(instrument_ref: str, out: Path | None, lang: str | None) -> None:
    """Write INSTRUMENT_ID as a REDCap data dictionary (CSV)."""
    from app.instruments.interop import NotExpressible, redcap_dictionary

    instrument = _instrument(instrument_ref)
    check_language(lang, instrument.languages, what=f"the languages of instrument {instrument.id}")
    try:
        body = redcap_dictionary(instrument, lang=lang)
    except NotExpressible as error:
        raise click.ClickException(f"cannot be written as a REDCap data dictionary: {error}") from None
    _write(out, body)


def register(cli: click.Group) -> None:
    """Add this module's commands to the `peerready` group."""
    cli.add_command(agreement_command)
    cli.add_command(psychometrics_command)
    cli.add_command(export_group)
