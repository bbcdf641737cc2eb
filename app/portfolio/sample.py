"""Synthetic, valid responses for benchmarks and tests (never used for real data).

Every answer respects the instrument: only items visible to the respondent's group and earlier
answers are answered, and every value is an option of the item's scale.
"""

from __future__ import annotations

import random

from app.instruments.models import Instrument
from app.scoring import ResponseInput, visible_items


def synthetic_response(
    instrument: Instrument, *, respondent_id: str, group: str, rng: random.Random, lean: float = 3.5
) -> ResponseInput:
    """One respondent's answers; `lean` is the scored option (1-5 on a 5-point scale) they tend to."""
    answers: dict[str, str] = {}
    while True:
        pending = [i for i in visible_items(instrument, group=group, answers=answers) if i.id not in answers]
        if not pending:
            break
        for item in pending:
            options = instrument.scale_by_id(item.scale).options
            scored = [o for o in options if o.kind == "scored"]
            if not scored:
                answers[item.id] = rng.choice(options).value
                continue
            unscored = [o for o in options if o.kind in ("dont_know", "not_applicable")]
            if unscored and rng.random() < 0.05:
                answers[item.id] = rng.choice(unscored).value
                continue
            index = round(rng.gauss(lean - 1, 0.9))
            answers[item.id] = scored[max(0, min(len(scored) - 1, index))].value
    return ResponseInput(respondent_id=respondent_id, group=group, answers=answers)


def synthetic_responses(
    instrument: Instrument, *, n: int, seed: int, lean: float = 3.5, groups: list[str] | None = None
) -> list[ResponseInput]:
    """`n` respondents spread over `groups` (default: all the instrument's groups, round robin)."""
    rng = random.Random(seed)
    group_ids = groups or [g.id for g in instrument.groups]
    return [
        synthetic_response(
            instrument,
            respondent_id=f"r{index + 1}",
            group=group_ids[index % len(group_ids)],
            rng=rng,
            lean=lean,
        )
        for index in range(n)
    ]
