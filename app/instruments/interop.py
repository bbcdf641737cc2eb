"""An instrument in other tools' formats: an HL7 FHIR R4 Questionnaire (validated with the
`fhir.resources` R4B models, whose Questionnaire is R4's) and a REDCap data dictionary. Pure.

What each format can and cannot say is in docs/interoperability.md. A rule the target format
cannot express raises `NotExpressible` naming the item: never a silent drop.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from app.instruments.models import Instrument, Item, ShowIf, text
from app.scoring.csv_responses import NOT_ASKED
from app.scoring.models import ResponseInput
from app.scoring.research import ResearchTable

__all__ = [
    "GROUP_FIELD",
    "RECORD_ID",
    "UNANSWERED",
    "NotExpressible",
    "REDCAP_COLUMNS",
    "fhir_questionnaire",
    "fhir_response_bundle",
    "questionnaire_canonical",
    "redcap_dictionary",
    "responses_from_fhir_bundle",
]

#: The question both exports add first: the respondent group, which PeerReady knows from the
#: invitation link but another tool must ask (group-targeted items depend on it).
GROUP_FIELD = "respondent_group"
#: The first field of the REDCap dictionary: REDCap's record identifier (a text field).
RECORD_ID = "record_id"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
BASE = "urn:peerready"
#: Extension on a QuestionnaireResponse, once per item the respondent was shown but left blank.
#: FHIR leaves unanswered questions out of a response (FHIR-25949), which would make "skipped"
#: look like "not asked"; the coverage rule needs the difference (docs/scoring.md section 3).
UNANSWERED = f"{BASE}:fhir:unanswered"


class NotExpressible(ValueError):
    """The instrument uses a rule the target format cannot express."""


def _scale_system(scale_id: str) -> str:
    return f"{BASE}:scale:{scale_id}"


def _effective_values(item: Item, cond: ShowIf, instrument: Instrument) -> tuple[str, list[str]]:
    """("in", values) or ("not_in", values) for a show_if, with in and not_in combined."""
    source = instrument.item_by_id(cond.item)
    options = [o.value for o in instrument.scale_by_id(source.scale).options]
    if cond.in_ is not None:
        values = [v for v in cond.in_ if cond.not_in is None or v not in cond.not_in]
        values = [v for v in values if v in options]
        if not values:
            raise NotExpressible(
                f"item {item.id}: its show_if can never hold (no answer of {cond.item} is both in and not in"
                " its lists), so no target format can show it"
            )
        return "in", values
    assert cond.not_in is not None
    return "not_in", list(cond.not_in)


# --- FHIR ------------------------------------------------------------------------------------


def _coding(instrument: Instrument, item: Item, value: str, lang: str) -> dict[str, Any]:
    option = instrument.option(item, value)
    coding: dict[str, Any] = {"system": _scale_system(item.scale), "code": value}
    if option is not None:
        coding["display"] = text(option.label, lang)
    return coding


def _answer_options(instrument: Instrument, item: Item, lang: str) -> list[dict[str, Any]]:
    scale = instrument.scale_by_id(item.scale)
    scored = [o.score for o in scale.options if o.kind == "scored" and o.score is not None]
    low, high = (min(scored), max(scored)) if scored else (0.0, 0.0)
    found = []
    for option in scale.options:
        entry: dict[str, Any] = {
            "valueCoding": {
                "system": _scale_system(scale.id),
                "code": option.value,
                "display": text(option.label, lang),
            }
        }
        if option.kind == "scored" and option.score is not None:
            # Reverse items carry their reversed weight: a tool that sums ordinalValue scores them right.
            weight = low + high - option.score if item.reverse else option.score
            entry["extension"] = [{"url": ORDINAL_VALUE, "valueDecimal": weight}]
        found.append(entry)
    return found


def _enable_when(instrument: Instrument, item: Item, lang: str) -> dict[str, Any]:
    cond = item.show_if
    if cond is None:
        return {}
    source = instrument.item_by_id(cond.item)
    kind, values = _effective_values(item, cond, instrument)
    if kind == "in":
        # "=" is true when the answer equals the value; an unanswered source matches none: hidden.
        return {
            "enableWhen": [
                {"question": cond.item, "operator": "=", "answerCoding": _coding(instrument, source, v, lang)}
                for v in values
            ],
            "enableBehavior": "any",
        }
    # "!=" alone is TRUE for an unanswered source, which PeerReady hides: require an answer too.
    return {
        "enableWhen": [
            {"question": cond.item, "operator": "exists", "answerBoolean": True},
            *(
                {
                    "question": cond.item,
                    "operator": "!=",
                    "answerCoding": _coding(instrument, source, v, lang),
                }
                for v in values
            ),
        ],
        "enableBehavior": "all",
    }


def _group_targeted(instrument: Instrument, item: Item) -> bool:
    """The item is asked of some groups only (so the Questionnaire wraps it in ITEM__groups)."""
    return bool(item.groups) and not {g.id for g in instrument.groups} <= set(item.groups)


def _question(instrument: Instrument, item: Item, lang: str) -> dict[str, Any]:
    question: dict[str, Any] = {
        "linkId": item.id,
        "text": text(item.text, lang),
        "type": "choice",
        # Coverage rules let people skip questions; a required item is still checked by PeerReady.
        "required": item.required,
        "answerOption": _answer_options(instrument, item, lang),
        **_enable_when(instrument, item, lang),
    }
    if not _group_targeted(instrument, item):
        return question
    # Group targeting AND a show_if: a disabled parent disables its children, which gives AND.
    return {
        "linkId": f"{item.id}__groups",
        "type": "group",
        "enableWhen": [
            {
                "question": GROUP_FIELD,
                "operator": "=",
                "answerCoding": {"system": f"{BASE}:groups:{instrument.id}", "code": g},
            }
            for g in item.groups
        ],
        "enableBehavior": "any",
        "item": [question],
    }


def fhir_questionnaire(instrument: Instrument, *, lang: str | None = None) -> dict[str, Any]:
    """The instrument as a FHIR R4 Questionnaire (JSON-ready dict), validated with the R4B model.

    Scoring, coverage, privacy and actions stay in PeerReady: a Questionnaire carries questions,
    answers and visibility only."""
    from fhir.resources.R4B.questionnaire import Questionnaire

    lang = lang or instrument.languages[0]
    groups_system = f"{BASE}:groups:{instrument.id}"
    items: list[dict[str, Any]] = [
        {
            "linkId": GROUP_FIELD,
            "text": "Which group are you answering as?",
            "type": "choice",
            "required": True,
            "answerOption": [
                {"valueCoding": {"system": groups_system, "code": g.id, "display": text(g.label, lang)}}
                for g in instrument.groups
            ],
        }
    ]
    for domain in instrument.domains:
        items.append(
            {
                "linkId": domain.id,
                "text": text(domain.title, lang),
                "type": "group",
                "item": [_question(instrument, i, lang) for i in instrument.items_in(domain.id)],
            }
        )
    resource = {
        "resourceType": "Questionnaire",
        "url": questionnaire_url(instrument),
        "version": instrument.version,
        "name": "".join(part.capitalize() for part in instrument.id.split("_")),
        "title": text(instrument.title, lang),
        "status": "active",
        "language": lang,
        "item": items,
    }
    Questionnaire.model_validate(resource)  # raises pydantic.ValidationError on a malformed resource
    return resource


def questionnaire_url(instrument: Instrument) -> str:
    return f"{BASE}:questionnaire:{instrument.id}"


def questionnaire_canonical(instrument: Instrument) -> str:
    """The canonical reference `url|version` a QuestionnaireResponse gives its Questionnaire."""
    return f"{questionnaire_url(instrument)}|{instrument.version}"


def _response_items(instrument: Instrument, answers: Mapping[str, str], lang: str) -> list[dict[str, Any]]:
    """The answered items, nested as in the Questionnaire (condition group, then the ITEM__groups
    wrapper of a group-targeted item, then the question); groups without an answer left out."""
    found = []
    for domain in instrument.domains:
        children = []
        for item in instrument.items_in(domain.id):
            if item.id not in answers:
                continue
            question = {
                "linkId": item.id,
                "answer": [{"valueCoding": _coding(instrument, item, answers[item.id], lang)}],
            }
            if _group_targeted(instrument, item):
                question = {"linkId": f"{item.id}__groups", "item": [question]}
            children.append(question)
        if children:
            found.append({"linkId": domain.id, "item": children})
    return found


def fhir_response_bundle(
    instrument: Instrument, table: ResearchTable, *, lang: str | None = None
) -> dict[str, Any]:
    """The rows of a research table (app.scoring.research: counted respondents in random order,
    labelled after shuffling, no group, comments, dates, ids or tokens) as a FHIR R4 Bundle of
    type `collection` holding one QuestionnaireResponse per row, each pointing at the
    Questionnaire of `fhir_questionnaire` by `url|version`. Validated with the R4B models.

    A response holds the items answered (DK and N/A are answers: their codes) and, as UNANSWERED
    extensions, the items shown but left blank; items not asked are absent. It has no `authored`,
    `author`, `subject` or `source`, and no answer to `respondent_group`."""
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

    if table.instrument_id != instrument.id or table.instrument_version != instrument.version:
        raise ValueError("the research table is of another instrument or version")
    lang = lang or instrument.languages[0]
    item_ids = list(table.header[1:])
    entries = []
    for row in table.rows:
        label, cells = row[0], dict(zip(item_ids, row[1:], strict=True))
        answers = {item_id: value for item_id, value in cells.items() if value not in ("", NOT_ASKED)}
        blank = [item.id for item in instrument.items if cells.get(item.id) == ""]
        resource: dict[str, Any] = {
            "resourceType": "QuestionnaireResponse",
            "id": label,
            "questionnaire": questionnaire_canonical(instrument),
            "status": "completed",
            "language": lang,
        }
        if blank:
            resource["extension"] = [{"url": UNANSWERED, "valueString": item_id} for item_id in blank]
        items = _response_items(instrument, answers, lang)
        if items:
            resource["item"] = items
        QuestionnaireResponse.model_validate(resource)
        # A random urn:uuid per entry: the label already says nothing; this says nothing either.
        entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": resource})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    Bundle.model_validate(bundle)
    return bundle


def _walk_answers(items: list[Mapping[str, Any]]) -> Iterator[tuple[str, list[Mapping[str, Any]]]]:
    for item in items:
        yield str(item.get("linkId", "")), list(item.get("answer", []))
        yield from _walk_answers(list(item.get("item", [])))
        for answer in item.get("answer", []):
            yield from _walk_answers(list(answer.get("item", [])))


def responses_from_fhir_bundle(instrument: Instrument, bundle: Mapping[str, Any]) -> list[ResponseInput]:
    """The responses of a bundle written by `fhir_response_bundle`, as rules-module input (rows
    without a group, with the items they were asked), for re-scoring. Raises ValueError naming the
    entry for a response to another Questionnaire or an answer that is not an option."""
    responses = []
    canonical = questionnaire_canonical(instrument)
    for index, entry in enumerate(bundle.get("entry", []), start=1):
        resource = entry.get("resource", {})
        where = f"entry {index} ({resource.get('id', '?')})"
        if (
            resource.get("resourceType") != "QuestionnaireResponse"
            or resource.get("questionnaire") != canonical
        ):
            raise ValueError(f"{where}: not a QuestionnaireResponse to {canonical}")
        answers: dict[str, str] = {}
        for link_id, given in _walk_answers(list(resource.get("item", []))):
            if not given or not instrument.has_item(link_id):
                continue
            item = instrument.item_by_id(link_id)
            code = str(given[0].get("valueCoding", {}).get("code", ""))
            if instrument.option(item, code) is None:
                raise ValueError(f"{where}: {code!r} is not an answer to {link_id}")
            answers[link_id] = code
        blank = {
            str(e.get("valueString")) for e in resource.get("extension", []) if e.get("url") == UNANSWERED
        }
        responses.append(
            ResponseInput(
                respondent_id=str(resource.get("id") or f"entry-{index}"),
                group="",
                answers=answers,
                asked=frozenset(answers) | frozenset(blank),
            )
        )
    return responses


# --- REDCap ----------------------------------------------------------------------------------

REDCAP_COLUMNS = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
_CODE = re.compile(r"^[A-Za-z0-9_.-]+$")


def _choices(pairs: list[tuple[str, str]], where: str) -> str:
    for code, label in pairs:
        if "|" in label:
            raise NotExpressible(
                f"{where}: the label {label!r} contains '|', which REDCap uses between choices"
            )
        if not _CODE.match(code) or code == "":
            raise NotExpressible(f"{where}: the code {code!r} is not a REDCap choice code")
    return " | ".join(f"{code}, {label}" for code, label in pairs)


def _branching(instrument: Instrument, item: Item) -> str:
    parts = []
    if item.groups and not {g.id for g in instrument.groups} <= set(item.groups):
        parts.append("(" + " or ".join(f"[{GROUP_FIELD}] = '{g}'" for g in item.groups) + ")")
    if item.show_if is not None:
        kind, values = _effective_values(item, item.show_if, instrument)
        src = item.show_if.item
        if kind == "in":
            parts.append("(" + " or ".join(f"[{src}] = '{v}'" for v in values) + ")")
        else:
            # Like PeerReady (and unlike a bare <>), an unanswered source hides the field.
            parts.append("(" + " and ".join([f"[{src}] <> ''", *(f"[{src}] <> '{v}'" for v in values)]) + ")")
    return " and ".join(parts)


def redcap_dictionary(instrument: Instrument, *, lang: str | None = None) -> bytes:
    """The instrument as a REDCap data dictionary CSV (the 18 columns REDCap's "Data Dictionary"
    upload expects): `record_id` (REDCap's record identifier), the respondent-group field, then
    one radio field per item, each condition's title as the Section Header of its first item,
    "Don't know" and N/A as explicit choices, the reverse flag and condition id in Field
    Annotation (custom tags REDCap ignores)."""
    lang = lang or instrument.languages[0]
    form = instrument.id
    rows: list[list[str]] = [list(REDCAP_COLUMNS)]

    def row(
        name: str,
        section: str,
        label: str,
        choices: str,
        branching: str,
        required: bool,
        note: str,
        kind: str = "radio",
    ) -> None:
        if not _FIELD_NAME.match(name):
            raise NotExpressible(f"item {name}: not a REDCap field name (lowercase letters, digits, _)")
        rows.append(
            [
                name,
                form,
                section,
                kind,
                label,
                choices,
                "",
                "",
                "",
                "",
                "",
                branching,
                "y" if required else "",
                "",
                "",
                "",
                "",
                note,
            ]
        )

    # REDCap takes the first field as the record identifier; it becomes the imported row's label.
    if instrument.has_item(RECORD_ID) or instrument.has_item(GROUP_FIELD):
        raise NotExpressible(
            f"an item is named {RECORD_ID} or {GROUP_FIELD}, which the dictionary uses itself"
        )
    row(RECORD_ID, "", "Record ID", "", "", False, "", kind="text")
    row(
        GROUP_FIELD,
        "",
        "Which group are you answering as?",
        _choices([(g.id, text(g.label, lang)) for g in instrument.groups], GROUP_FIELD),
        "",
        True,
        "@PEERREADY-GROUP",
    )
    for domain in instrument.domains:
        for index, item in enumerate(instrument.items_in(domain.id)):
            scale = instrument.scale_by_id(item.scale)
            tags = [f"@PEERREADY-CONDITION={domain.id}", f"@PEERREADY-SCALE={scale.id}"]
            if item.reverse:
                tags.append("@PEERREADY-REVERSE")
            row(
                item.id,
                text(domain.title, lang) if index == 0 else "",
                text(item.text, lang),
                _choices([(o.value, text(o.label, lang)) for o in scale.options], f"item {item.id}"),
                _branching(instrument, item),
                item.required,
                " ".join(tags),
            )
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")
