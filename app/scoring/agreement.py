"""Agreement and reliability statistics: rwg, rwg(j), awg, awg(j), ICC(1), ICC(2), Cronbach's alpha.

Pure and deterministic: plain data in, plain data out; no web, database or file imports. A
service reads the answers from storage, turns them into raw-scale answers with
`condition_answers` and calls the functions below. Every formula, null, truncation, NA rule and
cut-off is written out in docs/scoring.md ("Agreement and reliability statistics"), and the
results are checked against R's `multilevel` and `psych` packages
(tests/scoring/golden/agreement_golden.json, made by scripts/golden/agreement.R).

Conventions:

* Everything is computed on the RAW scale (the options' scores, e.g. 1-5) after reverse-scoring
  (raw' = max + min - raw). "Don't know", "Not applicable", unanswered and hidden items are
  missing answers, never zeros.
* Arithmetic is exact (`fractions.Fraction`; every float answer is a binary fraction), so a mean
  that sits exactly on awg's bound, or a value exactly on a cut-off, is decided the same way on
  every machine. Only the alpha confidence interval needs floating point (F quantiles).
* A statistic that cannot be computed has `value=None` and a machine-readable `reason`; it is
  never a NaN, and never a number made up to fill the gap.
* Cut-offs are applied to the value rounded half up to two decimals, the way it is reported
  (".70"), so a reader checking by hand reaches the same reading.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Final, Literal

from app.instruments.models import Instrument, Item
from app.scoring.models import ResponseInput
from app.scoring.rules import shown_items

__all__ = [
    "ACCEPTABLE_AGREEMENT",
    "MIN_RESPONDENTS_FOR_ALPHA",
    "MIN_SITES_FOR_ICC",
    "RELIABLE_SITE_MEANS",
    "SMALL_GROUP",
    "AlphaResult",
    "Answers",
    "ConditionAgreement",
    "ConditionAnswers",
    "IccResult",
    "ItemAgreement",
    "Missing",
    "RawScale",
    "Reason",
    "Statistic",
    "agreement",
    "awg",
    "awg_j",
    "condition_answers",
    "cronbach_alpha",
    "f_quantile",
    "icc",
    "raw_scale",
    "rwg",
    "rwg_j",
]

# --- rules (documented in docs/scoring.md) ---------------------------------------------------

#: rwg, rwg(j), awg and awg(j) at or above this are "acceptable" agreement (James et al. 1984;
#: Brown & Hauenstein 2005, who call .60-.69 "reasonable" for awg).
ACCEPTABLE_AGREEMENT: Final = Fraction(70, 100)
REASONABLE_AWG: Final = Fraction(60, 100)
#: ICC(2) at or above this: the site means are reliable enough to compare sites.
RELIABLE_SITE_MEANS: Final = Fraction(70, 100)
#: ICC(1) at or above this: a meaningful share of the variation lies between sites
#: (LeBreton & Senter 2008 call .05 a small-to-medium effect).
SITE_EFFECT: Final = Fraction(5, 100)
#: Agreement indices rest on sample variances: below this many raters they are unstable, and
#: the reading says so (the value is still given).
SMALL_GROUP: Final = 5
#: Default minimum number of sites for ICC(1)/ICC(2), and of complete respondents for alpha.
#: Below them the value is withheld (reason "below_minimum_sites" / "below_minimum_n").
MIN_SITES_FOR_ICC: Final = 5
MIN_RESPONDENTS_FOR_ALPHA: Final = 30
#: Places to which a value is rounded before it is compared with a cut-off.
READING_PLACES: Final = 2

Missing = Literal["available", "listwise"]
"""How rwg(j) and awg(j) treat missing answers.

"available" (PeerReady's rule): each item's variance and mean over the respondents who answered
it; an item enters only with at least 2 answers (J counts those items). "listwise" (R
`multilevel`'s rule, `na.exclude`): only respondents who answered every item count. The two are
identical on complete data.
"""

Reason = Literal[
    "no_answers",  # nobody gave a scored answer
    "too_few_raters",  # fewer than 2 respondents (per item, or complete for listwise)
    "mean_near_scale_end",  # awg: the mean is too close to an end of the scale for k raters
    "too_few_items",  # alpha: fewer than 2 items
    "too_few_respondents",  # alpha: fewer than 2 complete respondents
    "below_minimum_n",  # alpha: fewer complete respondents than the minimum asked for
    "too_few_sites",  # ICC: fewer than 2 sites with respondents
    "below_minimum_sites",  # ICC: fewer sites than the minimum asked for
    "one_respondent_per_site",  # ICC: every site has one respondent (no within-site df)
    "no_variance",  # every answer is the same: the index is 0/0
    "no_between_site_variance",  # ICC(2): MSB = 0, so (MSB - MSW)/MSB divides by zero
]


# --- result types ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Statistic:
    """One index: its value (None when it cannot be computed, with `reason`) and its reading.

    `band` is the machine-readable reading (for templates and translations); `reading` is the
    same in a plain English sentence. `n` is the number of respondents the value rests on, and
    `small_n` is True when that is below SMALL_GROUP (agreement indices only).
    """

    name: str
    value: float | None
    n: int
    reason: Reason | None = None
    band: str | None = None
    reading: str = ""
    small_n: bool = False
    truncated: bool = False  # rwg/rwg(j): the observed variance exceeded the null and was cut to it


@dataclass(frozen=True)
class RawScale:
    """The scored options of a scale: `points` equally spaced scores from `low` to `high`.

    The uniform ("no agreement") null variance is that of a respondent choosing every option
    with the same probability: (A^2 - 1)/12 for steps of 1 (2.0 for 5 points, 4.0 for 7), times
    step^2 for other steps.
    """

    low: float
    high: float
    points: int

    def __post_init__(self) -> None:
        if self.points < 2:
            raise ValueError("a scale needs at least two scored options")
        if not self.high > self.low:
            raise ValueError(f"scale high ({self.high}) must be above low ({self.low})")

    @property
    def step(self) -> Fraction:
        return (Fraction(self.high) - Fraction(self.low)) / (self.points - 1)

    @property
    def null_variance(self) -> Fraction:
        return self.step**2 * Fraction(self.points**2 - 1, 12)


#: One respondent's raw-scale answers (after reverse-scoring): item id -> score. A missing key
#: or None is a missing answer.
Answers = Mapping[str, float | None]


@dataclass(frozen=True)
class ItemAgreement:
    item_id: str
    n: int  # respondents whose answer to this item counts
    mean: float | None
    variance: float | None  # sample variance (n - 1); None when n < 2
    rwg: Statistic
    awg: Statistic


@dataclass(frozen=True)
class ConditionAgreement:
    """rwg(j) and awg(j) for one condition at one site, with the per-item detail."""

    missing: Missing
    null_variance: float
    n_respondents: int  # respondents with at least one counted answer
    n_items: int  # J: items that entered rwg(j) (at least 2 counted answers)
    mean_item_variance: float | None
    items: tuple[ItemAgreement, ...]
    rwg_j: Statistic
    awg_j: Statistic


@dataclass(frozen=True)
class IccResult:
    """ICC(1) and ICC(2) from a one-way ANOVA of respondents nested in sites."""

    icc1: Statistic
    icc2: Statistic
    n_sites: int
    n_respondents: int
    site_sizes: tuple[int, ...]
    mean_site_size: float | None  # N / G, as multilevel::ICC1 uses
    ms_between: float | None
    ms_within: float | None
    df_between: int
    df_within: int
    f: float | None  # MSB / MSW; None when MSW = 0


@dataclass(frozen=True)
class AlphaResult:
    alpha: Statistic
    ci_low: float | None
    ci_high: float | None
    confidence: float
    n_items: int
    n_complete: int  # respondents who answered every item (the ones alpha uses)
    n_incomplete: int  # respondents left out because an answer was missing


@dataclass(frozen=True)
class ConditionAnswers:
    """One condition's answers on the raw scale, ready for the functions of this module.

    `answers[i]` belongs to `respondent_ids[i]` and holds only counted answers (scored, visible,
    reverse-scored); it may be empty. Internal data: never show it, only statistics over at
    least the privacy threshold of respondents.
    """

    domain_id: str
    items: tuple[str, ...]
    scale: RawScale
    respondent_ids: tuple[str, ...]
    answers: tuple[dict[str, float], ...] = field(repr=False)


# --- exact arithmetic helpers ----------------------------------------------------------------


def _exact(value: float | Fraction) -> Fraction:
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    return Fraction(value)


def _integers(values: Sequence[Fraction]) -> tuple[list[int], int]:
    """The values as integers over one common denominator: exact sums at integer speed."""
    denominator = math.lcm(*(v.denominator for v in values)) if values else 1
    return [v.numerator * (denominator // v.denominator) for v in values], denominator


def _int_squares(values: Sequence[int]) -> int:
    """k × Σ(x − mean)² for integers (exact; divide by k to get the sum of squares)."""
    return len(values) * sum(x * x for x in values) - sum(values) ** 2


def _mean(values: Sequence[Fraction]) -> Fraction:
    numerators, denominator = _integers(values)
    return Fraction(sum(numerators), len(values) * denominator)


def _squares(values: Sequence[Fraction]) -> Fraction:
    """Σ(x − mean)², the sum of squared deviations."""
    numerators, denominator = _integers(values)
    return Fraction(_int_squares(numerators), len(values) * denominator**2)


def _variance(values: Sequence[Fraction]) -> Fraction:
    """Sample variance (divide by n - 1), as R's var(); needs n >= 2."""
    return _squares(values) / (len(values) - 1)


def _shown(value: Fraction) -> Fraction:
    """Round half up (away from zero) to READING_PLACES decimals, as the value is reported."""
    scale = 10**READING_PLACES
    magnitude = math.floor(abs(value) * scale + Fraction(1, 2))
    return Fraction(magnitude if value >= 0 else -magnitude, scale)


def _fmt(value: Fraction) -> str:
    return f"{float(_shown(value)):.{READING_PLACES}f}"


def _small_note(n: int) -> str:
    if n < SMALL_GROUP:
        return (
            f" With only {n} respondent{'s' if n != 1 else ''} this index is unstable;"
            f" read it with care (it means little below {SMALL_GROUP})."
        )
    return ""


_AGREEMENT_INDICES: Final = frozenset({"rwg", "rwg_j", "awg", "awg_j"})


def _none(name: str, n: int, reason: Reason, reading: str) -> Statistic:
    small = name in _AGREEMENT_INDICES and n < SMALL_GROUP
    return Statistic(name=name, value=None, n=n, reason=reason, reading=reading, small_n=small)


def _counted(answers: Answers, item_id: str) -> Fraction | None:
    value = answers.get(item_id)
    return None if value is None else _exact(value)


def _check_in_range(value: Fraction, scale: RawScale, item_id: str) -> None:
    if not Fraction(scale.low) <= value <= Fraction(scale.high):
        raise ValueError(f"item {item_id!r}: {float(value)} is outside the scale {scale.low}-{scale.high}")


# --- rwg and rwg(j) --------------------------------------------------------------------------


def _agreement_reading(name: str, value: Fraction, n: int, *, truncated: bool, awg_bands: bool) -> Statistic:
    label = {"rwg": "rwg", "rwg_j": "rwg(j)", "awg": "awg", "awg_j": "awg(j)"}[name]
    shown = _shown(value)
    if shown >= ACCEPTABLE_AGREEMENT:
        band = "acceptable"
        reading = (
            f"Respondents agree: {label} is {_fmt(value)}, at or above the usual .70 line, so the mean"
            " can be read as a shared view."
        )
    elif awg_bands and shown >= REASONABLE_AWG:
        band = "reasonable"
        reading = (
            f"Respondents agree reasonably: {label} is {_fmt(value)}, between .60 and .70; read the mean"
            " as a shared view with some care."
        )
    else:
        band = "unacceptable" if awg_bands else "low"
        reading = (
            f"Respondents do not agree enough: {label} is {_fmt(value)}, below the usual .70 line, so"
            " the mean hides real differences of view."
        )
    if truncated:
        reading += " The answers were as spread out as random answers would be, or more, so the index is 0."
    return Statistic(
        name=name,
        value=float(value),
        n=n,
        band=band,
        reading=reading + _small_note(n),
        small_n=n < SMALL_GROUP,
        truncated=truncated,
    )


def _rwg_item(values: Sequence[Fraction], scale: RawScale) -> Statistic:
    n = len(values)
    if n == 0:
        return _none(
            "rwg", 0, "no_answers", "No one gave a scored answer, so there is no agreement to measure."
        )
    if n < 2:
        return _none("rwg", n, "too_few_raters", "Agreement needs at least 2 respondents.")
    variance, null = _variance(values), scale.null_variance
    value = 1 - min(variance, null) / null
    return _agreement_reading("rwg", value, n, truncated=variance > null, awg_bands=False)


def rwg(values: Iterable[float], scale: RawScale) -> Statistic:
    """rwg for one item (James, Demaree & Wolf 1984), as R `multilevel::rwg`.

    rwg = 1 - S^2 / sigma^2_EU, with S^2 (the sample variance) truncated to sigma^2_EU when it is
    larger, so 0 <= rwg <= 1. None ("too_few_raters") with fewer than 2 answers.
    """
    exact = [_exact(v) for v in values]
    for value in exact:
        _check_in_range(value, scale, "rwg")
    return _rwg_item(exact, scale)


def _columns(
    answers: Sequence[Answers], items: Sequence[str], scale: RawScale, missing: Missing
) -> tuple[dict[str, list[Fraction]], int]:
    """Per item, the counted answers; and the number of respondents who contribute any."""
    if missing not in ("available", "listwise"):
        raise ValueError(f"missing must be 'available' or 'listwise', not {missing!r}")
    if len(set(items)) != len(items):
        raise ValueError("items must not repeat")
    rows: list[dict[str, Fraction]] = []
    for person in answers:
        row: dict[str, Fraction] = {}
        for item_id in items:
            value = _counted(person, item_id)
            if value is not None:
                _check_in_range(value, scale, item_id)
                row[item_id] = value
        rows.append(row)
    if missing == "listwise":
        rows = [row for row in rows if len(row) == len(items)]
    columns = {item_id: [row[item_id] for row in rows if item_id in row] for item_id in items}
    return columns, sum(1 for row in rows if row)


def _rwg_j_from(columns: Mapping[str, Sequence[Fraction]], contributing: int, scale: RawScale) -> Statistic:
    used = [col for col in columns.values() if len(col) >= 2]
    if contributing == 0:
        return _none(
            "rwg_j", 0, "no_answers", "No one gave a scored answer, so there is no agreement to measure."
        )
    if not used:
        return _none(
            "rwg_j",
            contributing,
            "too_few_raters",
            "Agreement needs at least 2 respondents answering an item.",
        )
    j = len(used)
    mean_variance = _mean([_variance(col) for col in used])
    null = scale.null_variance
    truncated = mean_variance > null
    ratio = min(mean_variance, null) / null
    value = j * (1 - ratio) / (j * (1 - ratio) + ratio)
    return _agreement_reading("rwg_j", value, contributing, truncated=truncated, awg_bands=False)


def rwg_j(
    answers: Sequence[Answers], items: Sequence[str], scale: RawScale, *, missing: Missing = "available"
) -> Statistic:
    """rwg(j) for J items (James, Demaree & Wolf 1984), as R `multilevel::rwg.j`.

    rwg(j) = J(1 - S̄²/σ²) / (J(1 - S̄²/σ²) + S̄²/σ²), where S̄² is the mean of the item variances,
    truncated to σ² (the uniform null) when larger, so 0 <= rwg(j) <= 1. See `Missing` for how
    missing answers are handled; `n` counts the respondents who contribute an answer.
    """
    columns, contributing = _columns(answers, items, scale, missing)
    return _rwg_j_from(columns, contributing, scale)


# --- awg and awg(j) --------------------------------------------------------------------------


def _awg_item(values: Sequence[Fraction], scale: RawScale) -> tuple[Statistic, Fraction | None]:
    """awg for one item (Brown & Hauenstein 2005), with R `multilevel::awg`'s NA rules; also the
    exact value, so that awg(j) averages exact numbers."""
    k = len(values)
    if k == 0:
        return _none(
            "awg", 0, "no_answers", "No one gave a scored answer, so there is no agreement to measure."
        ), None
    if k < 2:
        return _none("awg", k, "too_few_raters", "Agreement needs at least 2 respondents."), None
    high, low = Fraction(scale.high), Fraction(scale.low)
    m = _mean(values)
    if m in (high, low):
        # Everyone chose the same end of the scale: perfect agreement (R sets awg = 1 here).
        return _agreement_reading("awg", Fraction(1), k, truncated=False, awg_bands=True), Fraction(1)
    lowest, highest = (low * (k - 1) + high) / k, (high * (k - 1) + low) / k
    if m < lowest or m > highest:
        reading = (
            f"awg cannot be computed: with {k} respondents the mean ({float(m):.2f}) must lie between"
            f" {float(lowest):.2f} and {float(highest):.2f}, because near the end of the scale little"
            " disagreement is possible."
        )
        return _none("awg", k, "mean_near_scale_end", reading), None
    max_variance = ((high + low) * m - m**2 - high * low) * Fraction(k, k - 1)
    value = 1 - 2 * _variance(values) / max_variance
    return _agreement_reading("awg", value, k, truncated=False, awg_bands=True), value


def awg(values: Iterable[float], scale: RawScale) -> Statistic:
    """awg for one item (Brown & Hauenstein 2005), as R `multilevel::awg` on one item.

    awg = 1 - 2S² / ([(H + L)M - M² - HL] · k/(k - 1)), between -1 and 1. None with fewer than 2
    answers ("too_few_raters") or when M < (L(k-1) + H)/k or M > (H(k-1) + L)/k
    ("mean_near_scale_end"); 1 when every answer is H or every answer is L.
    """
    exact = [_exact(v) for v in values]
    for value in exact:
        _check_in_range(value, scale, "awg")
    return _awg_item(exact, scale)[0]


def _awg_j_from(
    exact_values: Sequence[Fraction | None], columns: Mapping[str, Sequence[Fraction]], contributing: int
) -> Statistic:
    defined = [v for v in exact_values if v is not None]
    if contributing == 0:
        return _none(
            "awg_j", 0, "no_answers", "No one gave a scored answer, so there is no agreement to measure."
        )
    if not defined:
        if all(len(col) < 2 for col in columns.values()):
            reading = "Agreement needs at least 2 respondents answering an item."
            return _none("awg_j", contributing, "too_few_raters", reading)
        reading = (
            "awg(j) cannot be computed: on every item the mean is too close to an end of the scale for"
            " the number of respondents (see the items)."
        )
        return _none("awg_j", contributing, "mean_near_scale_end", reading)
    return _agreement_reading("awg_j", _mean(defined), contributing, truncated=False, awg_bands=True)


def awg_j(
    answers: Sequence[Answers], items: Sequence[str], scale: RawScale, *, missing: Missing = "available"
) -> Statistic:
    """awg(j): the mean of the items' awg values that are defined (R: mean(..., na.rm = TRUE))."""
    return agreement(answers, items, scale, missing=missing).awg_j


# --- one condition at one site ---------------------------------------------------------------


def agreement(
    answers: Sequence[Answers], items: Sequence[str], scale: RawScale, *, missing: Missing = "available"
) -> ConditionAgreement:
    """rwg(j), awg(j) and the per-item rwg/awg of one condition at one site.

    `answers` holds one raw-scale mapping per respondent (see `condition_answers`); `items` are
    the condition's scored items in order.
    """
    columns, contributing = _columns(answers, items, scale, missing)
    rows: list[ItemAgreement] = []
    exact_awg: list[Fraction | None] = []
    for item_id in items:
        col = columns[item_id]
        item_awg, exact = _awg_item(col, scale)
        exact_awg.append(exact)
        rows.append(
            ItemAgreement(
                item_id=item_id,
                n=len(col),
                mean=float(_mean(col)) if col else None,
                variance=float(_variance(col)) if len(col) >= 2 else None,
                rwg=_rwg_item(col, scale),
                awg=item_awg,
            )
        )
    used = [col for col in columns.values() if len(col) >= 2]
    mean_variance = _mean([_variance(col) for col in used]) if used else None
    return ConditionAgreement(
        missing=missing,
        null_variance=float(scale.null_variance),
        n_respondents=contributing,
        n_items=len(used),
        mean_item_variance=None if mean_variance is None else float(mean_variance),
        items=tuple(rows),
        rwg_j=_rwg_j_from(columns, contributing, scale),
        awg_j=_awg_j_from(exact_awg, columns, contributing),
    )


# --- ICC(1) and ICC(2) -----------------------------------------------------------------------


def icc(scores_by_site: Mapping[str, Sequence[float]], *, min_sites: int = MIN_SITES_FOR_ICC) -> IccResult:
    """ICC(1) and ICC(2) across sites, as R `multilevel::ICC1`/`ICC2` on `aov(score ~ site)`.

    `scores_by_site` maps each site to its respondents' scores for one condition (e.g. each
    respondent's mean on the raw scale, or the 0-100 condition score: both ICCs are unchanged by
    a linear rescaling). Sites without respondents are ignored; a site of one still counts.

    MSB and MSW come from a one-way ANOVA; k̄ = N/G is the mean site size (multilevel's GSIZE).
    ICC(1) = (MSB - MSW) / (MSB + (k̄ - 1) MSW); ICC(2) = (MSB - MSW) / MSB. Both can be
    negative (no truncation, as in R). Withheld below `min_sites` sites.
    """
    if min_sites < 2:
        raise ValueError("min_sites must be at least 2 (ICC compares sites)")
    groups = {site: [_exact(v) for v in values] for site, values in scores_by_site.items() if len(values) > 0}
    sizes = tuple(len(v) for v in groups.values())
    g, n = len(groups), sum(sizes)
    df_between, df_within = max(g - 1, 0), max(n - g, 0)

    def result(
        icc1: Statistic,
        icc2: Statistic,
        msb: Fraction | None = None,
        msw: Fraction | None = None,
    ) -> IccResult:
        return IccResult(
            icc1=icc1,
            icc2=icc2,
            n_sites=g,
            n_respondents=n,
            site_sizes=sizes,
            mean_site_size=float(Fraction(n, g)) if g else None,
            ms_between=None if msb is None else float(msb),
            ms_within=None if msw is None else float(msw),
            df_between=df_between,
            df_within=df_within,
            f=float(msb / msw) if msb is not None and msw else None,
        )

    def both(reason: Reason, reading: str) -> IccResult:
        return result(_none("icc1", n, reason, reading), _none("icc2", n, reason, reading))

    if g < 2:
        return both("too_few_sites", "ICC compares sites, so it needs respondents from at least 2 sites.")
    if g < min_sites:
        return both(
            "below_minimum_sites",
            f"Only {g} sites have respondents; ICC is shown from {min_sites} sites, because with fewer"
            " sites it says little.",
        )
    if df_within == 0:
        return both(
            "one_respondent_per_site",
            "Every site has a single respondent, so differences within sites cannot be measured.",
        )
    ss_within = sum((_squares(v) for v in groups.values()), Fraction(0))
    ss_between = _squares([v for values in groups.values() for v in values]) - ss_within
    msb, msw = ss_between / df_between, ss_within / df_within
    k_bar = Fraction(n, g)

    if msb == 0 and msw == 0:
        return result(
            _none(
                "icc1",
                n,
                "no_variance",
                "Every respondent gave the same score, so there is nothing to split.",
            ),
            _none(
                "icc2",
                n,
                "no_variance",
                "Every respondent gave the same score, so there is nothing to split.",
            ),
            msb,
            msw,
        )
    icc1_value = (msb - msw) / (msb + (k_bar - 1) * msw)
    icc1 = _icc1_reading(icc1_value, n)
    if msb == 0:
        icc2 = _none(
            "icc2",
            n,
            "no_between_site_variance",
            "All site means are equal, so the reliability of site means cannot be computed.",
        )
    else:
        icc2 = _icc2_reading((msb - msw) / msb, n)
    return result(icc1, icc2, msb, msw)


def _icc1_reading(value: Fraction, n: int) -> Statistic:
    shown = _shown(value)
    if shown <= 0:
        band = "no_site_effect"
        reading = (
            f"ICC(1) is {_fmt(value)}: sites differ no more than chance would make them differ; the"
            " variation lies within sites."
        )
    else:
        percent = f"{float(value * 100):.0f}"
        band = "site_effect" if shown >= SITE_EFFECT else "weak_site_effect"
        reading = (
            f"ICC(1) is {_fmt(value)}: about {percent}% of the variation in scores lies between sites"
            + ("." if shown >= SITE_EFFECT else ", which is small (below .05).")
        )
    return Statistic(name="icc1", value=float(value), n=n, band=band, reading=reading)


def _icc2_reading(value: Fraction, n: int) -> Statistic:
    if _shown(value) >= RELIABLE_SITE_MEANS:
        band = "reliable"
        reading = f"ICC(2) is {_fmt(value)}: site means are reliable enough to compare sites (.70 or more)."
    else:
        band = "unreliable"
        reading = (
            f"ICC(2) is {_fmt(value)}, below .70: differences between site means may be noise; compare"
            " sites with care."
        )
    return Statistic(name="icc2", value=float(value), n=n, band=band, reading=reading)


# --- Cronbach's alpha ------------------------------------------------------------------------


def cronbach_alpha(
    answers: Sequence[Answers],
    items: Sequence[str],
    *,
    min_n: int = MIN_RESPONDENTS_FOR_ALPHA,
    confidence: float = 0.95,
) -> AlphaResult:
    """Cronbach's alpha with Feldt's confidence interval, as R `psych::alpha` (raw_alpha, $feldt).

    alpha = J/(J - 1) · (1 - Σ var(item) / var(total)), over the respondents who answered every
    item (listwise: alpha describes one set of items answered together). Feldt's interval:
    1 - (1 - alpha) · F⁻¹(1 - c/2 ... c/2; n - 1, (n - 1)(J - 1)), with c = 1 - confidence.
    Withheld ("below_minimum_n") with fewer than `min_n` complete respondents.
    """
    if min_n < 2:
        raise ValueError("min_n must be at least 2")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    if len(set(items)) != len(items):
        raise ValueError("items must not repeat")
    j = len(items)
    complete: list[list[Fraction]] = []
    incomplete = 0
    for person in answers:
        row = [_counted(person, item_id) for item_id in items]
        if all(v is not None for v in row):
            complete.append([v for v in row if v is not None])
        elif any(v is not None for v in row):
            incomplete += 1
    n = len(complete)

    def result(alpha: Statistic, low: float | None = None, high: float | None = None) -> AlphaResult:
        return AlphaResult(
            alpha=alpha,
            ci_low=low,
            ci_high=high,
            confidence=confidence,
            n_items=j,
            n_complete=n,
            n_incomplete=incomplete,
        )

    if j < 2:
        return result(_none("alpha", n, "too_few_items", "Alpha needs at least 2 items."))
    if n < 2:
        return result(
            _none(
                "alpha",
                n,
                "too_few_respondents",
                "Alpha needs at least 2 respondents who answered every item.",
            )
        )
    if n < min_n:
        return result(
            _none(
                "alpha",
                n,
                "below_minimum_n",
                f"Only {n} respondents answered every item; alpha is shown from {min_n}, because with fewer"
                " it is too unsteady to judge the items by.",
            )
        )
    # One common denominator for the whole table: item and total variances in integers.
    numerators, _ = _integers([v for row in complete for v in row])
    table = [numerators[r * j : (r + 1) * j] for r in range(n)]
    item_squares = sum(_int_squares([row[i] for row in table]) for i in range(j))
    total_squares = _int_squares([sum(row) for row in table])
    if total_squares == 0:
        return result(
            _none(
                "alpha",
                n,
                "no_variance",
                "Every respondent gave the same total, so alpha is 0/0 and undefined.",
            )
        )
    # The common factors (n, n - 1, denominator²) cancel in the ratio of variances.
    value = Fraction(j, j - 1) * (1 - Fraction(item_squares, total_squares))
    tail = (1 - confidence) / 2
    df1, df2 = n - 1, (n - 1) * (j - 1)
    low = 1 - float(1 - value) * f_quantile(1 - tail, df1, df2)
    high = 1 - float(1 - value) * f_quantile(tail, df1, df2)
    return result(_alpha_reading(value, n, low, high, confidence), low, high)


def _alpha_reading(value: Fraction, n: int, low: float, high: float, confidence: float) -> Statistic:
    shown = _shown(value)
    if shown >= Fraction(90, 100):
        band, words = "high", "high; some items may ask the same thing twice"
    elif shown >= Fraction(80, 100):
        band, words = "good", "good"
    elif shown >= Fraction(70, 100):
        band, words = "acceptable", "acceptable (.70 or more)"
    else:
        band, words = "low", "below the usual .70 line: the items may not measure one thing"
    ci = f"{confidence * 100:g}% interval {low:.2f} to {high:.2f}"
    reading = f"Cronbach's alpha is {_fmt(value)} ({ci}, n = {n}): internal consistency is {words}."
    return Statistic(name="alpha", value=float(value), n=n, band=band, reading=reading)


# --- F quantiles (for Feldt's interval) ------------------------------------------------------

_TINY: Final = 1e-300
_EPS: Final = 1e-15


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz's method)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 100_000):
        m2 = 2 * m
        for numerator in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            delta = d * c
            h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta did not converge (a={a}, b={b}, x={x})")


def _regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularized incomplete beta function."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b


def f_quantile(p: float, df1: float, df2: float) -> float:
    """The p-quantile of the F distribution (R's qf(p, df1, df2)).

    Found by bisection on the regularized incomplete beta function: if X ~ F(d1, d2) then
    d1 X / (d1 X + d2) ~ Beta(d1/2, d2/2). Accurate to about 1e-12 relative; tested against R.
    """
    if not 0.0 < p < 1.0:
        raise ValueError("p must be between 0 and 1")
    if not (df1 > 0 and df2 > 0):
        raise ValueError("degrees of freedom must be positive")
    a, b = df1 / 2.0, df2 / 2.0
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if mid in (lo, hi):
            break
        if _regularized_beta(a, b, mid) < p:
            lo = mid
        else:
            hi = mid
    y = (lo + hi) / 2.0
    return df2 * y / (df1 * (1.0 - y))


# --- from PeerReady's instruments and answers to the raw scale -------------------------------


def raw_scale(instrument: Instrument, item: Item) -> RawScale:
    """The raw scale of a scored item: its scale's lowest and highest score and the number of
    scored options. The uniform null needs equally spaced scores; any other scale is an error."""
    scale = instrument.scale_by_id(item.scale)
    scores = sorted({_exact(o.score) for o in scale.options if o.kind == "scored" and o.score is not None})
    if len(scores) < 2:
        raise ValueError(f"scale {scale.id!r} needs at least two different scored values")
    steps = {b - a for a, b in zip(scores, scores[1:], strict=False)}
    if len(steps) != 1:
        raise ValueError(
            f"scale {scale.id!r}: agreement statistics need equally spaced scores (the uniform null"
            " assumes it); got " + ", ".join(f"{float(s):g}" for s in scores)
        )
    return RawScale(low=float(scores[0]), high=float(scores[-1]), points=len(scores))


def _check_response(instrument: Instrument, response: ResponseInput) -> None:
    who = f"respondent {response.respondent_id!r}"
    if response.asked is not None and not response.group:
        pass  # a research export's row: no group, the items asked are recorded
    elif not instrument.has_group(response.group):
        raise ValueError(f"{who}: unknown respondent group {response.group!r}")
    for item_id, value in response.answers.items():
        if not instrument.has_item(item_id):
            raise ValueError(f"{who}: unknown item {item_id!r}")
        if value and instrument.option(instrument.item_by_id(item_id), value) is None:
            raise ValueError(f"{who}: item {item_id!r}: {value!r} is not an option of its scale")


def condition_answers(
    instrument: Instrument, responses: Sequence[ResponseInput], domain_id: str
) -> ConditionAnswers:
    """One condition's answers on the raw scale, after reverse-scoring, for these responses.

    Only scored answers to items the respondent was shown count (the same visibility rules as
    the scorecard): "Don't know", "Not applicable", unanswered and hidden items are missing. A
    reverse item's answer becomes max + min - score (a 2 on 1-5 becomes 4). Every scored item of
    the condition must share one raw scale. Raises ValueError, like `score_responses`, for an
    unknown group, item or option, and for an unknown condition or one without scored items.
    """
    try:
        instrument.domain_by_id(domain_id)
    except KeyError:
        raise ValueError(f"unknown condition {domain_id!r}") from None
    items = [i for i in instrument.items_in(domain_id) if instrument.is_scored(i)]
    if not items:
        raise ValueError(f"condition {domain_id!r} has no scored items")
    scales = {i.id: raw_scale(instrument, i) for i in items}
    scale = scales[items[0].id]
    if any(s != scale for s in scales.values()):
        raise ValueError(
            f"condition {domain_id!r}: its items use different scales, so their answers cannot be"
            " compared on one raw scale"
        )
    low, high = _exact(scale.low), _exact(scale.high)
    rows: list[dict[str, float]] = []
    for response in responses:
        _check_response(instrument, response)
        shown = {i.id for i in shown_items(instrument, response)}
        row: dict[str, float] = {}
        for item in items:
            value = response.answers.get(item.id)
            if item.id not in shown or not value:
                continue
            option = instrument.option(item, value)
            if option is None or option.kind != "scored" or option.score is None:
                continue
            score = _exact(option.score)
            row[item.id] = float(low + high - score if item.reverse else score)
        rows.append(row)
    return ConditionAnswers(
        domain_id=domain_id,
        items=tuple(i.id for i in items),
        scale=scale,
        respondent_ids=tuple(r.respondent_id for r in responses),
        answers=tuple(rows),
    )
