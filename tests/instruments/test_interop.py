"""FHIR R4 Questionnaire and REDCap data dictionary exports of the shipped instruments: both
Questionnaires validate with the fhir.resources R4B models, show_if maps to enableWhen with the
not_in/unanswered rule, and a rule a format cannot express is an error, never a silent drop."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner
from fhir.resources.R4B.questionnaire import Questionnaire

from app.instruments import catalog
from app.instruments.interop import (
    GROUP_FIELD,
    REDCAP_COLUMNS,
    NotExpressible,
    fhir_questionnaire,
    redcap_dictionary,
)
from app.paths import INSTRUMENTS_DIR

SHIPPED = ["readiness_full", "quick_check"]


def _instrument(instrument_id: str):
    found = catalog.find_instrument(instrument_id, INSTRUMENTS_DIR)
    assert found is not None
    return found.instrument


def _walk(items):
    for item in items:
        yield item
        yield from _walk(item.get("item", []))


@pytest.mark.parametrize("instrument_id", SHIPPED)
def test_shipped_questionnaires_validate_and_keep_every_item(instrument_id):
    instrument = _instrument(instrument_id)
    resource = fhir_questionnaire(instrument)
    parsed = Questionnaire.model_validate(resource)
    assert parsed.version == instrument.version and parsed.status == "active"
    link_ids = {i["linkId"] for i in _walk(resource["item"])}
    assert {i.id for i in instrument.items} <= link_ids and GROUP_FIELD in link_ids


def test_show_if_and_group_targeting_map_to_enable_when():
    instrument = _instrument("readiness_full")
    questions = {i["linkId"]: i for i in _walk(fhir_questionnaire(instrument)["item"])}
    target = next(i for i in instrument.items if i.show_if is not None and i.show_if.in_)
    when = questions[target.id]
    assert when["enableBehavior"] == "any"
    assert [w["answerCoding"]["code"] for w in when["enableWhen"]] == target.show_if.in_
    assert all(w["operator"] == "=" for w in when["enableWhen"])
    # a group-only item sits in a group that tests the respondent group (AND with its own show_if)
    wrapper = questions[f"{target.id}__groups"]
    assert [w["answerCoding"]["code"] for w in wrapper["enableWhen"]] == target.groups
    reverse = next(i for i in instrument.items if i.reverse)
    weights = [
        o["extension"][0]["valueDecimal"] for o in questions[reverse.id]["answerOption"] if "extension" in o
    ]
    assert weights == sorted(weights, reverse=True)  # reversed weights


def test_not_in_needs_an_answer_as_peerready_does():
    instrument = _instrument("quick_check")
    item = instrument.items[1]
    changed = instrument.model_copy(deep=True)
    changed.items[1] = item.model_copy(
        update={
            "show_if": type(item)
            .model_fields["show_if"]
            .annotation.__args__[0](item=instrument.items[0].id, not_in=["1"])
        }
    )  # type: ignore[union-attr]
    changed.model_post_init(None)
    question = {i["linkId"]: i for i in _walk(fhir_questionnaire(changed)["item"])}[item.id]
    assert question["enableBehavior"] == "all"
    assert question["enableWhen"][0] == {
        "question": instrument.items[0].id,
        "operator": "exists",
        "answerBoolean": True,
    }
    assert question["enableWhen"][1]["operator"] == "!="
    rows = list(csv.reader(io.StringIO(redcap_dictionary(changed).decode("utf-8"))))
    logic = {r[0]: r[11] for r in rows[1:]}
    assert logic[item.id] == f"([{instrument.items[0].id}] <> '' and [{instrument.items[0].id}] <> '1')"

    never = changed.model_copy(deep=True)
    never.items[1] = item.model_copy(
        update={
            "show_if": type(never.items[1].show_if)(
                item=instrument.items[0].id, **{"in": ["1"]}, not_in=["1"]
            )
        }
    )
    never.model_post_init(None)
    with pytest.raises(NotExpressible, match="can never hold"):
        fhir_questionnaire(never)


@pytest.mark.parametrize("instrument_id", SHIPPED)
def test_redcap_dictionary_has_the_18_columns_and_every_item(instrument_id):
    instrument = _instrument(instrument_id)
    rows = list(csv.reader(io.StringIO(redcap_dictionary(instrument).decode("utf-8"))))
    assert tuple(rows[0]) == REDCAP_COLUMNS and all(len(r) == 18 for r in rows)
    assert [r[0] for r in rows[1:]] == [
        "record_id",  # REDCap's record identifier must come first (a text field)
        GROUP_FIELD,
        *(i.id for d in instrument.domains for i in instrument.items_in(d.id)),
    ]
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name["record_id"][3] == "text"
    for item in instrument.items:
        assert by_name[item.id][3] == "radio"
        assert ("@PEERREADY-REVERSE" in by_name[item.id][17]) == item.reverse


def test_cli_writes_both(tmp_path):
    from app.cli import cli

    out = tmp_path / "q.json"
    result = CliRunner().invoke(cli, ["export", "fhir", "quick_check", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["resourceType"] == "Questionnaire"
    printed = CliRunner().invoke(cli, ["export", "redcap", "quick_check"])
    assert printed.exit_code == 0 and printed.stdout.startswith("Variable / Field Name,")


def test_response_bundle_keeps_skipped_apart_from_not_asked():
    """FHIR leaves unanswered questions out; the UNANSWERED extension keeps "shown but skipped"
    (which counts against coverage) apart from "not asked", so scores survive the round trip."""
    import random

    from app.instruments.interop import UNANSWERED, fhir_response_bundle, responses_from_fhir_bundle
    from app.scoring.models import ResponseInput
    from app.scoring.research import research_table
    from app.scoring.rules import score_responses, shown_items
    from app.services.report_samples import sample_respondents

    instrument = _instrument("readiness_full")
    people = sample_respondents(instrument, random.Random(3), 8, lean=0.5)
    inputs = []
    for n, person in enumerate(people):
        answers = dict(person.answers)
        for item in shown_items(
            instrument, ResponseInput(respondent_id="x", group=person.group, answers=answers)
        )[: 6 if n % 2 else 0]:
            if not any(i.show_if and i.show_if.item == item.id for i in instrument.items):
                answers.pop(item.id, None)  # skip the first few questions (none a show_if depends on)
        inputs.append(ResponseInput(respondent_id=f"p{n}", group=person.group, answers=answers))
    bundle = fhir_response_bundle(instrument, research_table(instrument, inputs, rng=random.Random(1)))
    skipped = [e for entry in bundle["entry"] for e in entry["resource"].get("extension", [])]
    assert skipped and all(e["url"] == UNANSWERED for e in skipped)
    before = score_responses(instrument, inputs)
    after = score_responses(instrument, responses_from_fhir_bundle(instrument, bundle))
    assert any(d.n_below_coverage for d in before.domains)
    for old, new in zip(before.domains, after.domains, strict=True):
        assert (new.score, new.n, new.n_below_coverage, new.answers_shown) == (
            old.score,
            old.n,
            old.n_below_coverage,
            old.answers_shown,
        )
