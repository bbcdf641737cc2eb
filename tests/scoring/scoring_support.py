"""Builders shared by the scoring tests: small instruments written in code, and the worked example
read from docs/scoring.md (so the document and the code cannot drift apart)."""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from app.instruments.loader import load_instrument_text
from app.instruments.models import Instrument
from app.scoring import ResponseInput, visible_items

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCORING_MD = DOCS / "scoring.md"

LEVELS = [
    {"id": "beginning", "label": "Beginning", "min": 0, "max": 40},
    {"id": "developing", "label": "Developing", "min": 40, "max": 60},
    {"id": "established", "label": "Established", "min": 60, "max": 80},
    {"id": "strong", "label": "Strong", "min": 80, "max": 100},
]

AGREE5 = {
    "id": "agree5",
    "options": [
        *({"value": str(n), "label": str(n), "score": n} for n in range(1, 6)),
        {"value": "DK", "label": "Don't know", "kind": "dont_know"},
        {"value": "NA", "label": "Not applicable", "kind": "not_applicable"},
    ],
}
YESNO = {
    "id": "yesno",
    "options": [
        {"value": "yes", "label": "Yes", "kind": "choice"},
        {"value": "no", "label": "No", "kind": "choice"},
        {"value": "DK", "label": "Don't know", "kind": "dont_know"},
    ],
}


def item(item_id: str, domain: str = "a", **extra: Any) -> dict[str, Any]:
    return {
        "id": item_id,
        "domain": domain,
        "scale": "agree5",
        "text": f"Item {item_id}",
        "evidence": ["ref"],
        **extra,
    }


def action(action_id: str, domain: str, when: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": action_id,
        "domain": domain,
        "title": f"Action {action_id}",
        "rationale": "Because.",
        "steps": ["Do it."],
        "timeframe": "Soon",
        "evidence": ["ref"],
        "when": when,
        **extra,
    }


def make_instrument(
    items: list[dict[str, Any]],
    *,
    domains: tuple[str, ...] = ("a", "b"),
    groups: tuple[str, ...] = ("lead", "staff", "peer"),
    scales: list[dict[str, Any]] | None = None,
    actions: list[dict[str, Any]] | None = None,
    group_labels: dict[str, str] | None = None,
    **scoring: Any,
) -> Instrument:
    return Instrument.model_validate(
        {
            "id": "test",
            "version": "1.0",
            "title": "Test",
            "references": {"ref": {"citation": "A reference."}},
            "groups": [{"id": g, "label": (group_labels or {}).get(g, g.title())} for g in groups],
            "scales": scales or [AGREE5, YESNO],
            "domains": [{"id": d, "title": f"Domain {d.upper()}"} for d in domains],
            "items": items,
            "scoring": {"levels": LEVELS, **scoring},
            "actions": actions or [],
        }
    )


def fenced_blocks(markdown: str, info: str) -> list[str]:
    """The contents of every fenced code block whose info string is exactly `info`."""
    pattern = re.compile(r"^```" + re.escape(info) + r"[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
    return [m.group(1) for m in pattern.finditer(markdown)]


def worked_example() -> tuple[Instrument, str, list[dict[str, Any]]]:
    """(instrument, responses CSV, expected results) from docs/scoring.md's worked example."""
    markdown = SCORING_MD.read_text(encoding="utf-8")
    (instrument_yaml,) = fenced_blocks(markdown, "yaml example-instrument")
    (responses_csv,) = fenced_blocks(markdown, "csv example-responses")
    expected = [YAML(typ="safe").load(block) for block in fenced_blocks(markdown, "yaml example-expected")]
    # The full loader, so the example is a valid instrument by every check authors face.
    instrument = load_instrument_text(instrument_yaml, source="docs/scoring.md").instrument
    return instrument, responses_csv, expected


def own_condition_scores(instrument: Instrument, response: ResponseInput) -> dict[str, Fraction | None]:
    """One respondent's condition scores, exactly, written straight from docs/scoring.md sections
    2-3 (an oracle for the property tests: the rules module keeps these internal)."""

    def number(value: float) -> Fraction:
        return Fraction(Decimal(repr(value)))

    shown = visible_items(instrument, group=response.group, answers=response.answers)
    out: dict[str, Fraction | None] = {}
    for domain in instrument.domains:
        values: list[Fraction] = []
        applicable = 0
        seen = False
        for item in shown:
            options = instrument.scale_by_id(item.scale).options
            scored = [number(o.score) for o in options if o.kind == "scored" and o.score is not None]
            if item.domain != domain.id or not scored:
                continue
            seen = True
            answer = next((o for o in options if o.value == response.answers.get(item.id)), None)
            if answer is not None and answer.kind == "not_applicable":
                continue
            applicable += 1
            if answer is not None and answer.kind == "scored":
                low, high = min(scored), max(scored)
                value = (number(answer.score) - low) / (high - low) * 100  # type: ignore[arg-type]
                values.append(100 - value if item.reverse else value)
        enough = (
            seen
            and applicable > 0
            and Fraction(len(values), applicable) >= number(instrument.scoring.coverage)
        )
        out[domain.id] = sum(values, Fraction(0)) / len(values) if enough and values else None
    return out
