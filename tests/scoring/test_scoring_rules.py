"""Hand-computed cases for each rule in docs/scoring.md."""

from __future__ import annotations

import pytest
from scoring_support import AGREE5, YESNO, action, item, make_instrument

from app.scoring import ResponseInput, score_responses, visible_items
from app.scoring.numbers import score_value
from app.scoring.reasons import render_reasons
from app.scoring.rules import item_value, readiness_level


def r(rid: str, group: str = "lead", **answers: str) -> ResponseInput:
    return ResponseInput(respondent_id=rid, group=group, answers=answers)


def alone(inst, response, domain="a"):
    """The condition score of one respondent on their own (privacy threshold 1)."""
    return score_responses(inst, [response], privacy_threshold=1).domain(domain).score


# --- 1. visibility ----------------------------------------------------------------------------

GATED = make_instrument(
    [
        item("c1", scale="yesno"),
        item("c2", show_if={"item": "c1", "in": ["yes"]}),
        item("c3", show_if={"item": "c1", "not_in": ["no"]}),
        item("c4", show_if={"item": "c2", "in": ["4", "5"]}),
        item("only_peer", groups=["peer"]),
    ]
)


def ids(items):
    return [i.id for i in items]


def test_groups_filter_items():
    assert ids(visible_items(GATED, group="lead", answers={})) == ["c1"]
    assert ids(visible_items(GATED, group="peer", answers={})) == ["c1", "only_peer"]


def test_show_if_in_and_not_in():
    assert ids(visible_items(GATED, group="lead", answers={"c1": "yes"})) == ["c1", "c2", "c3"]
    assert ids(visible_items(GATED, group="lead", answers={"c1": "no"})) == ["c1"]
    assert ids(visible_items(GATED, group="lead", answers={"c1": "DK"})) == ["c1", "c3"]


def test_unanswered_source_hides_for_in_and_not_in():
    assert ids(visible_items(GATED, group="lead", answers={"c1": ""})) == ["c1"]


def test_hidden_source_hides_its_dependents():
    # c2 answered 5 would show c4, but c2 itself is hidden because c1 is "no".
    assert ids(visible_items(GATED, group="lead", answers={"c1": "no", "c2": "5"})) == ["c1"]
    assert ids(visible_items(GATED, group="lead", answers={"c1": "yes", "c2": "5"})) == [
        "c1",
        "c2",
        "c3",
        "c4",
    ]


def test_answers_to_hidden_items_are_ignored_everywhere():
    with_hidden = r("x", c1="no", c2="1", c3="1", c4="DK", only_peer="1")
    without = r("x", c1="no")
    a = score_responses(GATED, [with_hidden], privacy_threshold=1)
    b = score_responses(GATED, [without], privacy_threshold=1)
    assert a == b
    assert a.domain("a").dont_know == 0 and a.domain("a").answers_shown == 0


# --- 2. item values ---------------------------------------------------------------------------

PLAIN = make_instrument([item("i1"), item("i2"), item("i3", reverse=True), item("j1", domain="b")])


@pytest.mark.parametrize("value, expected", [("1", 0), ("2", 25), ("3", 50), ("4", 75), ("5", 100)])
def test_item_value_rescales_to_0_100(value, expected):
    i1 = PLAIN.item_by_id("i1")
    assert item_value(PLAIN, i1, PLAIN.option(i1, value)) == expected
    i3 = PLAIN.item_by_id("i3")
    assert item_value(PLAIN, i3, PLAIN.option(i3, value)) == 100 - expected


def test_item_value_uses_the_scored_range_not_the_option_count():
    scale = {
        "id": "agree5",
        "options": [
            {"value": "never", "label": "Never", "score": 0},
            {"value": "sometimes", "label": "Sometimes", "score": 1},
            {"value": "always", "label": "Always", "score": 4},
            {"value": "DK", "label": "DK", "kind": "dont_know", "score": None},
        ],
    }
    inst = make_instrument([item("i1")], scales=[scale, YESNO])
    i1 = inst.item_by_id("i1")
    assert item_value(inst, i1, inst.option(i1, "sometimes")) == 25
    assert item_value(inst, i1, inst.option(i1, "DK")) is None


def test_unscored_kinds_have_no_value():
    i1 = PLAIN.item_by_id("i1")
    assert item_value(PLAIN, i1, PLAIN.option(i1, "DK")) is None
    assert item_value(PLAIN, i1, PLAIN.option(i1, "NA")) is None


# --- 3. coverage ------------------------------------------------------------------------------


def test_coverage_exactly_half_gets_a_score():
    inst = make_instrument([item("i1"), item("i2"), item("j1", domain="b")])
    assert alone(inst, r("x", i1="5", i2="DK")) == 100


def test_coverage_below_half_has_no_score_and_counts_below_coverage():
    card = score_responses(PLAIN, [r("x", i1="5", i2="DK"), r("y", i1="3")], privacy_threshold=1)
    a = card.domain("a")
    assert (a.n, a.n_below_coverage, a.score) == (0, 2, None)


def test_not_applicable_shrinks_the_denominator():
    # 1 answered of (3 visible - 2 N/A) = 1/1.
    assert alone(PLAIN, r("x", i1="4", i2="NA", i3="NA")) == 75


def test_all_not_applicable_is_neither_scored_nor_below_coverage():
    card = score_responses(PLAIN, [r("x", i1="NA", i2="NA", i3="NA")], privacy_threshold=1)
    a = card.domain("a")
    assert (a.score, a.n, a.n_below_coverage, a.n_all_not_applicable) == (None, 0, 0, 1)
    assert a.not_applicable == 3


def test_a_respondent_with_no_visible_items_takes_no_part():
    inst = make_instrument([item("i1", groups=["peer"]), item("j1", domain="b")])
    card = score_responses(inst, [r("x", "lead", j1="3")], privacy_threshold=1)
    a = card.domain("a")
    assert (a.n, a.n_below_coverage, a.answers_shown) == (0, 0, 0)


def test_coverage_comparison_is_exact():
    inst = make_instrument([item(f"i{n}") for n in range(1, 4)] + [item("j1", domain="b")], coverage=0.6)
    assert alone(inst, r("x", i1="5", i2="5")) == 100  # 2/3 >= 0.6
    assert alone(inst, r("x", i1="5")) is None  # 1/3 < 0.6


def test_choice_answers_count_but_are_not_scored():
    scale = {
        "id": "agree5",
        "options": [*AGREE5["options"], {"value": "other", "label": "Other", "kind": "choice"}],
    }
    inst = make_instrument([item("i1"), item("i2"), item("j1", domain="b")], scales=[scale, YESNO])
    card = score_responses(inst, [r("x", i1="other", i2="4")], privacy_threshold=1)
    a = card.domain("a")
    assert a.score == 75
    assert a.items[0].choice == 1 and a.items[0].n_scored == 0


def test_context_items_without_scored_options_are_not_in_scores_or_rates():
    inst = make_instrument([item("c1", scale="yesno"), item("i1"), item("j1", domain="b")])
    card = score_responses(inst, [r("x", c1="DK", i1="5")], privacy_threshold=1)
    a = card.domain("a")
    assert (a.score, a.answers_shown, a.dont_know) == (100, 1, 0)
    c1 = a.items[0]
    assert (c1.item_id, c1.mean, c1.dont_know, c1.shown_to) == ("c1", None, 1, 1)


# --- 4-5. site score, SD, agreement, levels, rounding -----------------------------------------


def site(values: list[str], **scoring) -> object:
    inst = make_instrument([item("i1"), item("j1", domain="b")], **scoring)
    responses = [r(f"r{n}", i1=v) for n, v in enumerate(values)]
    return score_responses(inst, responses, privacy_threshold=1).domain("a")


def test_site_score_is_mean_of_respondent_scores_with_sample_sd():
    a = site(["1", "3", "5"])  # 0, 50, 100
    assert (a.score, a.n, a.sd) == (50, 3, 50)
    assert (a.min, a.max) == (None, None)  # never a range: the ends are two people's own scores
    assert a.agreement == "low"


@pytest.mark.parametrize(
    "values, agreement",
    [(["4", "4"], "high"), (["3", "4"], "moderate"), (["1", "5"], "low"), (["4"], None)],
)
def test_agreement_labels(values, agreement):
    # SDs: 0, 17.7, 70.7; a single respondent has no SD and no label.
    assert site(values).agreement == agreement


def test_agreement_boundaries_are_inclusive():
    # The sample SD of 50 and 75 is 17.68, shown as 17.7; a limit equal to the shown SD includes it.
    assert site(["3", "4"], agreement_high_sd=17.7).agreement == "high"
    assert site(["3", "4"], agreement_high_sd=17.6, agreement_moderate_sd=17.7).agreement == "moderate"


@pytest.mark.parametrize(
    "score, level",
    [
        (0, "beginning"),
        (39.9, "beginning"),
        (40, "developing"),
        (60, "established"),
        (80, "strong"),
        (100, "strong"),
    ],
)
def test_levels_min_inclusive_max_exclusive_top_includes_100(score, level):
    assert readiness_level(PLAIN, score).id == level


def test_rounding_is_half_up():
    assert score_value(81.25) == 81.3
    assert score_value(0.05) == 0.1
    assert score_value(2 / 3 * 100) == 66.7


def test_thresholds_are_compared_with_the_shown_number():
    scale = {
        "id": "agree5",
        "options": [
            {"value": "lo", "label": "lo", "score": 0},
            {"value": "mid", "label": "mid", "score": 5996},
            {"value": "hi", "label": "hi", "score": 10000},
        ],
    }
    inst = make_instrument([item("i1"), item("j1", domain="b")], scales=[scale, YESNO])
    a = score_responses(inst, [r("x", i1="mid")], privacy_threshold=1).domain("a")
    assert a.score == 60.0  # 59.96 shown as 60.0
    assert a.level_id == "established" and not a.is_priority


def test_means_are_exact_so_a_tie_rounds_up_as_the_document_says():
    # A 1-7 scale. Respondent 1: 2, 7, 2, 1 -> (16.67 + 100 + 16.67 + 0) / 4 = 33.33...;
    # respondent 2: 5, 5, 4, 3 -> 58.33...; the site mean is exactly 43.75. Binary floats make it
    # 43.74999999999999 (shown 43.7); exact arithmetic shows 43.8.
    agree7 = {
        "id": "agree7",
        "options": [{"value": str(n), "label": str(n), "score": n} for n in range(1, 8)],
    }
    inst = make_instrument(
        [item(f"i{n}", scale="agree7") for n in range(1, 5)] + [item("j1", domain="b", scale="agree7")],
        scales=[agree7],
    )
    answers = [("2", "7", "2", "1"), ("5", "5", "4", "3")]
    responses = [r(f"x{k}", **{f"i{n}": v for n, v in enumerate(a, start=1)}) for k, a in enumerate(answers)]
    a = score_responses(inst, responses, privacy_threshold=1).domain("a")
    assert a.score == 43.8


def test_59_5_stays_59_5_and_is_below_a_priority_line_of_60():
    # A 0-100 scale: two respondents answer 59 and 60, so the mean is exactly 59.5.
    scale = {
        "id": "hundred",
        "options": [{"value": str(n), "label": str(n), "score": n} for n in (0, 59, 60, 100)],
    }
    inst = make_instrument(
        [item("i1", scale="hundred"), item("j1", domain="b", scale="hundred")], scales=[scale]
    )
    a = score_responses(inst, [r("x", i1="59"), r("y", i1="60")], privacy_threshold=1).domain("a")
    assert a.score == 59.5 and a.is_priority
    assert render_reasons(a.priority_reasons) == ["Domain A scored 59.5, below the priority line of 60.0"]


# --- 6. don't know ----------------------------------------------------------------------------


def test_dont_know_rate_and_flag_at_exactly_the_rate():
    responses = [r("x", i1="DK", i2="4", i3="4"), r("y", i1="4", i2="4", i3="4")]
    inst = make_instrument([item("i1"), item("i2"), item("j1", domain="b")], dont_know_flag_rate=0.25)
    a = score_responses(inst, [r("x", i1="DK", i2="4"), r("y", i1="4", i2="4")], privacy_threshold=1).domain(
        "a"
    )
    assert (a.dont_know, a.answers_shown, a.dont_know_rate, a.dont_know_flag) == (1, 4, 0.25, True)
    b = score_responses(PLAIN, responses, privacy_threshold=1).domain("a")
    assert (b.dont_know_rate, b.dont_know_flag) == (0.167, False)


# --- 7-8. items and critical items ------------------------------------------------------------


def test_item_mean_uses_respondents_below_coverage_too():
    inst = make_instrument([item("i1"), item("i2"), item("i3"), item("j1", domain="b")])
    responses = [r("x", i1="1"), r("y", i1="5", i2="5", i3="5"), r("z", i1="3", i2="3")]
    a = score_responses(inst, responses, privacy_threshold=1).domain("a")
    assert a.n == 2 and a.n_below_coverage == 1
    assert a.items[0].mean == 50 and a.items[0].n_scored == 3


def test_critical_item_makes_a_priority_whatever_the_mean():
    inst = make_instrument(
        [item("i1", critical=True), item("i2"), item("i3"), item("j1", domain="b")], strength_at=75
    )
    responses = [r(f"r{n}", i1="2", i2="5", i3="5") for n in range(3)]  # i1 = 25, domain = 75
    a = score_responses(inst, responses).domain("a")
    assert a.score == 75 and a.critical_flags == ["i1"]
    assert a.is_priority and not a.is_strength
    assert render_reasons(a.priority_reasons) == [
        "Critical item \u201cItem i1\u201d averaged 25.0, below 50.0"
    ]


def test_critical_item_at_the_threshold_is_not_flagged():
    inst = make_instrument([item("i1", critical=True), item("j1", domain="b")])
    a = score_responses(inst, [r(f"r{n}", i1="3") for n in range(3)]).domain("a")
    assert a.items[0].mean == 50 and not a.items[0].critical_flag
    assert a.critical_flags == [] and render_reasons(a.priority_reasons) == [
        "Domain A scored 50.0, below the priority line of 60.0"
    ]


# --- 9. strengths and priorities --------------------------------------------------------------


def test_strengths_strongest_first_and_priorities_critical_then_lowest():
    inst = make_instrument(
        [
            item("a1", domain="a"),
            item("b1", domain="b"),
            item("c1", domain="c", critical=True),
            item("c2", domain="c"),
            item("d1", domain="d"),
            item("e1", domain="e"),
        ],
        domains=("a", "b", "c", "d", "e"),
    )
    # a 75 (strength), b 100 (strength), c: c1 0 -> 50 with c2 100 (critical), d 25, e 50
    answers = {"a1": "4", "b1": "5", "c1": "1", "c2": "5", "d1": "2", "e1": "3"}
    card = score_responses(inst, [r(f"r{n}", **answers) for n in range(3)])
    assert card.strengths == ["b", "a"]
    assert card.priorities == ["c", "d", "e"]


# --- 10. groups and privacy -------------------------------------------------------------------


def group_card(counts: dict[str, int], threshold: int = 3, value: str = "4"):
    inst = make_instrument([item("i1"), item("j1", domain="b")])
    responses = [r(f"{g}{n}", g, i1=value) for g, k in counts.items() for n in range(k)]
    return score_responses(inst, responses, privacy_threshold=threshold)


def rows(domain):
    return [(g.group, g.n, g.score, g.suppressed, g.pooled_groups) for g in domain.groups]


def test_groups_at_threshold_are_shown():
    a = group_card({"lead": 3, "staff": 4}).domain("a")
    assert rows(a) == [("lead", 3, 75, False, []), ("staff", 4, 75, False, [])]


def test_small_groups_are_pooled_when_the_pool_is_big_enough():
    card = group_card({"lead": 1, "staff": 4, "peer": 2})
    assert rows(card.domain("a")) == [
        ("staff", 4, 75, False, []),
        ("pooled", 3, 75, False, ["lead", "peer"]),
    ]
    assert card.domain("a").groups[-1].label == "Other groups (combined)"
    assert card.suppressed_groups == ["lead", "peer"]


def test_a_too_small_pool_takes_in_the_smallest_shown_group():
    card = group_card({"lead": 1, "staff": 5, "peer": 3})
    assert rows(card.domain("a")) == [
        ("staff", 5, 75, False, []),
        ("pooled", 4, 75, False, ["lead", "peer"]),
    ]
    assert card.suppressed_groups == ["lead", "peer"]


def test_when_no_group_can_stand_alone_one_row_holds_everybody():
    a = group_card({"lead": 1, "staff": 3}).domain("a")
    assert rows(a) == [("pooled", 4, 75, False, ["lead", "staff"])]
    assert a.groups[0].label == "All groups (combined)"


def test_fewer_respondents_than_the_threshold_withholds_everything():
    a = group_card({"lead": 1, "staff": 1}).domain("a")
    assert rows(a) == [("pooled", 2, None, True, ["lead", "staff"])]
    assert (a.score, a.sd, a.min, a.max, a.level_id, a.agreement, a.suppressed) == (
        None,
        None,
        None,
        None,
        None,
        None,
        True,
    )
    assert a.n == 2
    assert all(i.mean is None for i in a.items)
    assert a.items[0].suppressed


def test_item_mean_from_too_few_respondents_is_withheld_and_raises_no_flag():
    inst = make_instrument([item("i1"), item("i2", groups=["lead"], critical=True), item("j1", domain="b")])
    responses = [r("l1", "lead", i1="4", i2="1"), *(r(f"s{n}", "staff", i1="4") for n in range(3))]
    a = score_responses(inst, responses).domain("a")
    i2 = a.items[1]
    assert (i2.mean, i2.suppressed, i2.critical_flag, i2.n_scored) == (None, True, False, 1)
    assert a.critical_flags == [] and not a.is_priority


# --- 11. gaps ---------------------------------------------------------------------------------


def test_gaps_at_the_threshold_largest_first():
    inst = make_instrument([item("i1"), item("i2"), item("j1", domain="b")], gap_threshold=25)
    responses = (
        [r(f"l{n}", "lead", i1="5", i2="5") for n in range(3)]  # 100
        + [r(f"s{n}", "staff", i1="4", i2="4") for n in range(3)]  # 75
        + [r(f"p{n}", "peer", i1="3", i2="3") for n in range(3)]  # 50
    )
    a = score_responses(inst, responses).domain("a")
    assert [(g.higher_group, g.lower_group, g.difference) for g in a.gaps] == [
        ("lead", "peer", 50),
        ("lead", "staff", 25),
        ("staff", "peer", 25),
    ]


# --- 12. actions: gap_between, a gap between two named groups ---------------------------------

NAMED_GROUPS = {"lead": "Leadership", "staff": "Clinical staff", "peer": "Peer staff"}


def gap_between_card(answers_by_group: dict[str, tuple[str, str, int]], *, at_least: float = 20):
    """Condition a (items i1, i2) scored by groups answering (i1, i2) n times each; two actions on a:
    one names leadership and peer staff, one reacts to any gap."""
    inst = make_instrument(
        [item("i1"), item("i2"), item("j1", domain="b")],
        group_labels=NAMED_GROUPS,
        actions=[
            action("listen_peers", "a", {"gap_between": {"groups": ["lead", "peer"], "at_least": at_least}}),
            action("any_gap", "a", {"gap_at_least": at_least}),
        ],
    )
    responses = [
        r(f"{group}{n}", group, i1=i1, i2=i2)
        for group, (i1, i2, count) in answers_by_group.items()
        for n in range(count)
    ]
    return score_responses(inst, responses)


def reasons_by_action(card):
    return {a.action_id: render_reasons(a.reasons) for a in card.actions}


def test_gap_between_fires_on_the_named_pair_with_a_plain_reason():
    # lead (5, 4): (100 + 75) / 2 = 87.5; peer (3, 2): (50 + 25) / 2 = 37.5; staff (4, 4): 75.
    card = gap_between_card({"lead": ("5", "4", 3), "staff": ("4", "4", 3), "peer": ("3", "2", 3)})
    assert {g.group: g.score for g in card.domain("a").groups} == {"lead": 87.5, "staff": 75, "peer": 37.5}
    assert reasons_by_action(card)["listen_peers"] == [
        "Leadership scored 87.5 and peer staff 37.5 on Domain A: a gap of 50.0 points"
    ]


def test_gap_between_holds_at_exactly_the_threshold_and_in_either_direction():
    # peer (5, 5): 100 is ABOVE lead (4, 4): 75; 25 points >= 25.
    card = gap_between_card({"lead": ("4", "4", 3), "peer": ("5", "5", 3)}, at_least=25)
    assert reasons_by_action(card)["listen_peers"] == [
        "Leadership scored 75.0 and peer staff 100.0 on Domain A: a gap of 25.0 points"
    ]
    below = gap_between_card({"lead": ("4", "4", 3), "peer": ("5", "5", 3)}, at_least=25.1)
    assert "listen_peers" not in reasons_by_action(below)


def test_gap_between_ignores_a_gap_between_other_groups():
    # lead and peer agree (75 and 75); clinical staff (1, 2) score 12.5: a 62.5-point gap elsewhere.
    card = gap_between_card({"lead": ("4", "4", 3), "staff": ("1", "2", 3), "peer": ("4", "4", 3)})
    reasons = reasons_by_action(card)
    assert "listen_peers" not in reasons
    # ... while the general trigger fires on that other pair.
    assert reasons["any_gap"] == [
        "Leadership and Clinical staff see Domain A differently (75.0 vs 12.5, a gap of 62.5 points)"
    ]


def test_gap_between_does_not_fire_when_a_named_group_is_pooled():
    # Peer staff (n = 2) is below the threshold of 3, so it is pooled; the pool (2) is still too small,
    # so clinical staff (3, later than leadership on the tie) joins it. Peer staff has no row of its own.
    card = gap_between_card({"lead": ("5", "5", 3), "staff": ("3", "3", 3), "peer": ("1", "1", 2)})
    rows = [(g.group, g.score, g.pooled_groups) for g in card.domain("a").groups]
    assert rows == [("lead", 100, []), ("pooled", 30, ["staff", "peer"])]
    reasons = reasons_by_action(card)
    assert "listen_peers" not in reasons
    assert "any_gap" in reasons  # leadership vs the pooled row: 70 points


def test_gap_between_does_not_fire_when_the_groups_are_suppressed():
    # One respondent per group: nothing can be shown on its own, and the site score is withheld.
    card = gap_between_card({"lead": ("5", "5", 1), "peer": ("1", "1", 1)})
    a = card.domain("a")
    assert a.score is None and [g.suppressed for g in a.groups] == [True]
    assert card.actions == []


def test_gap_between_looks_only_at_the_actions_condition():
    inst = make_instrument(
        [item("i1"), item("j1", domain="b")],
        group_labels=NAMED_GROUPS,
        actions=[action("listen_b", "b", {"gap_between": {"groups": ["lead", "peer"], "at_least": 20}})],
    )
    # A 100-point gap in condition a; the same view (75) in condition b.
    responses = [
        *(r(f"l{n}", "lead", i1="5", j1="4") for n in range(3)),
        *(r(f"p{n}", "peer", i1="1", j1="4") for n in range(3)),
    ]
    card = score_responses(inst, responses)
    assert card.domain("a").gaps[0].difference == 100
    assert card.actions == []


# --- 12. actions: every trigger, and the ranking ----------------------------------------------


def test_each_trigger_and_the_ranking():
    inst = make_instrument(
        [item("i1", critical=True), item("i2"), item("j1", domain="b"), item("j2", domain="b")],
        actions=[
            action("low_b", "b", {"domain_below": 60}, priority=1),
            action("items", "a", {"items_below": {"items": ["i2"], "score": 90}}, priority=3),
            action("crit", "b", {"critical_items": ["i1"]}, priority=3),
            action("dk", "b", {"dont_know_above": 0.4}),
            action("gap", "a", {"gap_at_least": 10}),
            action("never", "a", {"domain_below": 5}),
            action("base_a", "a", {"domain_below": 99}, priority=1),
        ],
    )
    responses = [
        *(r(f"l{n}", "lead", i1="2", i2="5", j1="DK", j2="1") for n in range(3)),
        *(r(f"s{n}", "staff", i1="2", i2="4", j1="DK", j2="2") for n in range(3)),
    ]
    card = score_responses(inst, responses)
    # a: i1 25, i2 100/75 -> lead 62.5, staff 50 -> site 56.3, critical. b: 0 and 25 -> 12.5, DK 50%.
    assert card.priorities == ["a", "b"]
    ranked = {a.action_id: (a.rank, render_reasons(a.reasons)) for a in card.actions}
    # critical first; then condition a (priority #1) by action priority; then condition b.
    assert [a.action_id for a in card.actions] == ["crit", "base_a", "gap", "items", "low_b", "dk"]
    assert [a.rank for a in card.actions] == [1, 2, 3, 4, 5, 6]
    assert ranked["crit"][1] == ["Critical item \u201cItem i1\u201d averaged 25.0, below 50.0"]
    assert ranked["items"][1] == ["\u201cItem i2\u201d averaged 87.5, below 90.0"]
    assert ranked["low_b"][1] == ["Domain B scored 12.5, below 60.0"]
    assert ranked["dk"][1] == ["50.0% of answers in Domain B were \u201cDon't know\u201d (more than 40.0%)"]
    assert ranked["gap"][1] == [
        "Lead and Staff see Domain A differently (62.5 vs 50.0, a gap of 12.5 points)"
    ]
    assert "never" not in ranked


def test_items_below_reason():
    inst = make_instrument(
        [item("i1"), item("j1", domain="b")],
        actions=[action("items", "a", {"items_below": {"items": ["i1"], "score": 80}})],
    )
    card = score_responses(inst, [r(f"r{n}", i1="4") for n in range(3)])
    assert render_reasons(card.actions[0].reasons) == ["\u201cItem i1\u201d averaged 75.0, below 80.0"]


def test_a_condition_without_a_score_triggers_only_item_and_dont_know_rules():
    inst = make_instrument(
        [item("i1", critical=True), item("i2"), item("i3"), item("j1", domain="b")],
        actions=[
            action("low", "a", {"domain_below": 100}),
            action("gap", "a", {"gap_at_least": 1}),
            action("crit", "a", {"critical_items": ["i1"]}),
            action("dk", "a", {"dont_know_above": 0.5}),
        ],
    )
    # Everybody answers only i1 (1 of 3) and says DK to the others: nobody meets coverage.
    responses = [r(f"r{n}", "lead" if n < 3 else "staff", i1="1", i2="DK", i3="DK") for n in range(6)]
    card = score_responses(inst, responses)
    a = card.domain("a")
    assert a.score is None and a.n_below_coverage == 6 and a.critical_flags == ["i1"]
    assert card.priorities == ["a"]
    assert [x.action_id for x in card.actions] == ["crit", "dk"]


# --- 13. errors, and nothing individual in the output -----------------------------------------


@pytest.mark.parametrize(
    "response, words",
    [
        (r("R7", i9="1"), ["R7", "i9", "unknown item"]),
        (r("R7", i1="9"), ["R7", "i1", "'9'", "1, 2, 3, 4, 5, DK, NA"]),
        (r("R7", "board", i1="1"), ["R7", "board"]),
    ],
)
def test_bad_input_raises_naming_respondent_and_item(response, words):
    with pytest.raises(ValueError) as error:
        score_responses(PLAIN, [response])
    for word in words:
        assert word in str(error.value)


def test_the_scorecard_holds_no_respondent_identity():
    responses = [r(f"respondent-{n}", i1="4", i2="2", j1="5") for n in range(4)]
    dumped = score_responses(PLAIN, responses).model_dump_json()
    assert "respondent-" not in dumped


def test_empty_responses_give_an_empty_scorecard():
    card = score_responses(PLAIN, [])
    assert card.n_respondents == 0 and all(d.score is None and not d.suppressed for d in card.domains)
    assert card.actions == [] and card.strengths == [] and card.priorities == []
