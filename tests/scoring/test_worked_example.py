"""docs/scoring.md's worked example, run against the code: the YAML, the CSV and the expected
numbers, item lists and reason sentences are read from the document itself."""

from __future__ import annotations

import pytest
from scoring_support import DOCS, fenced_blocks, worked_example

from app.scoring import score_responses
from app.scoring.csv_responses import parse_responses_csv
from app.scoring.reasons import render_reasons

INSTRUMENT, RESPONSES_CSV, EXPECTED = worked_example()


def test_the_document_has_the_example_blocks():
    assert [e["privacy_threshold"] for e in EXPECTED] == [2, 3]


@pytest.mark.parametrize("expected", EXPECTED, ids=lambda e: f"threshold-{e['privacy_threshold']}")
def test_worked_example_matches_the_document(expected):
    responses = parse_responses_csv(INSTRUMENT, RESPONSES_CSV)
    card = score_responses(INSTRUMENT, responses, privacy_threshold=expected["privacy_threshold"])

    assert card.suppressed_groups == expected["suppressed_groups"]
    assert card.strengths == expected["strengths"]
    assert card.priorities == expected["priorities"]
    assert [a.action_id for a in card.actions] == expected["actions"]
    assert [a.rank for a in card.actions] == list(range(1, len(expected["actions"]) + 1))
    assert card.top_items == expected["top_items"]
    if "action_reasons" in expected:
        assert {a.action_id: render_reasons(a.reasons) for a in card.actions} == expected["action_reasons"]
    for domain_id, want in expected["domains"].items():
        got = card.domain(domain_id)
        for key, value in want.items():
            if key == "groups":
                assert {g.group: g.score for g in got.groups} == value, domain_id
            elif key == "gaps":
                assert [[g.higher_group, g.lower_group, g.difference] for g in got.gaps] == value, domain_id
            elif key == "items":
                assert {i.item_id: i.mean for i in got.items} == value, domain_id
            elif key == "priority_reasons":
                assert render_reasons(got.priority_reasons) == value, domain_id
            else:
                assert getattr(got, key) == value, f"{domain_id}.{key}"


def test_the_first_expected_block_checks_every_reason_and_list():
    """The threshold-2 block spells out the sentences and item lists, so the document shows them."""
    first = EXPECTED[0]
    assert set(first["action_reasons"]) == set(first["actions"])
    for want in first["domains"].values():
        assert {"priority_reasons", "going_well", "to_work_on"} <= set(want)


def test_csv_layout_example_is_the_worked_example():
    (layout_example,) = fenced_blocks((DOCS / "csv-layout.md").read_text(encoding="utf-8"), "csv")
    assert layout_example == RESPONSES_CSV
