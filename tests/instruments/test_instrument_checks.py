"""Cross-checks: each case breaks one thing in the valid sample and expects one precise error."""

from __future__ import annotations

import pytest
from instrument_samples import VALID_INSTRUMENT, line_of, replace_once

from app.instruments.checks import check_instrument
from app.instruments.errors import InstrumentError, InstrumentInvalid
from app.instruments.loader import load_instrument_text

SOURCE = "mini.yaml"


def errors_of(text: str) -> list[InstrumentError]:
    with pytest.raises(InstrumentInvalid) as caught:
        load_instrument_text(text, source=SOURCE)
    return caught.value.errors


def assert_reported(text: str, code: str, path: str, fragment: str, occurrence: int = 1) -> InstrumentError:
    """The error with this code and path exists and sits on the line holding `fragment`."""
    errors = errors_of(text)
    matching = [error for error in errors if (error.code, error.path) == (code, path)]
    assert matching, f"no {code} at {path} in:\n" + "\n".join(map(str, errors))
    assert matching[0].line == line_of(text, fragment, occurrence)
    assert matching[0].file == SOURCE
    return matching[0]


def test_the_sample_is_valid_and_checks_run_without_lines():
    loaded = load_instrument_text(VALID_INSTRUMENT, source=SOURCE)
    assert check_instrument(loaded.instrument) == []


# (old text, new text, code, path, fragment on the reported line, which occurrence of it)
CASES = {
    "duplicate group": (
        "  - id: staff\n",
        "  - id: leaders\n",
        "duplicate-id",
        "groups[1].id",
        "- id: leaders",
        2,
    ),
    "duplicate scale": (
        "  - id: yesno\n",
        "  - id: agree\n",
        "duplicate-id",
        "scales[1].id",
        "- id: agree",
        2,
    ),
    "duplicate domain": (
        "  - id: resources\n    title: Resources",
        "  - id: culture\n    title: Resources",
        "duplicate-id",
        "domains[1].id",
        "- id: culture",
        2,
    ),
    "duplicate item": (
        "  - id: budget\n",
        "  - id: values_peers\n",
        "duplicate-id",
        "items[3].id",
        "- id: values_peers",
        2,
    ),
    "duplicate action": (
        "  - id: fund_roles\n",
        "  - id: name_a_champion\n",
        "duplicate-id",
        "actions[1].id",
        "- id: name_a_champion",
        2,
    ),
    "duplicate level": (
        "    - id: developing\n",
        "    - id: emerging\n",
        "duplicate-id",
        "scoring.levels[1].id",
        "- id: emerging",
        2,
    ),
    "duplicate option value": (
        '      - value: "2"\n',
        '      - value: "1"\n',
        "duplicate-id",
        "scales[0].options[1].value",
        'value: "1"',
        2,
    ),
    "duplicate language": (
        "languages: [en]",
        "languages: [en, en]",
        "duplicate-id",
        "languages[1]",
        "languages:",
        1,
    ),
    "unknown item domain": (
        "    domain: resources\n    text: There is",
        "    domain: resourcez\n    text: There is",
        "unknown-reference",
        "items[3].domain",
        "domain: resourcez",
        1,
    ),
    "unknown scale": (
        "    scale: yesno\n",
        "    scale: yes_no\n",
        "unknown-reference",
        "items[0].scale",
        "scale: yes_no",
        1,
    ),
    "unknown group": (
        "groups: [leaders]\n",
        "groups: [leaders,\n      boards]\n",
        "unknown-reference",
        "items[3].groups[1]",
        "boards]",
        1,
    ),
    "unknown show_if item": (
        "      item: employs_peers\n",
        "      item: nobody\n",
        "unknown-reference",
        "items[2].show_if.item",
        "item: nobody",
        1,
    ),
    "unknown action domain": (
        "    domain: resources\n    title: Fund",
        "    domain: money\n    title: Fund",
        "unknown-reference",
        "actions[1].domain",
        "domain: money",
        1,
    ),
    "unknown items_below item": (
        "items: [budget]",
        "items: [budgets]",
        "unknown-reference",
        "actions[1].when.items_below.items[0]",
        "items: [budgets]",
        1,
    ),
    "unknown critical item": (
        "critical_items: [values_peers]",
        "critical_items: [ghost]",
        "unknown-reference",
        "actions[0].when.critical_items[0]",
        "critical_items:",
        1,
    ),
    "critical_items must be critical": (
        "critical_items: [values_peers]",
        "critical_items: [budget]",
        "not-critical",
        "actions[0].when.critical_items[0]",
        "critical_items:",
        1,
    ),
    "unknown item evidence": (
        "evidence: [lee2021, smith2020]",
        "evidence: [lee2021, smith2021]",
        "unknown-reference",
        "items[3].evidence[1]",
        "smith2021",
        1,
    ),
    "unknown domain evidence": (
        "    evidence: [smith2020]\n  - id: resources",
        "    evidence: [nobody2020]\n  - id: resources",
        "unknown-reference",
        "domains[0].evidence[0]",
        "nobody2020",
        1,
    ),
    "unknown action evidence": (
        "    evidence: [lee2021]\n    priority",
        "    evidence: [lee]\n    priority",
        "unknown-reference",
        "actions[1].evidence[0]",
        "evidence: [lee]",
        1,
    ),
    "show_if on a later item": (
        '      item: employs_peers\n      in: ["yes"]',
        '      item: budget\n      in: ["1"]',
        "show-if-order",
        "items[2].show_if.item",
        "item: budget",
        1,
    ),
    "show_if on itself": (
        '      item: employs_peers\n      in: ["yes"]',
        '      item: peer_supervision\n      in: ["1"]',
        "show-if-loop",
        "items[2].show_if.item",
        "item: peer_supervision",
        1,
    ),
    "show_if value not in the scale": (
        'in: ["yes"]',
        'in: ["maybe"]',
        "unknown-option",
        "items[2].show_if.in[0]",
        'in: ["maybe"]',
        1,
    ),
    "show_if with both in and not_in": (
        'in: ["yes"]',
        'in: ["yes"]\n      not_in: ["no"]',
        "invalid-condition",
        "items[2].show_if",
        "show_if:",
        1,
    ),
    "show_if source never shown to the group": (
        "    text: Do you employ peer specialists?\n",
        "    text: Do you employ peer specialists?\n    groups: [leaders]\n",
        "show-if-groups",
        "items[2].groups",
        "groups: [staff]",
        1,
    ),
    "scored scale with one scored option": (
        'label: "Yes"\n        kind: choice',
        'label: "Yes"\n        score: 1',
        "scale-scoring",
        "scales[1].options",
        "options:",
        2,
    ),
    "scored option without score": (
        "        score: 3\n",
        "",
        "missing-score",
        "scales[0].options[2].score",
        'value: "3"',
        1,
    ),
    "scored option with infinite score": (
        "        score: 3\n",
        "        score: .inf\n",
        "missing-score",
        "scales[0].options[2].score",
        "score: .inf",
        1,
    ),
    "non-scored option with a score": (
        "kind: dont_know\n",
        "kind: dont_know\n        score: 0\n",
        "unexpected-score",
        "scales[0].options[3].score",
        "score: 0",
        1,
    ),
    "first level above 0": (
        "      min: 0\n",
        "      min: 5\n",
        "levels",
        "scoring.levels[0].min",
        "min: 5",
        1,
    ),
    "last level below 100": (
        "      max: 100\n",
        "      max: 99\n",
        "levels",
        "scoring.levels[2].max",
        "max: 99",
        1,
    ),
    "gap between levels": (
        "      min: 50\n",
        "      min: 55\n",
        "levels",
        "scoring.levels[1].min",
        "min: 55",
        1,
    ),
    "empty level": ("      max: 75\n", "      max: 50\n", "levels", "scoring.levels[1].max", "max: 50", 2),
    "agreement thresholds reversed": (
        "scoring:\n",
        "scoring:\n  agreement_high_sd: 30\n",
        "threshold-order",
        "scoring.agreement_high_sd",
        "agreement_high_sd",
        1,
    ),
    "domain without scored items": (
        "    scale: agree\n    groups: [leaders]",
        "    scale: yesno\n    groups: [leaders]",
        "empty-domain",
        "domains[1]",
        "- id: resources",
        1,
    ),
    "critical item on an unscored scale": (
        "    scale: yesno\n",
        "    scale: yesno\n    critical: true\n",
        "critical-unscored",
        "items[0].critical",
        "critical: true",
        1,
    ),
    "action without a trigger": (
        "      domain_below: 60\n      critical_items: [values_peers]\n",
        "      domain_below: null\n",
        "invalid-condition",
        "actions[0].when",
        "when:",
        1,
    ),
    "items_below on an unscored item": (
        "items: [budget]",
        "items: [employs_peers]",
        "unscored-item",
        "actions[1].when.items_below.items[0]",
        "items: [employs_peers]",
        1,
    ),
    "gap_between names an unknown group": (
        "      critical_items: [values_peers]\n",
        "      critical_items: [values_peers]\n"
        "      gap_between:\n        groups: [leaders,\n          board]\n        at_least: 20\n",
        "unknown-reference",
        "actions[0].when.gap_between.groups[1]",
        "board]",
        1,
    ),
    "gap_between names one group twice": (
        "      critical_items: [values_peers]\n",
        "      critical_items: [values_peers]\n      gap_between: {groups: [staff, staff], at_least: 20}\n",
        "invalid-condition",
        "actions[0].when.gap_between.groups[1]",
        "gap_between:",
        1,
    ),
    "gap_between with one group": (
        "      critical_items: [values_peers]\n",
        "      critical_items: [values_peers]\n      gap_between: {groups: [staff], at_least: 20}\n",
        "length",
        "actions[0].when.gap_between.groups",
        "gap_between:",
        1,
    ),
    "gap_between without a threshold": (
        "      critical_items: [values_peers]\n",
        "      critical_items: [values_peers]\n      gap_between:\n        groups: [leaders, staff]\n",
        "missing",
        "actions[0].when.gap_between.at_least",
        "gap_between:",
        1,
    ),
    "undeclared language": (
        "title: Mini readiness check",
        "title: {en: Mini, fr: Mini}",
        "translation-unknown-language",
        "title.fr",
        "title:",
        1,
    ),
    "empty text": (
        "    label: Staff\n",
        '    label: " "\n',
        "empty-text",
        "groups[1].label",
        'label: " "',
        1,
    ),
}


def broken_instrument(old: str, new: str) -> str:
    # The domain check needs both resources items unscored; the second one is changed here.
    text = replace_once(old, new)
    if new.startswith("    scale: yesno\n    groups: [leaders]"):
        text = replace_once(
            "    scale: agree\n    groups: [staff]", "    scale: yesno\n    groups: [staff]", text
        )
    return text


@pytest.mark.parametrize("case", sorted(CASES))
def test_cross_check(case):
    old, new, code, path, fragment, occurrence = CASES[case]
    assert_reported(broken_instrument(old, new), code, path, fragment, occurrence)


def test_show_if_loop_between_two_items_is_reported():
    text = replace_once(
        "    scale: yesno\n    evidence",
        '    scale: yesno\n    show_if:\n      item: peer_supervision\n      in: ["1"]\n    evidence',
    )
    text = replace_once("    groups: [staff]\n", "", text)
    error = assert_reported(text, "show-if-loop", "items[0].show_if.item", "item: peer_supervision")
    assert "lead back" in error.message


def test_gap_between_two_known_groups_is_valid():
    text = replace_once(
        "      critical_items: [values_peers]\n",
        "      critical_items: [values_peers]\n      gap_between: {groups: [leaders, staff], at_least: 20}\n",
    )
    rule = load_instrument_text(text, source=SOURCE).instrument.actions[0].when
    assert rule.gap_between is not None
    assert (rule.gap_between.groups, rule.gap_between.at_least) == (["leaders", "staff"], 20)


def test_scale_with_one_repeated_score_explains_what_is_needed():
    text = replace_once("        score: 2\n", "        score: 1\n")
    text = replace_once("        score: 3\n", "        score: 1\n", text)
    error = assert_reported(text, "scale-scoring", "scales[0].options", "options:")
    assert error.message == (
        "all scored options of scale 'agree' have the same score (1); "
        "a scored scale needs at least two different scores, such as 1 (lowest) to 5 (highest)"
    )


def test_a_declared_language_nothing_is_translated_into_is_one_error():
    text = replace_once("languages: [en]", "languages: [en, es]")
    errors = errors_of(text)
    assert [(e.code, e.path) for e in errors] == [("translation-missing", "languages[1]")]
    assert errors[0].line == line_of(text, "languages:")
    assert errors[0].message == (
        "languages lists 'es', but no text is translated into it; "
        "add the translations in mini.es.yaml beside this file, or remove 'es'"
    )


def test_bilingual_instrument_reports_every_untranslated_text():
    text = replace_once("languages: [en]", "languages: [en, es]")
    text = replace_once("title: Mini readiness check", "title: {en: Mini, es: Mini}", text)
    paths = {error.path for error in errors_of(text) if error.code == "translation-missing"}
    assert {
        "groups[0].label",
        "scales[0].label",
        "scales[0].options[0].label",
        "domains[0].title",
        "items[0].text",
        "items[2].help",
        "scoring.levels[0].label",
        "actions[0].title",
        "actions[0].rationale",
        "actions[0].steps[1]",
        "actions[0].timeframe",
    } <= paths
    assert "title" not in paths


def test_missing_translation_names_the_language_and_the_key_to_add():
    text = replace_once("languages: [en]", "languages: [en, es]")
    text = replace_once("title: Mini readiness check", "title: {en: Mini check}", text)
    text = replace_once("    label: Leaders\n", "    label: {en: Leaders, es: Líderes}\n", text)
    error = assert_reported(text, "translation-missing", "title", "title: {en")
    assert error.message == "the 'es' translation is missing"
    error = assert_reported(text, "translation-missing", "groups[1].label", "label: Staff")
    assert error.message == "the 'es' translation is missing; add 'groups.staff.label' to mini.es.yaml"


def test_single_language_accepts_a_mapping_with_that_language():
    load_instrument_text(replace_once("title: Mini readiness check", "title: {en: Mini}"), source=SOURCE)


def test_error_line_renders_as_file_line_path_message_code():
    error = assert_reported(
        replace_once("    scale: yesno\n", "    scale: yes_no\n"),
        "unknown-reference",
        "items[0].scale",
        "yes_no",
    )
    assert str(error) == (
        f"mini.yaml:{error.line}: items[0].scale: no scale has the id 'yes_no' (known: agree, yesno) "
        "[unknown-reference]"
    )
