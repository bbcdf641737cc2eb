"""Agreement and reliability statistics (app/scoring/agreement.py).

* Golden values: every data set of tests/scoring/golden/agreement_golden.json (written by
  scripts/golden/agreement.R with R `multilevel` and `psych`) goes through PeerReady's own path,
  instrument answers -> `condition_answers` -> statistics, and must match R to 3 decimals.
  Missing answers in the golden data become "Don't know", "Not applicable", blank or absent in
  turn, so the golden tests also prove those answers are left out.
* Edge cases, readings at the cut-offs, the instrument helper, and properties (bounds,
  invariance to respondent order and to mirroring the scale).
* docs/scoring.md's agreement worked example, read from the document and recomputed.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from fractions import Fraction
from pathlib import Path
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from scoring_support import AGREE5, SCORING_MD, YESNO, fenced_blocks, item, make_instrument

from app.instruments.models import Instrument
from app.scoring import ResponseInput
from app.scoring.agreement import (
    MIN_RESPONDENTS_FOR_ALPHA,
    MIN_SITES_FOR_ICC,
    RawScale,
    Reason,
    _regularized_beta,
    agreement,
    awg,
    awg_j,
    condition_answers,
    cronbach_alpha,
    f_quantile,
    icc,
    raw_scale,
    rwg,
    rwg_j,
)

GOLDEN = json.loads((Path(__file__).parent / "golden" / "agreement_golden.json").read_text(encoding="utf-8"))
DATASETS = {d["name"]: d for d in GOLDEN["datasets"]}
# "To 3 decimals": the difference is below half a unit in the third decimal.
TOLERANCE = 0.0005
FIVE = RawScale(low=1, high=5, points=5)

PROPERTIES = settings(
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=os.environ.get("CI") == "true",
)


def close(got: float | None, want: float | None) -> bool:
    if got is None or want is None:
        return got is None and want is None
    return abs(got - want) < TOLERANCE


# --- golden data sets, through the instrument path -------------------------------------------


def golden_instrument(dataset: dict[str, Any]) -> Instrument:
    points = dataset["scale"]["points"]
    scale = {
        "id": "golden",
        "options": [
            *({"value": str(n), "label": str(n), "score": n} for n in range(1, points + 1)),
            {"value": "DK", "label": "Don't know", "kind": "dont_know"},
            {"value": "NA", "label": "Not applicable", "kind": "not_applicable"},
        ],
    }
    items = [
        item(item_id, domain="d", scale="golden", reverse=item_id in dataset["reverse"])
        for item_id in dataset["items"]
    ]
    return make_instrument(items, domains=("d",), groups=("staff",), scales=[scale])


def golden_responses(dataset: dict[str, Any]) -> dict[str, list[ResponseInput]]:
    """Responses per site; R's NA becomes "Don't know", "Not applicable", blank or no key in turn."""
    by_site: dict[str, list[ResponseInput]] = {}
    holes = 0
    for number, row in enumerate(dataset["rows"]):
        answers: dict[str, str] = {}
        for item_id, value in row["answers"].items():
            if value is not None:
                answers[item_id] = str(int(value))
                continue
            stand_in = ("DK", "NA", "", None)[holes % 4]
            holes += 1
            if stand_in is not None:
                answers[item_id] = stand_in
        response = ResponseInput(respondent_id=f"r{number}", group="staff", answers=answers)
        by_site.setdefault(row["site"], []).append(response)
    return by_site


def golden_cases() -> list[tuple[str, str]]:
    return [(d["name"], site) for d in GOLDEN["datasets"] for site in d["sites"]]


def site_answers(name: str, site: str):
    dataset = DATASETS[name]
    instrument = golden_instrument(dataset)
    return condition_answers(instrument, golden_responses(dataset)[site], "d")


def test_golden_file_names_its_makers():
    assert GOLDEN["generated_by"] == "scripts/golden/agreement.R"
    assert GOLDEN["multilevel_version"] and GOLDEN["psych_version"]
    assert {d["scale"]["points"] for d in GOLDEN["datasets"]} == {5, 7}


@pytest.mark.parametrize("name", list(DATASETS))
def test_golden_csv_holds_the_same_input(name):
    """The CSV copy of each input (for R users) is the data the JSON holds."""
    dataset = DATASETS[name]
    path = Path(__file__).parent / "golden" / f"agreement_{name}.csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    as_json = [
        {"site": r["site"], **{i: None if v is None else int(v) for i, v in r["answers"].items()}}
        for r in dataset["rows"]
    ]
    as_csv = [
        {"site": r["site"], **{i: None if r[i] == "NA" else int(r[i]) for i in dataset["items"]}}
        for r in rows
    ]
    assert as_csv == as_json


@pytest.mark.parametrize("missing", ["available", "listwise"])
@pytest.mark.parametrize(("name", "site"), golden_cases(), ids=lambda v: v)
def test_rwg_j_and_awg_j_match_r(name, site, missing):
    data = site_answers(name, site)
    want = DATASETS[name]["sites"][site][missing]
    assert data.scale.null_variance == DATASETS[name]["scale"]["null_variance"]
    result = agreement(data.answers, data.items, data.scale, missing=missing)
    assert close(result.rwg_j.value, want["rwg_j"]), (result.rwg_j, want)
    assert close(result.awg_j.value, want["awg_j"]), (result.awg_j, want)
    # The one-index functions give the same as the condition summary.
    assert rwg_j(data.answers, data.items, data.scale, missing=missing) == result.rwg_j
    assert awg_j(data.answers, data.items, data.scale, missing=missing) == result.awg_j


@pytest.mark.parametrize(("name", "site"), golden_cases(), ids=lambda v: v)
def test_item_rwg_and_awg_match_r(name, site):
    data = site_answers(name, site)
    want = DATASETS[name]["sites"][site]
    result = agreement(data.answers, data.items, data.scale)
    for row in result.items:
        assert close(row.rwg.value, want["rwg"][row.item_id]), (row.item_id, row.rwg, want["rwg"])
        assert close(row.awg.value, want["awg"][row.item_id]), (row.item_id, row.awg, want["awg"])
        values = [a[row.item_id] for a in data.answers if row.item_id in a]
        assert rwg(values, data.scale) == row.rwg
        assert awg(values, data.scale) == row.awg


def respondent_means(name: str) -> dict[str, list[float]]:
    dataset = DATASETS[name]
    instrument = golden_instrument(dataset)
    means: dict[str, list[float]] = {}
    for site, responses in golden_responses(dataset).items():
        data = condition_answers(instrument, responses, "d")
        means[site] = [sum(a.values()) / len(a) for a in data.answers if a]
    return means


@pytest.mark.parametrize("name", [d["name"] for d in GOLDEN["datasets"] if d["icc"]])
def test_icc_matches_r(name):
    want = DATASETS[name]["icc"]
    result = icc(respondent_means(name), min_sites=2)
    assert close(result.icc1.value, want["icc1"]), (result.icc1, want)
    assert close(result.icc2.value, want["icc2"]), (result.icc2, want)
    assert close(result.ms_between, want["ms_between"])
    assert close(result.ms_within, want["ms_within"])
    assert close(result.mean_site_size, want["mean_group_size"])
    assert (result.df_between, result.df_within) == (want["df_between"], want["df_within"])
    assert close(result.f, want["f"])


@pytest.mark.parametrize("name", [d["name"] for d in GOLDEN["datasets"] if d["alpha"]])
def test_alpha_and_feldt_interval_match_r(name):
    want = DATASETS[name]["alpha"]
    dataset = DATASETS[name]
    instrument = golden_instrument(dataset)
    responses = [r for rs in golden_responses(dataset).values() for r in rs]
    data = condition_answers(instrument, responses, "d")
    result = cronbach_alpha(data.answers, data.items, min_n=2)
    assert (result.n_complete, result.n_items) == (want["n"], want["k"])
    assert close(result.alpha.value, want["raw_alpha"]), (result.alpha, want)
    assert close(result.ci_low, want["lower"])
    assert close(result.ci_high, want["upper"])


@pytest.mark.parametrize("case", GOLDEN["f_quantiles"], ids=lambda c: f"p{c['p']}-{c['df1']}-{c['df2']}")
def test_f_quantile_matches_r(case):
    assert f_quantile(case["p"], case["df1"], case["df2"]) == pytest.approx(case["q"], rel=1e-10)


def test_the_whole_golden_file_agrees_far_beyond_three_decimals():
    """The largest difference from R over every golden number (exact arithmetic: ~1e-14)."""
    worst = 0.0
    for name, site in golden_cases():
        data = site_answers(name, site)
        want = DATASETS[name]["sites"][site]
        for missing in ("available", "listwise"):
            result = agreement(data.answers, data.items, data.scale, missing=missing)
            for got, expected in (
                (result.rwg_j.value, want[missing]["rwg_j"]),
                (result.awg_j.value, want[missing]["awg_j"]),
            ):
                if expected is not None:
                    worst = max(worst, abs(got - expected))
        for row in agreement(data.answers, data.items, data.scale).items:
            for got, expected in (
                (row.rwg.value, want["rwg"][row.item_id]),
                (row.awg.value, want["awg"][row.item_id]),
            ):
                if expected is not None:
                    worst = max(worst, abs(got - expected))
    assert worst < 1e-9


# --- edge cases ------------------------------------------------------------------------------


def test_one_respondent_gives_no_agreement():
    assert rwg([4], FIVE).reason == "too_few_raters"
    assert awg([5], FIVE).reason == "too_few_raters"
    result = agreement([{"a": 4, "b": 2}], ["a", "b"], FIVE)
    assert result.rwg_j.value is None and result.rwg_j.reason == "too_few_raters"
    assert result.awg_j.value is None and result.awg_j.reason == "too_few_raters"
    assert result.n_respondents == 1 and result.n_items == 0


def test_nobody_answering_gives_no_answers_not_zero():
    everyone_dk: list[dict[str, float | None]] = [{}, {"a": None}, {}]
    result = agreement(everyone_dk, ["a", "b"], FIVE)
    assert result.rwg_j.reason == result.awg_j.reason == "no_answers"
    assert all(i.rwg.reason == "no_answers" and i.mean is None for i in result.items)
    assert cronbach_alpha(everyone_dk, ["a", "b"], min_n=2).alpha.reason == "too_few_respondents"
    assert rwg([], FIVE).reason == "no_answers"


def test_identical_answers_agree_perfectly():
    answers = [{"a": 3, "b": 4}] * 6
    result = agreement(answers, ["a", "b"], FIVE)
    assert result.rwg_j.value == 1.0 and result.awg_j.value == 1.0
    assert result.mean_item_variance == 0.0


def test_identical_answers_at_the_end_of_the_scale_give_awg_1_as_r_does():
    assert awg([5, 5, 5], FIVE).value == 1.0
    assert awg([1, 1], FIVE).value == 1.0


def test_identical_answers_near_the_end_leave_awg_undefined():
    # k = 3 on 1-5: the mean must lie in [7/3, 11/3]; 2, 2, 2 has no room to disagree.
    result = awg([2, 2, 2], FIVE)
    assert result.value is None and result.reason == "mean_near_scale_end"
    assert "between 2.33 and 3.67" in result.reading
    assert rwg([2, 2, 2], FIVE).value == 1.0


def test_a_mean_exactly_on_the_awg_bound_is_defined():
    # (2 + 2 + 3)/3 = 7/3 is the lower bound itself: exact arithmetic keeps it inside.
    assert awg([2, 2, 3], FIVE).value == pytest.approx(0.875)


def test_variance_above_the_null_is_truncated_to_zero():
    split = [1, 5, 1, 5]
    result = rwg(split, FIVE)
    assert result.value == 0.0 and result.truncated
    assert "random answers" in result.reading
    assert rwg_j([{"a": v, "b": 6 - v} for v in split], ["a", "b"], FIVE).value == 0.0
    assert awg(split, FIVE).value == pytest.approx(-1.0)


def test_available_answers_rule_uses_each_items_own_respondents():
    answers: list[dict[str, float | None]] = [
        {"a": 4, "b": 4, "c": 1},
        {"a": 5, "b": None},
        {"a": 4, "b": 5},
        {"a": 3},
    ]
    available = agreement(answers, ["a", "b", "c"], FIVE)
    # c has one answer, so J = 2; a uses 4 answers, b uses 2.
    assert available.n_items == 2 and available.n_respondents == 4
    assert [i.n for i in available.items] == [4, 2, 1]
    s2 = (Fraction(2, 3) + Fraction(1, 2)) / 2
    ratio = s2 / 2
    assert available.rwg_j.value == pytest.approx(float(2 * (1 - ratio) / (2 * (1 - ratio) + ratio)))
    listwise = agreement(answers, ["a", "b", "c"], FIVE, missing="listwise")
    assert listwise.n_respondents == 1 and listwise.rwg_j.reason == "too_few_raters"


def test_listwise_and_available_agree_on_complete_answers():
    answers = [{"a": 1, "b": 2}, {"a": 2, "b": 2}, {"a": 2, "b": 3}]
    available = agreement(answers, ["a", "b"], FIVE)
    listwise = agreement(answers, ["a", "b"], FIVE, missing="listwise")
    assert (available.rwg_j, available.awg_j, available.items) == (
        listwise.rwg_j,
        listwise.awg_j,
        listwise.items,
    )


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="outside the scale"):
        rwg([0, 3], FIVE)
    with pytest.raises(ValueError, match="outside the scale"):
        agreement([{"a": 6}], ["a"], FIVE)
    with pytest.raises(ValueError, match="finite"):
        rwg([math.nan, 3], FIVE)
    with pytest.raises(ValueError, match="missing must be"):
        agreement([{"a": 3}], ["a"], FIVE, missing="pairwise")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="repeat"):
        agreement([{"a": 3}], ["a", "a"], FIVE)
    with pytest.raises(ValueError):
        RawScale(low=1, high=5, points=1)
    with pytest.raises(ValueError):
        RawScale(low=5, high=1, points=5)


# --- readings and cut-offs -------------------------------------------------------------------


def test_exactly_70_is_acceptable_and_69_is_not():
    exact = rwg([1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3], FIVE)  # variance 0.6: rwg = 0.70 exactly
    assert exact.value == pytest.approx(0.7) and exact.band == "acceptable"
    below = rwg([1, 1, 1, 1, 1, 2, 3], FIVE)  # 0.690
    assert below.band == "low" and "below the usual .70 line" in below.reading


def test_cut_offs_apply_to_the_value_as_reported():
    # 0.697 is reported as 0.70, so it reads as acceptable, as a reader checking by hand would say.
    nearly = awg([1, 1, 2, 2, 2, 2, 3], FIVE)
    assert 0.695 < nearly.value < 0.70
    assert nearly.band == "acceptable" and "0.70" in nearly.reading


def test_awg_reads_acceptable_reasonable_or_unacceptable():
    assert awg([2, 3, 3, 4], FIVE).band == "acceptable"  # 0.75
    reasonable = awg([2, 3, 4, 4], FIVE)  # 0.65
    assert reasonable.value == pytest.approx(0.6508, abs=1e-4) and reasonable.band == "reasonable"
    assert awg([2, 2, 3, 4, 4], FIVE).band == "reasonable"  # 0.60 exactly
    assert awg([1, 3, 3, 5], FIVE).band == "unacceptable"
    # rwg has no "reasonable" band: below .70 is low.
    assert rwg([2, 2, 3, 4, 4, 1], FIVE).band == "low"


def test_small_groups_are_flagged_as_unstable():
    small = rwg([3, 3, 4, 4], FIVE)
    assert small.small_n and "unstable" in small.reading
    enough = rwg([3, 3, 4, 4, 4], FIVE)
    assert not enough.small_n and "unstable" not in enough.reading


# --- ICC ---------------------------------------------------------------------------------------


def test_icc_needs_enough_sites():
    assert icc({"a": [1, 2, 3]}).icc1.reason == "too_few_sites"
    three = {"a": [1, 2], "b": [3, 4], "c": [5, 5]}
    assert MIN_SITES_FOR_ICC == 5
    withheld = icc(three)
    assert withheld.icc1.value is None and withheld.icc1.reason == "below_minimum_sites"
    assert withheld.n_sites == 3 and withheld.site_sizes == (2, 2, 2)
    assert icc(three, min_sites=3).icc1.value is not None
    with pytest.raises(ValueError):
        icc(three, min_sites=1)


def test_icc_edge_cases():
    assert icc({"a": [1], "b": [2]}, min_sites=2).icc1.reason == "one_respondent_per_site"
    same = icc({"a": [3, 3], "b": [3, 3, 3]}, min_sites=2)
    assert same.icc1.reason == same.icc2.reason == "no_variance"
    equal_means = icc({"a": [1, 5], "b": [2, 4]}, min_sites=2)
    assert equal_means.icc2.reason == "no_between_site_variance"
    assert equal_means.icc1.value == pytest.approx(-1.0)  # -1/(k - 1) with k = 2
    no_spread_within = icc({"a": [2, 2], "b": [4, 4, 4]}, min_sites=2)
    assert no_spread_within.icc1.value == 1.0 and no_spread_within.icc2.value == 1.0
    assert no_spread_within.f is None and no_spread_within.icc2.band == "reliable"
    ignored = icc({"a": [1, 2], "b": [3, 5], "empty": []}, min_sites=2)
    assert ignored.n_sites == 2 and ignored.mean_site_size == 2.0


def test_icc_readings():
    result = icc({"a": [1, 2, 2], "b": [4, 5, 4], "c": [3, 3, 2]}, min_sites=2)
    assert result.icc1.band == "site_effect" and "between sites" in result.icc1.reading
    assert result.icc2.band == "reliable"
    flat = icc({"a": [1, 5, 3], "b": [2, 4, 3]}, min_sites=2)
    assert flat.icc1.band == "no_site_effect"


# --- alpha -------------------------------------------------------------------------------------


def test_alpha_needs_a_minimum_n_of_complete_respondents():
    answers = [{"a": v, "b": v, "c": min(v + 1, 5)} for v in (1, 2, 3, 4, 5, 2, 3)]
    assert MIN_RESPONDENTS_FOR_ALPHA == 30
    withheld = cronbach_alpha(answers, ["a", "b", "c"])
    assert withheld.alpha.value is None and withheld.alpha.reason == "below_minimum_n"
    assert withheld.n_complete == 7
    shown = cronbach_alpha([*answers, {"a": 3}], ["a", "b", "c"], min_n=7)
    assert shown.n_complete == 7 and shown.n_incomplete == 1
    assert shown.ci_low < shown.alpha.value < shown.ci_high
    assert "95% interval" in shown.alpha.reading


def test_alpha_edge_cases():
    assert cronbach_alpha([{"a": 1}, {"a": 2}], ["a"], min_n=2).alpha.reason == "too_few_items"
    constant = [{"a": 2, "b": 4}, {"a": 3, "b": 3}, {"a": 4, "b": 2}]
    assert cronbach_alpha(constant, ["a", "b"], min_n=2).alpha.reason == "no_variance"
    with pytest.raises(ValueError):
        cronbach_alpha(constant, ["a", "b"], min_n=1)
    with pytest.raises(ValueError):
        cronbach_alpha(constant, ["a", "b"], min_n=2, confidence=1.0)


def test_f_quantile_rejects_nonsense():
    for p, d1, d2 in ((0, 1, 1), (1, 1, 1), (0.5, 0, 3), (0.5, 3, -1)):
        with pytest.raises(ValueError):
            f_quantile(p, d1, d2)


# --- instrument answers to the raw scale -----------------------------------------------------


def test_condition_answers_reverse_score_and_leave_out_what_does_not_count():
    instrument = make_instrument(
        [
            item("a1"),
            item("a2", reverse=True),
            item("a3", groups=["lead"]),
            item("gate", domain="b", scale="yesno"),
            item("a4", show_if={"item": "gate", "in": ["yes"]}),
        ]
    )
    responses = [
        ResponseInput(respondent_id="x", group="lead", answers={"a1": "5", "a2": "2", "a3": "4", "a4": "3"}),
        ResponseInput(
            respondent_id="y",
            group="staff",
            answers={"a1": "DK", "a2": "NA", "a3": "5", "gate": "yes", "a4": "1"},
        ),
        ResponseInput(respondent_id="z", group="peer", answers={"a1": "", "gate": "no", "a4": "2"}),
    ]
    data = condition_answers(instrument, responses, "a")
    assert data.items == ("a1", "a2", "a3", "a4")
    assert data.scale == FIVE and data.scale.null_variance == 2
    assert data.respondent_ids == ("x", "y", "z")
    # x: a2 = 2 reversed is 4; a4 hidden (gate unanswered). y: a3 is for leadership only.
    assert data.answers == ({"a1": 5.0, "a2": 4.0, "a3": 4.0}, {"a4": 1.0}, {})
    with pytest.raises(ValueError, match="no scored items"):
        condition_answers(instrument, responses, "b")
    with pytest.raises(ValueError, match="unknown condition"):
        condition_answers(instrument, responses, "zzz")


def test_condition_answers_refuse_bad_answers():
    instrument = make_instrument([item("a1")])
    for response, message in (
        (ResponseInput(respondent_id="x", group="nobody", answers={}), "unknown respondent group"),
        (ResponseInput(respondent_id="x", group="lead", answers={"zz": "1"}), "unknown item"),
        (ResponseInput(respondent_id="x", group="lead", answers={"a1": "7"}), "not an option"),
    ):
        with pytest.raises(ValueError, match=message):
            condition_answers(instrument, [response], "a")


def step_scale(scores: list[int]) -> dict[str, Any]:
    return {"id": "steps", "options": [{"value": f"v{s}", "label": str(s), "score": s} for s in scores]}


def test_raw_scale_needs_equal_steps_and_scales_the_null():
    even = make_instrument([item("a1", scale="steps")], scales=[step_scale([0, 2, 4, 6, 8]), AGREE5, YESNO])
    scale = raw_scale(even, even.item_by_id("a1"))
    assert (scale.low, scale.high, scale.points) == (0, 8, 5)
    assert scale.null_variance == 8  # (25 - 1)/12 * 2^2
    # The same answers on 0-8 and on 1-5 agree alike (rwg and awg do not depend on the units).
    assert rwg([2, 4, 4, 6], scale).value == rwg([2, 3, 3, 4], FIVE).value
    assert awg([2, 4, 4, 6], scale).value == awg([2, 3, 3, 4], FIVE).value
    uneven = make_instrument([item("a1", scale="steps")], scales=[step_scale([0, 2, 7, 10]), AGREE5, YESNO])
    with pytest.raises(ValueError, match="equally spaced"):
        raw_scale(uneven, uneven.item_by_id("a1"))
    mixed = make_instrument(
        [item("a1"), item("a2", scale="steps")], scales=[step_scale([0, 1, 2, 3, 4]), AGREE5, YESNO]
    )
    with pytest.raises(ValueError, match="different scales"):
        condition_answers(mixed, [], "a")


# --- properties --------------------------------------------------------------------------------

ITEMS = ["a", "b", "c", "d"]
answer = st.one_of(st.none(), st.integers(1, 5))
respondents = st.lists(st.fixed_dictionaries(dict.fromkeys(ITEMS, answer)), max_size=12)


@PROPERTIES
@given(respondents)
def test_agreement_stays_within_its_bounds(answers):
    result = agreement(answers, ITEMS, FIVE)
    if result.rwg_j.value is not None:
        assert 0 <= result.rwg_j.value <= 1
    if result.awg_j.value is not None:
        assert -1 <= result.awg_j.value <= 1
    for row in result.items:
        assert row.rwg.value is None or 0 <= row.rwg.value <= 1
        assert row.awg.value is None or -1 - 1e-12 <= row.awg.value <= 1
        assert (row.rwg.value is None) == (row.n < 2)
    for stat in (result.rwg_j, result.awg_j, *(r.rwg for r in result.items), *(r.awg for r in result.items)):
        assert (stat.value is None) == (stat.reason is not None)
        assert stat.reading


@PROPERTIES
@given(respondents, st.randoms(use_true_random=False))
def test_respondent_order_does_not_matter(answers, random):
    shuffled = list(answers)
    random.shuffle(shuffled)
    assert agreement(shuffled, ITEMS, FIVE) == agreement(answers, ITEMS, FIVE)
    assert agreement(shuffled, ITEMS, FIVE, missing="listwise") == agreement(
        answers, ITEMS, FIVE, missing="listwise"
    )
    if len(answers) >= 2:
        assert cronbach_alpha(shuffled, ITEMS, min_n=2).alpha.value == pytest.approx(
            cronbach_alpha(answers, ITEMS, min_n=2).alpha.value, nan_ok=True
        )


@PROPERTIES
@given(respondents)
def test_mirroring_the_scale_does_not_change_agreement(answers):
    """Reverse-scoring every answer (x -> 6 - x) changes the means, never the agreement."""
    mirrored = [{i: None if v is None else 6 - v for i, v in a.items()} for a in answers]
    before, after = agreement(answers, ITEMS, FIVE), agreement(mirrored, ITEMS, FIVE)
    assert after.rwg_j == before.rwg_j
    assert after.awg_j.value == before.awg_j.value and after.awg_j.reason == before.awg_j.reason


@PROPERTIES
@given(st.lists(st.fixed_dictionaries({i: st.integers(1, 5) for i in ITEMS}), min_size=2, max_size=12))
def test_complete_answers_give_the_same_under_both_missing_rules(answers):
    available, listwise = agreement(answers, ITEMS, FIVE), agreement(answers, ITEMS, FIVE, missing="listwise")
    assert (available.rwg_j, available.awg_j, available.items) == (
        listwise.rwg_j,
        listwise.awg_j,
        listwise.items,
    )
    result = cronbach_alpha(answers, ITEMS, min_n=2)
    if result.alpha.value is not None:
        assert result.alpha.value <= 1
        assert result.ci_low <= result.alpha.value <= result.ci_high


sites = st.dictionaries(
    st.sampled_from(["s1", "s2", "s3", "s4", "s5", "s6"]),
    st.lists(st.integers(0, 100), min_size=1, max_size=8),
    min_size=2,
)


@PROPERTIES
@given(sites, st.integers(1, 5), st.integers(-50, 50))
def test_icc_is_unchanged_by_site_order_and_linear_rescaling(scores, factor, shift):
    result = icc(scores, min_sites=2)
    reordered = icc(dict(reversed(list(scores.items()))), min_sites=2)
    rescaled = icc({s: [factor * v + shift for v in vs] for s, vs in scores.items()}, min_sites=2)
    for other in (reordered, rescaled):
        for mine, theirs in ((result.icc1, other.icc1), (result.icc2, other.icc2)):
            assert theirs.reason == mine.reason
            if mine.value is not None:
                assert theirs.value == pytest.approx(mine.value, rel=1e-12, abs=1e-12)
    if result.icc1.value is not None:
        assert result.icc1.value <= 1
        # ICC(1) cannot fall below -1/(k - 1) for a mean site size k.
        assert result.mean_site_size > 1
        assert result.icc1.value >= -1 / (result.mean_site_size - 1) - 1e-12


@PROPERTIES
@given(st.floats(0.001, 0.999), st.integers(1, 400), st.integers(1, 4000))
def test_f_quantile_inverts_the_f_distribution(p, df1, df2):
    q = f_quantile(p, df1, df2)
    assert q > 0
    assert _regularized_beta(df1 / 2, df2 / 2, df1 * q / (df1 * q + df2)) == pytest.approx(p, abs=1e-9)


# --- docs/scoring.md: the agreement worked example -------------------------------------------


def agreement_example() -> tuple[str, dict[str, Any]]:
    markdown = SCORING_MD.read_text(encoding="utf-8")
    (responses_csv,) = fenced_blocks(markdown, "csv agreement-example")
    (expected,) = fenced_blocks(markdown, "yaml agreement-expected")
    return responses_csv, YAML(typ="safe").load(expected)


def test_agreement_worked_example_matches_the_document():
    responses_csv, expected = agreement_example()
    rows = list(csv.DictReader(io.StringIO(responses_csv)))
    item_ids = [c for c in rows[0] if c not in ("respondent", "site")]
    instrument = make_instrument(
        [item(i, reverse=i in expected["reverse"]) for i in item_ids], domains=("a",), groups=("staff",)
    )
    by_site: dict[str, list[ResponseInput]] = {}
    for row in rows:
        answers = {i: row[i] for i in item_ids if row[i]}
        by_site.setdefault(row["site"], []).append(
            ResponseInput(respondent_id=row["respondent"], group="staff", answers=answers)
        )
    assert list(by_site) == list(expected["sites"])

    everyone = []
    means: dict[str, list[float]] = {}
    for site, responses in by_site.items():
        data = condition_answers(instrument, responses, "a")
        assert data.scale.null_variance == expected["null_variance"]
        everyone.extend(data.answers)
        means[site] = [sum(a.values()) / len(a) for a in data.answers if a]
        result = agreement(data.answers, data.items, data.scale)
        want = expected["sites"][site]
        assert result.n_respondents == want["n"], site
        assert close(result.mean_item_variance, want["mean_item_variance"]), site
        for row in result.items:
            item_want = want["items"][row.item_id]
            assert row.n == item_want["n"], (site, row.item_id)
            assert close(row.mean, item_want["mean"]), (site, row.item_id)
            assert close(row.variance, item_want["variance"]), (site, row.item_id)
            assert close(row.rwg.value, item_want["rwg"]), (site, row.item_id)
            assert close(row.awg.value, item_want["awg"]), (site, row.item_id)
        assert close(result.rwg_j.value, want["rwg_j"]), site
        assert result.rwg_j.band == want["rwg_j_band"], site
        assert result.rwg_j.truncated == want.get("truncated", False), site
        assert close(result.awg_j.value, want["awg_j"]), site
        assert result.awg_j.band == want["awg_j_band"], site
        assert result.rwg_j.small_n == want["small_n"], site

    want_icc = expected["icc"]
    got_icc = icc(means, min_sites=want_icc["min_sites"])
    for key in ("ms_between", "ms_within", "mean_site_size"):
        assert close(getattr(got_icc, key), want_icc[key]), key
    assert close(got_icc.icc1.value, want_icc["icc1"]) and close(got_icc.icc2.value, want_icc["icc2"])
    assert (got_icc.icc1.band, got_icc.icc2.band) == (want_icc["icc1_band"], want_icc["icc2_band"])
    assert icc(means).icc1.reason == "below_minimum_sites"

    want_alpha = expected["alpha"]
    got_alpha = cronbach_alpha(everyone, item_ids, min_n=want_alpha["min_n"])
    assert (got_alpha.n_complete, got_alpha.n_incomplete) == (
        want_alpha["n_complete"],
        want_alpha["n_incomplete"],
    )
    assert close(got_alpha.alpha.value, want_alpha["alpha"])
    assert close(got_alpha.ci_low, want_alpha["ci_low"]) and close(got_alpha.ci_high, want_alpha["ci_high"])
    assert got_alpha.alpha.band == want_alpha["band"]
    assert cronbach_alpha(everyone, item_ids).alpha.reason == "below_minimum_n"


def test_every_reason_is_documented():
    markdown = SCORING_MD.read_text(encoding="utf-8")
    section = markdown[markdown.index("### Reasons when there is no value") :]
    table = section[: section.index("\n### ")]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", table, re.M))
    assert documented == set(get_args(Reason))
