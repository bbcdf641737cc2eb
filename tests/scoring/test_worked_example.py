"""docs/scoring.md's worked example, run against the code: the YAML, the CSV and the expected
numbers are read from the document itself."""

from __future__ import annotations

import pytest
from scoring_support import DOCS, fenced_blocks, worked_example

from app.scoring import score_responses
from app.scoring.csv_responses import parse_responses_csv

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
    for domain_id, want in expected["domains"].items():
        got = card.domain(domain_id)
        for key, value in want.items():
            if key == "groups":
                assert {g.group: g.score for g in got.groups} == value, domain_id
            elif key == "gaps":
                assert [[g.higher_group, g.lower_group, g.difference] for g in got.gaps] == value, domain_id
            elif key == "items":
                assert {i.item_id: i.mean for i in got.items} == value, domain_id
            else:
                assert getattr(got, key) == value, f"{domain_id}.{key}"


def test_worked_example_reasons_read_as_the_document_says():
    card = score_responses(INSTRUMENT, parse_responses_csv(INSTRUMENT, RESPONSES_CSV), privacy_threshold=2)
    integration = card.domain("integration")
    assert integration.priority_reasons[0] == "Team integration scored 47.5, below the priority line of 60"
    assert integration.priority_reasons[1].endswith("averaged 35, below 50")
    role = next(a for a in card.actions if a.action_id == "role_training")
    assert role.reasons == ["Team integration scored 47.5, below 60"]
    listen = next(a for a in card.actions if a.action_id == "listen_sessions")
    assert listen.reasons == [
        "Leadership scored 87.5 and peer staff 64.6 on Clear purpose and inclusion: a gap of 22.9 points"
    ]
    purpose = next(a for a in card.actions if a.action_id == "purpose_statement")
    assert purpose.reasons[0].startswith("13.3% of answers in Clear purpose and inclusion")


def test_csv_layout_example_is_the_worked_example():
    (layout_example,) = fenced_blocks((DOCS / "csv-layout.md").read_text(encoding="utf-8"), "csv")
    assert layout_example == RESPONSES_CSV
