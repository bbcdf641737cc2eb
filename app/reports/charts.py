"""The condition-score chart as SVG markup, drawn by a small pure function (no plotting library).

The chart is a picture of numbers that the report also prints in a table beside it, so it stays
simple: one horizontal bar per condition on a 0-100 axis, with the readiness-level bands shaded
behind the bars and each bar labelled with its score and level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from app.i18n import gettext  # the words, in the language the report is rendered in
from app.scoring.numbers import format_score

# Light tints for the level bands (lowest level first), dark enough bars to read on any of them.
BAND_FILLS = ("#f3e9e4", "#f5f0dc", "#e3efe6", "#dcebf2", "#e8e4f3", "#eeeeee")
BAR_FILL = "#1d5b79"
TEXT_FILL = "#1a1a1a"
MUTED_FILL = "#555555"


@dataclass(frozen=True)
class ChartBar:
    label: str
    score: float | None  # None: no score to show (no data, or withheld for privacy)
    level_label: str | None = None


@dataclass(frozen=True)
class ChartBand:
    label: str
    min: float
    max: float


def _fmt(value: float) -> str:
    """Coordinates with at most two decimals, so the markup is stable and compact."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def condition_chart_svg(
    bars: Sequence[ChartBar],
    bands: Sequence[ChartBand],
    *,
    width: float = 460,
    bar_height: float = 22,
    title: str = "Condition scores",
) -> str:
    """SVG markup for `bars` (0-100 scores) over readiness-level `bands`. Deterministic."""
    label_width = 150.0
    right_pad = 16.0
    top = 24.0  # room for band labels
    row_gap = 14.0
    plot_width = width - label_width - right_pad
    height = top + len(bars) * (bar_height + row_gap) + 26  # + axis labels

    def x_of(value: float) -> float:
        return label_width + plot_width * max(0.0, min(100.0, value)) / 100.0

    plot_bottom = top + len(bars) * (bar_height + row_gap)
    # Outside the f-strings, where the catalog extractor finds them.
    no_score = escape(gettext("No score"))
    axis_label = escape(gettext("Score (0-100)"))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_fmt(width)}" height="{_fmt(height)}" '
        f'viewBox="0 0 {_fmt(width)} {_fmt(height)}" role="img" font-family="DejaVu Sans" font-size="9">',
        f"<title>{escape(title)}</title>",
    ]
    for index, band in enumerate(sorted(bands, key=lambda b: b.min)):
        x0, x1 = x_of(band.min), x_of(band.max)
        fill = BAND_FILLS[index % len(BAND_FILLS)]
        parts.append(
            f'<rect x="{_fmt(x0)}" y="{_fmt(top - 6)}" width="{_fmt(x1 - x0)}" '
            f'height="{_fmt(plot_bottom - top + 6)}" fill="{fill}"/>'
        )
        parts.append(
            f'<text x="{_fmt((x0 + x1) / 2)}" y="{_fmt(top - 10)}" text-anchor="middle" '
            f'fill="{MUTED_FILL}" font-size="7.5">{escape(band.label)}</text>'
        )
    # Axis ticks every 20 points.
    for tick in range(0, 101, 20):
        x = x_of(tick)
        parts.append(
            f'<line x1="{_fmt(x)}" y1="{_fmt(top - 6)}" x2="{_fmt(x)}" y2="{_fmt(plot_bottom + 3)}" '
            f'stroke="#ffffff" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{_fmt(x)}" y="{_fmt(plot_bottom + 13)}" text-anchor="middle" '
            f'fill="{MUTED_FILL}">{tick}</text>'
        )
    for index, bar in enumerate(bars):
        y = top + index * (bar_height + row_gap) + row_gap / 2
        middle = y + bar_height / 2 + 3
        parts.append(
            f'<text x="{_fmt(label_width - 8)}" y="{_fmt(middle)}" text-anchor="end" '
            f'fill="{TEXT_FILL}">{escape(_shorten(bar.label, 30))}</text>'
        )
        if bar.score is None:
            parts.append(
                f'<text x="{_fmt(label_width + 6)}" y="{_fmt(middle)}" fill="{MUTED_FILL}" '
                f'font-style="italic">{no_score}</text>'
            )
            continue
        x_end = x_of(bar.score)
        parts.append(
            f'<rect x="{_fmt(label_width)}" y="{_fmt(y)}" width="{_fmt(max(x_end - label_width, 1.5))}" '
            f'height="{_fmt(bar_height)}" fill="{BAR_FILL}"/>'
        )
        value = format_score(bar.score) + (f" · {bar.level_label}" if bar.level_label else "")
        # The value sits after the bar when there is room, otherwise inside it in white.
        text_width = 5.2 * len(value)
        if x_end + 4 + text_width <= width - 2:
            parts.append(
                f'<text x="{_fmt(x_end + 4)}" y="{_fmt(middle)}" fill="{TEXT_FILL}" '
                f'font-weight="bold">{escape(value)}</text>'
            )
        else:
            parts.append(
                f'<text x="{_fmt(x_end - 4)}" y="{_fmt(middle)}" text-anchor="end" fill="#ffffff" '
                f'font-weight="bold">{escape(value)}</text>'
            )
    parts.append(
        f'<text x="{_fmt(label_width + plot_width / 2)}" y="{_fmt(height - 2)}" text-anchor="middle" '
        f'fill="{MUTED_FILL}" font-size="7.5">{axis_label}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _shorten(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"
