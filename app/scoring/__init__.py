"""The rules module: pure functions from (instrument, responses) to a scorecard.

Every number PeerReady shows comes from here. No I/O, no web, no database; see docs/scoring.md.
"""

from app.scoring.models import (
    DomainResult,
    GroupScore,
    ItemResult,
    PerceptionGap,
    ResponseInput,
    Scorecard,
    SelectedAction,
)
from app.scoring.rules import score_responses, visible_items

__all__ = [
    "DomainResult",
    "GroupScore",
    "ItemResult",
    "PerceptionGap",
    "ResponseInput",
    "Scorecard",
    "SelectedAction",
    "score_responses",
    "visible_items",
]
