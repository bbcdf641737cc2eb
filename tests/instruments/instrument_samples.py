"""A small valid two-domain instrument, written out in full so tests can break one line of it.

Tests assert the line an error is reported on; `line_of` finds it by its text, so the sample can
grow without renumbering every test.
"""

from __future__ import annotations

VALID_INSTRUMENT = """\
id: mini
version: "1.0"
title: Mini readiness check
languages: [en]
references:
  smith2020:
    citation: Smith (2020). Peer support in practice.
  lee2021:
    citation: Lee (2021). Organizational readiness.
    url: https://example.org/lee2021
groups:
  - id: leaders
    label: Leaders
  - id: staff
    label: Staff
scales:
  - id: agree
    label: Agreement
    options:
      - value: "1"
        label: Disagree
        score: 1
      - value: "2"
        label: Neutral
        score: 2
      - value: "3"
        label: Agree
        score: 3
      - value: dk
        label: Don't know
        kind: dont_know
  - id: yesno
    options:
      - value: "yes"
        label: "Yes"
        kind: choice
      - value: "no"
        label: "No"
        kind: choice
domains:
  - id: culture
    title: Culture
    evidence: [smith2020]
  - id: resources
    title: Resources
items:
  - id: employs_peers
    domain: culture
    text: Do you employ peer specialists?
    scale: yesno
    evidence: [smith2020]
  - id: values_peers
    domain: culture
    text: Leaders value peer specialists.
    scale: agree
    required: true
    critical: true
    evidence: [smith2020]
  - id: peer_supervision
    domain: resources
    text: Peer specialists get supervision from someone who knows peer work.
    help: Supervision can be inside or outside the agency.
    scale: agree
    groups: [staff]
    show_if:
      item: employs_peers
      in: ["yes"]
    evidence: [lee2021]
  - id: budget
    domain: resources
    text: There is a budget line for peer roles.
    scale: agree
    groups: [leaders]
    reverse: false
    evidence: [lee2021, smith2020]
scoring:
  levels:
    - id: emerging
      label: Emerging
      min: 0
      max: 50
    - id: developing
      label: Developing
      min: 50
      max: 75
    - id: established
      label: Established
      min: 75
      max: 100
actions:
  - id: name_a_champion
    domain: culture
    title: Name a leadership champion
    rationale: Peer roles last when a leader owns them.
    steps:
      - Choose a leader.
      - Announce the role.
    timeframe: 1 month
    evidence: [smith2020]
    when:
      domain_below: 60
      critical_items: [values_peers]
  - id: fund_roles
    domain: resources
    title: Fund peer roles
    rationale: Stable funding keeps peer roles.
    steps: [Add a budget line.]
    timeframe: 6 months
    evidence: [lee2021]
    priority: 1
    when:
      items_below:
        items: [budget]
        score: 50
"""


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    """1-based line of the `occurrence`-th line containing `fragment`."""
    matches = [number for number, line in enumerate(text.splitlines(), start=1) if fragment in line]
    return matches[occurrence - 1]


def replace_once(old: str, new: str, text: str = VALID_INSTRUMENT) -> str:
    """`text` (the valid instrument by default) with the single occurrence of `old` replaced."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)
