"""The disclosure layer's rules as plain functions (app/disclosure), attack by attack, without the
app: the route tests in this folder play the same attacks through the pages."""

from __future__ import annotations

from app.disclosure import audit, policy
from app.disclosure.view import comment_visibility, disclose_scorecard, more_needed_text
from app.scoring import ResponseInput, score_responses
from tests.scoring.scoring_support import item, make_instrument


def test_range_is_never_shown():
    assert not any(policy.may_show_range(n, 3) for n in range(0, 50))


def test_spread_only_on_a_shown_site_row():
    assert policy.may_show_spread(3, 3, site_row=True)
    assert not policy.may_show_spread(2, 3, site_row=True)
    assert not policy.may_show_spread(30, 3, site_row=False)


def test_item_detail_and_distributions_have_their_own_minimums():
    assert policy.may_show_item_detail(3, 3) and not policy.may_show_item_detail(2, 3)
    assert not policy.may_show_distribution(4, 3)
    assert policy.may_show_distribution(5, 3)
    assert not policy.may_show_distribution(5, 6)


def test_padding_by_import_web_answers_reach_the_threshold_on_their_own():
    assert not policy.may_show_group(3, 3, {"web": 1, "import": 2})
    assert not policy.may_show_group(7, 3, {"web": 2, "import": 5})
    assert policy.may_show_group(3, 3, {"import": 3})  # a cycle answered on paper only
    assert policy.may_show_group(5, 3, {"web": 3, "import": 2})  # paper rows never hide a shown cell


def test_complementary_groups_the_next_smallest_joins_the_pool():
    plan = policy.pool_groups({"lead": 5, "clinical": 3, "peer": 1}, ["lead", "clinical", "peer"], 3)
    assert plan.shown == ["lead"]
    assert plan.pooled == ["clinical", "peer"] and plan.pooled_visible


def test_complementary_groups_with_sources_pool_until_safe():
    sizes = {"lead": {"web": 4}, "clinical": {"web": 3}, "peer": {"web": 1, "import": 3}}
    plan = policy.pool_groups(sizes, ["lead", "clinical", "peer"], 3)
    # peer (web 1) cannot show; clinical joins: the pool has 4 web answers.
    assert plan.shown == ["lead"] and plan.pooled_visible


def test_item_groups_pool_the_ineligible_and_the_all_dont_know():
    order = ["lead", "clinical", "peer"]
    # Everybody in peer answered "Don't know" (0 scored): it stays in the pool, so its count
    # cannot be the site's minus the shown groups'; the smaller shown group joins it.
    plan = policy.pool_item_groups({"lead": 5, "clinical": 3, "peer": 0}, order, 3, eligible=set(order))
    assert plan.shown == ["lead"] and plan.pooled == ["clinical", "peer"] and plan.pooled_visible
    # A group the condition pools is never shown for an item, however many answered it.
    plan = policy.pool_item_groups(
        {"lead": 5, "clinical": 4, "peer": 4}, order, 3, eligible={"lead", "clinical"}
    )
    assert plan.shown == ["lead", "clinical"] and plan.pooled == ["peer"]
    assert policy.pool_item_groups({"lead": 5, "peer": 1}, ["lead", "peer"], 3, eligible={"lead"}).shown == []


def test_re_release_needs_k_changes():
    assert not policy.may_rerelease(2, 3) and policy.may_rerelease(3, 3)
    assert policy.changes_needed(1, 3) == 2


def test_differencing_a_fourth_person_is_caught_by_the_row_space_audit():
    assert audit.solvable_members([{"a", "b", "c"}, {"a", "b", "c", "d"}]) == {"d"}
    assert audit.solvable_members([{"a", "b", "c"}, {"a", "b", "d", "e"}]) == set()


def test_audit_suppresses_the_smallest_new_group_cell_first():
    old = [
        audit.Cell("domain:a", "site", frozenset("abcdef")),
        audit.Cell("domain:a", "lead", frozenset("abc")),
    ]
    new = [
        audit.Cell("domain:a", "site", frozenset("abcdefghi")),
        audit.Cell("domain:a", "lead", frozenset("abcg")),  # lead minus old lead = g alone
        audit.Cell("domain:a", "pooled", frozenset("defhi")),
    ]
    suppressed, passed = audit.audit_cells(old, new)
    assert passed and ("domain:a", "lead") in suppressed


def _card(groups: dict[str, int], threshold: int = 3):
    instrument = make_instrument([item("i1")], domains=("a",))
    responses = []
    for group, n in groups.items():
        for i in range(n):
            responses.append(
                ResponseInput(respondent_id=f"{group}{i}", group=group, answers={"i1": str(1 + i % 5)})
            )
    return score_responses(instrument, responses, privacy_threshold=threshold)


def test_disclosed_view_has_no_range_and_withholds_small_counts():
    card = disclose_scorecard(_card({"lead": 2}))
    domain = card.domains[0]
    assert domain.min is None and domain.max is None
    assert domain.suppressed and domain.counts_withheld and domain.dont_know == 0


def test_comments_follow_the_figures_they_sit_beside():
    card = disclose_scorecard(_card({"lead": 3, "staff": 1}))
    domain_id = card.domains[0].domain_id
    assert comment_visibility(card, domain_id, "staff") in ("unnamed", "hidden")
    assert comment_visibility(disclose_scorecard(_card({"lead": 2})), domain_id, "lead") == "hidden"


def test_plain_words_for_a_held_back_figure():
    assert more_needed_text(0, 3) == "shown when 3 more people have answered"
    assert more_needed_text(2, 3) == "shown when 1 more person has answered"
    assert more_needed_text(3, 3) == ""
