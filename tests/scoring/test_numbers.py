"""The one number formatter (app/scoring/numbers.py): exact values, one half-up rounding, one way
of writing each kind of number (docs/scoring.md, section 14)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.scoring import numbers
from app.scoring.numbers import (
    csv_rate,
    csv_score,
    difference,
    exact,
    format_percent,
    format_score,
    format_signed,
    mean,
    median,
    round_rate,
    round_score,
    sample_sd,
    score_value,
)


def test_a_float_counts_as_the_decimal_it_was_written_as():
    assert exact(0.1) == Fraction(1, 10)
    assert exact(59.5) == Fraction(119, 2)
    assert exact(Decimal("62.25")) == Fraction(249, 4)
    with pytest.raises(ValueError):
        exact(float("nan"))
    with pytest.raises(TypeError):
        exact(True)


@pytest.mark.parametrize(
    "value, shown",
    [
        (Fraction(125, 2), "62.5"),
        (62.25, "62.3"),
        (81.25, "81.3"),
        (0.05, "0.1"),
        (0.04999, "0.0"),
        (60, "60.0"),
        (0, "0.0"),
        (100, "100.0"),
        (Fraction(200, 3), "66.7"),
        (59.95, "60.0"),
        (59.94999, "59.9"),
    ],
)
def test_scores_round_once_half_up_to_one_decimal(value, shown):
    assert str(round_score(value)) == shown
    assert format_score(value) == shown
    assert csv_score(value) == shown


def test_an_exact_tie_of_a_mean_rounds_up():
    assert format_score(mean([6, 6, 6, 7])) == "6.3"  # 6.25 exactly
    assert format_score(mean([6.1, 6.4])) == "6.3"  # the decimals as written: 6.25


def test_59_5_is_written_59_5_everywhere():
    assert format_score(59.5) == csv_score(59.5) == "59.5"
    assert score_value(Fraction(119, 2)) == 59.5 and repr(score_value(Fraction(119, 2))) == "59.5"


def test_rates_are_three_decimals_shown_as_a_percentage_with_one_decimal():
    assert round_rate(Fraction(2, 15)) == Decimal("0.133")
    assert format_percent(Fraction(2, 15)) == "13.3%"
    assert format_percent(0.25) == "25.0%"
    assert format_percent(Fraction(2495, 10000)) == "25.0%"  # 0.2495 -> 0.250
    assert format_percent(1) == "100.0%"
    assert format_percent(0) == "0.0%"
    assert csv_rate(Fraction(5, 6)) == "0.833"
    assert csv_rate(None) == ""


def test_changes_carry_their_sign():
    assert format_signed(2.5) == "+2.5"
    assert format_signed(-2.5) == "\u22122.5"
    assert format_signed(0) == "0.0"
    assert format_signed(0.04) == "0.0"  # rounds to zero: no sign
    assert csv_score(-2.5) == "-2.5"
    assert difference(47.5, 30.6) == Decimal("16.9")
    assert difference(87.5, 64.6) == Decimal("22.9")


def test_missing_numbers():
    assert format_score(None) == format_percent(None) == format_signed(None) == "\u2013"
    assert format_score(None, missing="-") == "-"
    assert csv_score(None) == ""


def test_sd_of_one_value_is_undefined_and_of_two_is_exact():
    assert sample_sd([50]) is None
    assert sample_sd([]) is None
    assert sample_sd([0, 0]) == Decimal("0.0")
    # sqrt(((0 - 27.5/2)^2 * 2) / 1) = 27.5 / sqrt(2) = 19.445...
    assert sample_sd([0, 27.5]) == Decimal("19.4")


def test_sd_matches_a_high_precision_square_root_on_examples():
    for values in ([1, 2, 3, 4], [0, 10, 10, 30], [12.5, 37.5, 37.5, 62.5, 100]):
        assert sample_sd(values) == _decimal_sd(values)


def _decimal_sd(values):
    return _fraction_sd([Fraction(Decimal(repr(v))) for v in values])


def test_an_sd_that_is_exactly_a_tie_rounds_up():
    # [x - h, x, x + h] has variance h^2, so its SD is exactly h.
    assert sample_sd([50 - 13.75, 50, 50 + 13.75]) == Decimal("13.8")
    assert sample_sd([50 - 13.74, 50, 50 + 13.74]) == Decimal("13.7")
    assert sample_sd([50 - 0.05, 50, 50 + 0.05]) == Decimal("0.1")


@given(st.lists(st.fractions(min_value=0, max_value=100, max_denominator=60), min_size=2, max_size=40))
def test_sd_matches_a_high_precision_decimal_square_root(values):
    assert sample_sd(values) == _fraction_sd(values)


def _fraction_sd(values):
    centre = sum(values) / len(values)
    variance = sum((v - centre) ** 2 for v in values) / (len(values) - 1)
    with localcontext() as context:
        context.prec = 80
        root = (Decimal(variance.numerator) / Decimal(variance.denominator)).sqrt()
    return root.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@given(st.fractions(min_value=-1000, max_value=1000, max_denominator=10_000))
def test_rounding_matches_decimal_half_up(value):
    with localcontext() as context:
        context.prec = 60
        expected = (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_UP
        )
    assert round_score(value) == expected


def test_median_is_exact():
    assert median([59.5, 60.2]) == Fraction(5985, 100)
    assert format_score(median([59.5, 60.2])) == "59.9"  # 59.85 half up; a float round() gives 59.8
    assert median([3, 1, 2]) == 2
    with pytest.raises(ValueError):
        median([])


def test_unknown_locales_are_refused_and_en_variants_accepted():
    assert format_score(59.5, locale="en_US") == format_score(59.5, locale="en-GB") == "59.5"
    with pytest.raises(ValueError, match="available: en"):
        format_score(59.5, locale="xx")
    with pytest.raises(ValueError):
        numbers.number_filters("xx")


def test_template_filters_are_the_formatter():
    filters = numbers.number_filters()
    assert filters["score"](59.5) == "59.5"
    assert filters["pct"](0.133) == "13.3%"
    assert filters["signed"](-1) == "\u22121.0"
