"""`peerready score`: score paper-collected responses (CSV) offline. Layout: docs/csv-layout.md."""

from __future__ import annotations

from pathlib import Path

import click

from app.cli.common import check_language
from app.config import Settings, load_settings_or_exit
from app.instruments.errors import InstrumentInvalid
from app.instruments.models import Instrument
from app.scoring.csv_responses import ResponsesCsvInvalid, parse_responses_csv
from app.scoring.models import DomainResult, Scorecard
from app.scoring.numbers import format_percent, format_score
from app.scoring.reasons import render_reasons
from app.scoring.rules import score_responses

MAX_ERRORS_SHOWN = 50


class _SettingsOnce:
    """The settings, loaded (once) only when the command needs them: scoring a file with an
    explicit --privacy-threshold works even where the instance settings are incomplete."""

    def __init__(self) -> None:
        self._settings: Settings | None = None

    def __call__(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings_or_exit()
        return self._settings


def _load_instrument(ref: str, settings: _SettingsOnce) -> Instrument:
    """A path to a YAML file, or an instrument id looked up in the instruments folder."""
    from app.instruments import catalog

    path = Path(ref)
    if path.is_file() or path.suffix.lower() in (".yaml", ".yml"):
        return catalog.load_file(path).instrument
    folder = settings().instruments_dir
    loaded = catalog.find_instrument(ref, folder)
    if loaded is None:
        raise click.ClickException(
            f"no instrument with id {ref!r} in {folder} (or pass the path to a YAML file)"
        )
    return loaded.instrument


def _fmt(value: float | None) -> str:
    """A score as the pages and the PDF write it ("59.5", "60.0"); "-" for none."""
    return format_score(value, missing="-")


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return lines


def _domain_row(d: DomainResult) -> list[str]:
    score = "withheld" if d.suppressed else _fmt(d.score)
    return [
        d.title,
        score,
        d.level_label or "-",
        str(d.n),
        str(d.n_below_coverage),
        _fmt(d.sd),
        d.agreement or "-",
        format_percent(d.dont_know_rate) + (" !" if d.dont_know_flag else ""),
    ]


def render_text(card: Scorecard) -> str:
    """The scorecard as a plain-text report (what `peerready score` prints)."""
    titles = {d.domain_id: d.title for d in card.domains}
    by_group = ", ".join(f"{g} {n}" for g, n in card.respondents_by_group.items())
    out = [
        f"Instrument {card.instrument_id} {card.instrument_version}: "
        f"{card.n_respondents} respondents ({by_group})",
        f"Privacy threshold: {card.privacy_threshold}",
        "",
        "CONDITIONS",
        *_table(
            ["Condition", "Score", "Level", "n", "Below cov.", "SD", "Agreement", "DK rate"],
            [_domain_row(d) for d in card.domains],
        ),
        '(! = high "Don\'t know" rate; n = respondents with a score; scores 0-100)',
        "",
        "GROUPS",
    ]
    rows = []
    for d in card.domains:
        for g in d.groups:
            label = g.label + (f" ({', '.join(g.pooled_groups)})" if g.pooled_groups else "")
            rows.append([d.title, label, str(g.n), "withheld" if g.suppressed else _fmt(g.score)])
    out += _table(["Condition", "Group", "n", "Score"], rows) if rows else ["(none)"]
    if card.suppressed_groups:
        out.append(
            "Not shown on their own (below the privacy threshold, or pooled with one that is): "
            + ", ".join(card.suppressed_groups)
        )
    out += ["", "PERCEPTION GAPS"]
    gaps = []
    for d in card.domains:
        labels = {g.group: g.label for g in d.groups}
        gaps += [
            f"- {d.title}: {labels[g.higher_group]} {_fmt(g.higher_score)} vs "
            f"{labels[g.lower_group]} {_fmt(g.lower_score)} (gap {_fmt(g.difference)})"
            for g in d.gaps
        ]
    out += gaps or ["(none)"]
    out += ["", "STRENGTHS"]
    out += [f"- {titles[s]} ({_fmt(card.domain(s).score)})" for s in card.strengths] or ["(none)"]
    out += ["", "PRIORITIES"]
    for p in card.priorities:
        out.append(f"- {titles[p]}")
        out += [f"    {reason}" for reason in render_reasons(card.domain(p).priority_reasons)]
    if not card.priorities:
        out.append("(none)")
    out += ["", "RECOMMENDED ACTIONS"]
    for a in card.actions:
        out.append(f"{a.rank}. {a.title} [{titles.get(a.domain_id, a.domain_id)}; {a.timeframe}]")
        out += [f"    because: {reason}" for reason in render_reasons(a.reasons)]
    if not card.actions:
        out.append("(none)")
    return "\n".join(out)


@click.command("score")
@click.option(
    "--instrument", "instrument_ref", required=True, help="Instrument id, or path to its YAML file."
)
@click.argument("responses", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the scorecard as JSON.")
@click.option(
    "--privacy-threshold",
    type=click.IntRange(min=1),
    default=None,
    help="Smallest group shown on its own (default: the instance setting, 3).",
)
@click.option("--lang", default=None, help="Language of titles and labels (default: the instrument's first).")
def score_command(
    instrument_ref: str, responses: Path, as_json: bool, privacy_threshold: int | None, lang: str | None
) -> None:
    """Score paper-collected responses in RESPONSES (CSV; see docs/csv-layout.md)."""
    settings = _SettingsOnce()
    try:
        instrument = _load_instrument(instrument_ref, settings)
    except InstrumentInvalid as error:
        raise click.ClickException(f"the instrument has errors:\n{error}") from None
    except click.ClickException:
        raise
    except Exception as error:  # e.g. an unknown id: say so, without a traceback
        raise click.ClickException(f"cannot load instrument {instrument_ref!r}: {error}") from None
    check_language(lang, instrument.languages, what=f"the languages of instrument {instrument.id}")

    try:
        content = responses.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise click.ClickException(
            f"{responses}: not UTF-8 text; save the spreadsheet as 'CSV UTF-8' and try again"
        ) from None
    except OSError as error:
        raise click.ClickException(f"{responses}: cannot read the file ({error.strerror})") from None

    try:
        parsed = parse_responses_csv(instrument, content, research=True)
    except ResponsesCsvInvalid as invalid:
        lines = [f"{responses}: {e}" for e in invalid.errors[:MAX_ERRORS_SHOWN]]
        if len(invalid.errors) > MAX_ERRORS_SHOWN:
            lines.append(f"... and {len(invalid.errors) - MAX_ERRORS_SHOWN} more errors")
        click.echo("\n".join(lines), err=True)
        click.echo(f"{len(invalid.errors)} error(s); nothing was scored.", err=True)
        raise SystemExit(1) from None

    threshold = privacy_threshold if privacy_threshold is not None else settings().privacy_threshold
    try:
        card = score_responses(
            instrument, parsed, privacy_threshold=threshold, lang=lang or instrument.languages[0]
        )
    except ValueError as error:  # the CSV checks should make this unreachable
        raise click.ClickException(str(error)) from None
    click.echo(card.model_dump_json(indent=2) if as_json else render_text(card))


def register(cli: click.Group) -> None:
    """Add `peerready score` to the `peerready` group."""
    cli.add_command(score_command)
