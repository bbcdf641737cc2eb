"""The one number formatter: how every number PeerReady shows is computed, rounded and written.

The web pages, the PDF reports, the portfolio page, exports and API, the reason sentences and the
CLI all go through this module, so they print the same string for the same number. The rules are
written out in docs/scoring.md ("How numbers are shown"):

* Exact arithmetic from the answers to the shown value: item values, means, variances, medians
  and differences are `Fraction`s (a float read from a file counts as the decimal it was written
  as: 0.1 is one tenth). No binary float is ever rounded.
* Round ONCE, half up (ties away from zero; every score is 0 or more, so that is "up"):
  - scores, item means, SD, min, max, group scores, gaps, changes and medians: one decimal;
  - rates between 0 and 1 (the "Don't know" rate, response rates): three decimals, which is a
    percentage with one decimal.
* Always one decimal, also for whole numbers: "60.0", never "60"; "25.0%", never "25%". The
  instrument's thresholds (60 for priorities, 0.25 for the "Don't know" flag...) are written the
  same way, so "scored 59.5, below the priority line of 60.0" compares like with like.
* Every threshold is compared with the SHOWN (rounded) value (see `app.scoring.rules`).
* Formatting takes a locale. The number is rounded here first; a locale only chooses the
  symbols, read from Babel's CLDR data. (Babel's own formatting rounds half-even: 62.25 would
  become "62.2". It is never handed a number; only its symbols are used.)

Pure: no web, database or I/O imports.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.numbers import get_decimal_symbol, get_plus_sign_symbol

__all__ = [
    "DEFAULT_LOCALE",
    "INDEX_PLACES",
    "MISSING",
    "RATE_PLACES",
    "SCORE_PLACES",
    "Number",
    "csv_rate",
    "csv_score",
    "difference",
    "exact",
    "format_index",
    "format_percent",
    "format_score",
    "format_signed",
    "mean",
    "median",
    "number_filters",
    "rate_value",
    "round_half_up",
    "round_rate",
    "round_score",
    "sample_sd",
    "score_value",
]

Number = int | float | Decimal | Fraction

SCORE_PLACES = 1  # scores, means, SD, min, max, gaps, changes: 62.25 -> 62.3
RATE_PLACES = 3  # rates 0-1: 2/15 -> 0.133, shown as 13.3%
INDEX_PLACES = 2  # agreement and reliability indices (rwg(j), awg(j), ICC, alpha): 0.834 -> 0.83
MISSING = "–"  # what a page or the PDF prints for "no number" (en dash)
DEFAULT_LOCALE = "en"


# --- exact values and rounding ----------------------------------------------------------------


def exact(value: Number) -> Fraction:
    """`value` as an exact fraction. A float counts as the decimal it was written as (its shortest
    repr): 0.1 is 1/10, not 0.1000000000000000055..., and 59.5 is 119/2."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number here")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"not a finite number: {value}")
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value}")
        return _exact_float(value)
    raise TypeError(f"not a number: {value!r}")


# Stored scores and rates are floats from a small set (0.0-100.0 in tenths, rates in thousandths):
# a portfolio of 5,000 sites converts the same few thousand values over and over. Both results
# are immutable, so the memo is safe; it is bounded.
@functools.lru_cache(maxsize=1 << 16)
def _exact_float(value: float) -> Fraction:
    return Fraction(Decimal(repr(value)))


@functools.lru_cache(maxsize=1 << 16)
def _round_float(value: float, places: int) -> Decimal:
    return _round_exact(_exact_float(value), places)


def round_half_up(value: Number, places: int) -> Decimal:
    """`value` rounded once, exactly, to `places` decimals; ties away from zero (62.25 -> 62.3).

    The result has exactly `places` decimals (60 -> Decimal("60.0") for one place)."""
    if type(value) is float and math.isfinite(value):
        return _round_float(value, places)
    return _round_exact(exact(value), places)


def _round_exact(fraction: Fraction, places: int) -> Decimal:
    units = math.floor(abs(fraction) * 10**places + Fraction(1, 2))
    return Decimal(-units if fraction < 0 else units).scaleb(-places)


def round_score(value: Number) -> Decimal:
    """A score-like number as shown: one decimal, half up."""
    return round_half_up(value, SCORE_PLACES)


def round_rate(value: Number) -> Decimal:
    """A rate (0-1) as shown: three decimals, half up (a percentage with one decimal)."""
    return round_half_up(value, RATE_PLACES)


def score_value(value: Number) -> float:
    """The shown score as the float a scorecard stores. Its repr is the shown number ("59.5")."""
    return float(round_score(value))


def rate_value(value: Number) -> float:
    """The shown rate as the float a scorecard stores ("0.133")."""
    return float(round_rate(value))


def difference(higher: Number, lower: Number) -> Decimal:
    """`higher - lower`, exactly, as shown (one decimal). Used on shown values, so it is what a
    reader gets by subtracting the two printed numbers."""
    return round_score(exact(higher) - exact(lower))


# --- statistics, exactly ---------------------------------------------------------------------


def mean(values: Sequence[Number]) -> Fraction:
    """The exact arithmetic mean. Raises ValueError for no values."""
    if not values:
        raise ValueError("the mean of no values")
    numerators, denominator = _over_common_denominator(values)
    return Fraction(sum(numerators), denominator * len(numerators))


def _over_common_denominator(values: Sequence[Number]) -> tuple[list[int], int]:
    """Integers a_i and one D with value_i = a_i / D: sums of integers are much faster than
    adding Fractions one by one (each addition reduces by a gcd)."""
    fractions = [exact(v) for v in values]
    denominator = math.lcm(*(f.denominator for f in fractions))
    return [f.numerator * (denominator // f.denominator) for f in fractions], denominator


def median(values: Sequence[Number]) -> Fraction:
    """The exact median (the mean of the two middle values for an even count)."""
    if not values:
        raise ValueError("the median of no values")
    ordered = sorted(exact(v) for v in values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def sample_sd(values: Sequence[Number]) -> Decimal | None:
    """The sample standard deviation (dividing by n - 1), as shown: one decimal, half up. None
    for fewer than two values (a spread of one value is not defined).

    The variance is exact (a Fraction). Its square root is rounded half up without ever being
    approximated: the shown value k/10 is the largest k with k - 1/2 <= 10 * sqrt(variance), that
    is (2k - 1)^2 <= 400 * variance, which integer square roots decide exactly. So an SD that is
    exactly 13.75 shows as 13.8, and one a hair below it as 13.7, with no double rounding.
    """
    n = len(values)
    if n < 2:
        return None
    # With value_i = a_i / D: sum((x - mean)^2) = (n * sum(a^2) - sum(a)^2) / (n * D^2).
    numerators, denominator = _over_common_denominator(values)
    total = sum(numerators)
    spread = n * sum(a * a for a in numerators) - total * total
    variance = Fraction(spread, n * (n - 1) * denominator * denominator)
    return _sqrt_half_up(variance, SCORE_PLACES)


def _sqrt_half_up(value: Fraction, places: int) -> Decimal:
    if value < 0:
        raise ValueError("the square root of a negative number")
    bound = 4 * 10 ** (2 * places) * value
    # floor(sqrt(x)) == isqrt(floor(x)) for x >= 0
    root = math.isqrt(bound.numerator // bound.denominator)
    odd = root if root % 2 else root - 1  # the largest odd m <= sqrt(bound), or -1
    return Decimal((odd + 1) // 2).scaleb(-places)


# --- writing numbers --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Symbols:
    decimal: str
    minus: str
    plus: str
    percent: str  # pattern around the number


# The languages numbers are written in, and the CLDR locale each uses when no territory is
# given. PeerReady serves US agencies: Spanish is written as in the United States (es_US), which
# uses a decimal point; a full locale such as "es_ES" gets its own symbols ("62,3").
BABEL_LOCALES = {"en": "en_US", "es": "es_US"}


@lru_cache(maxsize=32)
def _symbols(locale: str) -> _Symbols:
    """The symbols of a locale, from Babel's CLDR data. Only the symbols: Babel's own formatting
    rounds half-even, so it never sees a number (see the module docstring)."""
    parts = locale.replace("-", "_").split("_")
    language = parts[0].lower()
    if language not in BABEL_LOCALES:
        available = ", ".join(sorted(BABEL_LOCALES))
        raise ValueError(f"no number format for locale {locale!r} (available: {available})")
    babel_locale = (
        f"{language}_{parts[1].upper()}" if len(parts) > 1 and parts[1] else BABEL_LOCALES[language]
    )
    try:
        cldr = Locale.parse(babel_locale)
    except (UnknownLocaleError, ValueError):
        cldr = Locale.parse(BABEL_LOCALES[language])
    percent = cldr.percent_formats[None].pattern.replace("#,##0", "{}").replace("#,#0", "{}")
    return _Symbols(
        decimal=get_decimal_symbol(cldr),
        # A true minus sign in every language (typography; CLDR's is the hyphen-minus).
        minus="\u2212",
        plus=get_plus_sign_symbol(cldr),
        percent=percent if "{}" in percent else "{}%",
    )


def _write(rounded: Decimal, symbols: _Symbols) -> str:
    """An already-rounded Decimal in a locale's symbols, with no further rounding."""
    digits = format(abs(rounded), "f").replace(".", symbols.decimal)
    return symbols.minus + digits if rounded < 0 else digits


def format_score(value: Number | None, *, locale: str = DEFAULT_LOCALE, missing: str = MISSING) -> str:
    """A score-like number as shown: "59.5", "60.0"; `missing` ("–") for None."""
    if value is None:
        return missing
    return _write(round_score(value), _symbols(locale))


def format_signed(value: Number | None, *, locale: str = DEFAULT_LOCALE, missing: str = MISSING) -> str:
    """A change in points, always with its sign: "+2.5", "−2.5" (minus sign), "0.0"."""
    if value is None:
        return missing
    rounded = round_score(value)
    symbols = _symbols(locale)
    written = _write(rounded, symbols)
    return symbols.plus + written if rounded > 0 else written


def format_percent(rate: Number | None, *, locale: str = DEFAULT_LOCALE, missing: str = MISSING) -> str:
    """A rate (0-1) as a percentage with one decimal: 2/15 -> "13.3%", 0.25 -> "25.0%"."""
    if rate is None:
        return missing
    symbols = _symbols(locale)
    return symbols.percent.format(_write(round_rate(rate).scaleb(2), symbols))


def format_index(value: Number | None, *, locale: str = DEFAULT_LOCALE, missing: str = MISSING) -> str:
    """An agreement or reliability index (rwg(j), awg(j), ICC, alpha) as shown: two decimals,
    half up, with the leading zero: "0.83", "−0.12" (minus sign), "1.00"."""
    if value is None:
        return missing
    return _write(round_half_up(value, INDEX_PLACES), _symbols(locale))


def csv_score(value: Number | None) -> str:
    """A score in a CSV cell: the same digits as the page ("59.5", "60.0"), always with a point
    and an ASCII minus whatever the page's language, so spreadsheets read it as a number; ""
    for None."""
    return "" if value is None else format(round_score(value), "f")


def csv_rate(value: Number | None) -> str:
    """A rate (0-1) in a CSV cell: three decimals ("0.133"); "" for None."""
    return "" if value is None else format(round_rate(value), "f")


def number_filters(locale: str = DEFAULT_LOCALE) -> dict[str, Callable[..., str]]:
    """The template filters every Jinja environment registers: `score`, `pct`, `signed`, `index`."""
    _symbols(locale)  # refuse an unknown locale now, not at the first render

    def score(value: Number | None) -> str:
        return format_score(value, locale=locale)

    def pct(value: Number | None) -> str:
        return format_percent(value, locale=locale)

    def signed(value: Number | None) -> str:
        return format_signed(value, locale=locale)

    def index(value: Number | None) -> str:
        return format_index(value, locale=locale)

    return {"score": score, "pct": pct, "signed": signed, "index": index}
