"""Reason sentences (app/scoring/reasons.py): one renderer, the exact wording docs/scoring.md
lists (section 15), translatable patterns, and scorecards stored before reasons were data."""

from __future__ import annotations

import re

import pytest
from scoring_support import SCORING_MD

from app.scoring.models import Reason, Scorecard
from app.scoring.reasons import PATTERNS, mid_sentence, render_reason

EXAMPLES = {
    "priority_line": (
        {"domain": "integration", "domain_title": "Team integration", "score": 59.5, "line": 60},
        "Team integration scored 59.5, below the priority line of 60.0",
    ),
    "critical_item": (
        {"domain": "a", "item": "t1", "item_text": "Peer staff attend.", "mean": 35.0, "limit": 50},
        "Critical item \u201cPeer staff attend.\u201d averaged 35.0, below 50.0",
    ),
    "domain_below": (
        {"domain": "a", "domain_title": "Team integration", "score": 47.5, "limit": 60.0},
        "Team integration scored 47.5, below 60.0",
    ),
    "item_below": (
        {"domain": "a", "item": "t3", "item_text": "Records.", "mean": 37.5, "limit": 40},
        "\u201cRecords.\u201d averaged 37.5, below 40.0",
    ),
    "dont_know_above": (
        {"domain": "a", "domain_title": "Purpose", "rate": 0.133, "rate_limit": 0.1},
        "13.3% of answers in Purpose were \u201cDon't know\u201d (more than 10.0%)",
    ),
    "gap_at_least": (
        {
            "domain": "a",
            "domain_title": "Purpose",
            "higher_group": "lead",
            "higher_label": "Leadership",
            "lower_group": "pooled",
            "lower_label": "Other groups (combined)",
            "higher_score": 80,
            "lower_score": 62.5,
            "difference": 17.5,
        },
        "Leadership and Other groups (combined) see Purpose differently (80.0 vs 62.5, a gap of 17.5 points)",
    ),
    "gap_between": (
        {
            "domain": "a",
            "domain_title": "Team integration",
            "first_group": "leadership",
            "first_label": "Leadership",
            "second_group": "peer_staff",
            "second_label": "Peer staff",
            "first_score": 72.0,
            "second_score": 48.5,
            "difference": 23.5,
        },
        "Leadership scored 72.0 and peer staff 48.5 on Team integration: a gap of 23.5 points",
    ),
    "text": ({"text": "A sentence from an older version."}, "A sentence from an older version."),
}


def test_every_code_has_a_pattern_and_an_example():
    assert set(PATTERNS) == set(EXAMPLES)


@pytest.mark.parametrize("code", sorted(EXAMPLES))
def test_each_reason_reads_exactly_as_documented(code):
    params, sentence = EXAMPLES[code]
    assert render_reason(Reason(code=code, params=params)) == sentence


def test_the_document_lists_every_code_with_its_pattern():
    section = (
        SCORING_MD.read_text(encoding="utf-8").split("## 15. Reason sentences", 1)[1].split("\n## ", 1)[0]
    )
    rows = dict(re.findall(r"^\| `(\w+)` \|[^|]*\| `?([^|`]*)`? \|$", section, re.M))
    assert set(rows) == set(PATTERNS)
    for code, documented in rows.items():
        # Same words around the values: the document names the values, the code its parameters.
        fixed_words = [part for part in re.split(r"\{[^}]*\}", PATTERNS[code]) if part.strip()]
        documented_words = [part for part in re.split(r"\{[^}]*\}", documented) if part.strip()]
        if code != "text":
            assert fixed_words == documented_words, code


def test_a_translation_changes_the_words_not_the_numbers():
    reason = Reason(code="domain_below", params=EXAMPLES["domain_below"][0])
    catalog = {PATTERNS["domain_below"]: "{domain_title} obtuvo {score}, por debajo de {limit}"}
    spanish = render_reason(reason, translate=lambda msgid: catalog.get(msgid, msgid))
    assert spanish == "Team integration obtuvo 47.5, por debajo de 60.0"
    with pytest.raises(ValueError, match="locale"):
        render_reason(reason, locale="xx")


def test_mid_sentence_lowers_a_plain_label_only():
    assert mid_sentence("Peer staff") == "peer staff"
    assert mid_sentence("HR staff") == "HR staff"
    assert mid_sentence("X") == "X"


def test_a_scorecard_stored_with_sentences_still_loads_and_renders():
    stored = {
        "instrument_id": "x",
        "instrument_version": "1",
        "n_respondents": 3,
        "respondents_by_group": {"lead": 3},
        "privacy_threshold": 3,
        "domains": [
            {
                "domain_id": "a",
                "title": "A",
                "score": 47.5,
                "level_id": None,
                "level_label": None,
                "n": 3,
                "n_below_coverage": 0,
                "sd": 1.0,
                "agreement": "high",
                "dont_know": 0,
                "not_applicable": 0,
                "answers_shown": 3,
                "dont_know_rate": 0.0,
                "dont_know_flag": False,
                "priority_reasons": ["A scored 47.5, below the priority line of 60"],
            }
        ],
        "strengths": [],
        "priorities": ["a"],
        "actions": [
            {
                "action_id": "x",
                "domain_id": "a",
                "title": "X",
                "rank": 1,
                "reasons": ["A scored 47.5, below 60"],
                "timeframe": "Soon",
                "evidence": ["ref"],
            }
        ],
    }
    card = Scorecard.model_validate(stored)
    assert [render_reason(r) for r in card.domain("a").priority_reasons] == [
        "A scored 47.5, below the priority line of 60"
    ]
    assert render_reason(card.actions[0].reasons[0]) == "A scored 47.5, below 60"
    assert card.domain("a").going_well == [] and card.top_items == []
