"""An instrument in other tools' formats: an HL7 FHIR R4 Questionnaire (validated with the
`fhir.resources` R4B models, whose Questionnaire is R4's) and a REDCap data dictionary. Pure.

What each format can and cannot say is in docs/interoperability.md. A rule the target format
cannot express raises `NotExpressible` naming the item: never a silent drop.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from app.instruments.models import Instrument, Item, ShowIf, text

__all__ = [
    "GROUP_FIELD",
    "NotExpressible",
    "REDCAP_COLUMNS",
    "fhir_questionnaire",
    "redcap_dictionary",
]

#: The question both exports add first: the respondent group, which PeerReady knows from the
#: invitation link but another tool must ask (group-targeted items depend on it).
GROUP_FIELD = "respondent_group"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
BASE = "urn:peerready"


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
    if not item.groups or {g.id for g in instrument.groups} <= set(item.groups):
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
        "url": f"{BASE}:questionnaire:{instrument.id}",
        "version": instrument.version,
        "name": "".join(part.capitalize() for part in instrument.id.split("_")),
        "title": text(instrument.title, lang),
        "status": "active",
        "language": lang,
        "item": items,
    }
    Questionnaire.model_validate(resource)  # raises pydantic.ValidationError on a malformed resource
    return resource


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
    upload expects): the respondent-group field, then one radio field per item, each condition's
    title as the Section Header of its first item, "Don't know" and N/A as explicit choices, the
    reverse flag and condition id in Field Annotation (custom tags REDCap ignores)."""
    lang = lang or instrument.languages[0]
    form = instrument.id
    rows: list[list[str]] = [list(REDCAP_COLUMNS)]

    def row(
        name: str, section: str, label: str, choices: str, branching: str, required: bool, note: str
    ) -> None:
        if not _FIELD_NAME.match(name):
            raise NotExpressible(f"item {name}: not a REDCap field name (lowercase letters, digits, _)")
        rows.append(
            [
                name,
                form,
                section,
                "radio",
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
