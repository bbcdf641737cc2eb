"""Loading a valid file, and type errors mapped to the file's lines and document paths."""

from __future__ import annotations

import hashlib
import re

import pytest
from instrument_samples import VALID_INSTRUMENT, line_of, replace_once

from app.instruments.errors import InstrumentError, InstrumentInvalid, format_path
from app.instruments.loader import load_instrument_file, load_instrument_text


def errors_of(text: str) -> list[InstrumentError]:
    with pytest.raises(InstrumentInvalid) as caught:
        load_instrument_text(text, source="mini.yaml")
    return caught.value.errors


def only_error(text: str) -> InstrumentError:
    errors = errors_of(text)
    assert len(errors) == 1, "\n".join(map(str, errors))
    return errors[0]


def test_valid_text_loads_with_its_version_identity():
    loaded = load_instrument_text(VALID_INSTRUMENT, source="mini.yaml")
    assert loaded.instrument.id == "mini"
    assert loaded.instrument.item_by_id("peer_supervision").show_if.in_ == ["yes"]
    assert loaded.content_hash == hashlib.sha256(VALID_INSTRUMENT.encode()).hexdigest()
    assert re.fullmatch(r"1\.0\+[0-9a-f]{12}", loaded.version_key)
    assert loaded.source_text == VALID_INSTRUMENT
    assert loaded.path is None


def test_file_bytes_and_text_give_the_same_identity(tmp_path):
    path = tmp_path / "mini.yaml"
    path.write_text(VALID_INSTRUMENT)
    from_file = load_instrument_file(path)
    assert from_file.path == str(path)
    assert from_file.version_key == load_instrument_text(VALID_INSTRUMENT.encode(), source="x").version_key


def test_any_edit_changes_the_version_key_even_with_the_same_version():
    edited = replace_once("title: Mini readiness check", "title: Mini readiness check (revised)")
    original = load_instrument_text(VALID_INSTRUMENT, source="a").version_key
    assert load_instrument_text(edited, source="a").version_key != original


def test_windows_line_endings_and_a_byte_order_mark_are_accepted():
    data = b"\xef\xbb\xbf" + VALID_INSTRUMENT.replace("\n", "\r\n").encode()
    assert load_instrument_text(data, source="mini.yaml").instrument.id == "mini"


def test_unquoted_version_number_asks_for_quotes():
    error = only_error(replace_once('version: "1.0"', "version: 1.0"))
    assert (error.code, error.line, error.path) == ("type", 2, "version")
    assert error.message == "must be text; write 1.0 in quotes"


def test_misspelt_field_suggests_the_right_one():
    text = replace_once("    help: Supervision", "    hlep: Supervision")
    error = only_error(text)
    assert (error.code, error.path, error.line) == ("unknown-field", "items[2].hlep", line_of(text, "hlep:"))
    assert error.message == "unknown field 'hlep'; did you mean 'help'?"


def test_missing_field_points_at_its_parent():
    text = replace_once("    evidence: [smith2020]\n  - id: values_peers", "  - id: values_peers")
    error = only_error(text)
    assert (error.code, error.path, error.line) == (
        "missing",
        "items[0].evidence",
        line_of(text, "id: employs"),
    )


def test_text_of_the_wrong_shape_gives_one_error_not_one_per_union_branch():
    text = replace_once("text: Do you employ peer specialists?", "text: [Do, you]")
    error = only_error(text)
    assert (error.code, error.path, error.line) == ("type", "items[0].text", line_of(text, "text: [Do"))
    assert "one text per language" in error.message


def test_bad_language_code_points_at_the_key():
    text = replace_once("    label: Leaders", "    label:\n      EN: Leaders")
    error = only_error(text)
    assert (error.code, error.path, error.line) == (
        "format",
        "groups[0].label.EN",
        line_of(text, "EN: Leaders"),
    )
    assert error.message == "'EN' is not a language code like 'en' or 'es-MX'"


def test_show_if_uses_the_yaml_name_in():
    text = replace_once('in: ["yes"]', 'in: "yes"')
    error = only_error(text)
    assert (error.code, error.path, error.line) == ("type", "items[2].show_if.in", line_of(text, 'in: "yes"'))


@pytest.mark.parametrize(
    ("old", "new", "code", "path"),
    [
        ("id: mini", "id: Mini", "format", "id"),
        ("domain_below: 60", "domain_below: 160", "range", "actions[0].when.domain_below"),
        ("kind: dont_know", "kind: unsure", "choice", "scales[0].options[3].kind"),
        ("required: true", "required: sometimes", "type", "items[1].required"),
        ("steps: [Add a budget line.]", "steps: []", "length", "actions[1].steps"),
    ],
)
def test_type_errors_have_codes_and_paths(old, new, code, path):
    text = replace_once(old, new)
    error = only_error(text)
    assert (error.code, error.path, error.line) == (code, path, line_of(text, new))


def test_all_errors_of_a_file_come_at_once_in_line_order():
    text = replace_once("id: mini", "id: Mini")
    text = replace_once('version: "1.0"', "version: 1.0", text)
    text = replace_once("    help: Supervision", "    hlep: Supervision", text)
    errors = errors_of(text)
    assert [error.code for error in errors] == ["format", "type", "unknown-field"]
    assert [error.line for error in errors] == sorted(error.line for error in errors)


def test_error_text_without_line_or_path():
    assert (
        str(InstrumentError("empty", "a.yaml", None, "", "the file is empty"))
        == "a.yaml: the file is empty [empty]"
    )
    assert (
        str(InstrumentError("type", "a.yaml", 3, "id", "must be text")) == "a.yaml:3: id: must be text [type]"
    )


def test_invalid_exception_lists_every_error():
    errors = errors_of(replace_once("id: mini", "id: Mini"))
    assert str(InstrumentInvalid(errors)) == str(errors[0])


@pytest.mark.parametrize(
    ("loc", "text"),
    [
        (("items", 3, "scale"), "items[3].scale"),
        (("references", "smith 2020"), "references['smith 2020']"),
        ((), ""),
    ],
)
def test_format_path(loc, text):
    assert format_path(loc) == text
