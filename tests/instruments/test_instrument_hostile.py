"""Hostile and broken files: each gets one clear error (code and line), never a traceback or a hang.

The small cases are committed in `hostile/`; the 50 MB file and the alias bomb are generated here.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.instruments.errors import InstrumentInvalid
from app.instruments.loader import MAX_INSTRUMENT_BYTES, load_instrument_file, load_instrument_text

HOSTILE = Path(__file__).parent / "hostile"
# Generous: the point is "finishes", not a benchmark.
TIME_LIMIT_SECONDS = 10

# file -> (code of the first error, its line)
EXPECTED = {
    "anchor_alias.yaml": ("alias", 2),
    "binary_garbage.yaml": ("binary", 3),
    "comments_only.yaml": ("empty", None),
    "control_character.yaml": ("binary", 2),
    "deep_nesting.yaml": ("too-deep", 21),
    "duplicate_keys.yaml": ("duplicate-key", 4),
    "empty.yaml": ("empty", None),
    "huge_integer.yaml": ("invalid-value", None),
    "invalid_utf8.yaml": ("encoding", 2),
    "multiple_documents.yaml": ("multiple-documents", 2),
    "non_string_keys.yaml": ("key-type", 2),
    "nul_byte.yaml": ("binary", 2),
    "python_tag.yaml": ("yaml-tag", 2),
    "syntax_error.yaml": ("yaml-syntax", 3),
    "tab_indentation.yaml": ("tab-indent", 4),
    "top_level_list.yaml": ("not-a-mapping", 1),
    "top_level_scalar.yaml": ("not-a-mapping", 1),
}


def refused(load, *args, **kwargs) -> InstrumentInvalid:
    started = time.monotonic()
    with pytest.raises(InstrumentInvalid) as caught:
        load(*args, **kwargs)
    assert time.monotonic() - started < TIME_LIMIT_SECONDS
    message = str(caught.value)
    assert "Traceback" not in message and message.strip()
    return caught.value


def test_the_corpus_and_the_expectations_list_the_same_files():
    assert sorted(path.name for path in HOSTILE.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_file_gets_one_clear_error(name):
    invalid = refused(load_instrument_file, HOSTILE / name)
    code, line = EXPECTED[name]
    first = invalid.errors[0]
    assert (first.code, first.line, first.file) == (code, line, str(HOSTILE / name))


def test_every_anchor_is_reported_with_a_plain_explanation():
    invalid = refused(load_instrument_file, HOSTILE / "anchor_alias.yaml")
    assert [error.code for error in invalid.errors] == ["alias"]
    assert "anchors and aliases are not supported" in invalid.errors[0].message


def test_billion_laughs_alias_bomb_is_refused_before_expanding(tmp_path):
    lines = ['lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        aliases = ", ".join([f"*lol{level - 1}"] * 9)
        lines.append(f"lol{level}: &lol{level} [{aliases}]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    invalid = refused(load_instrument_file, bomb)
    assert {error.code for error in invalid.errors} == {"alias"}
    assert [error.line for error in invalid.errors] == list(range(1, 11))


def test_fifty_megabyte_file_is_refused_from_its_size(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"description: padding padding padding padding\n" * (50 * 1024 * 1024 // 46))
    invalid = refused(load_instrument_file, big)
    assert [error.code for error in invalid.errors] == ["too-large"]
    assert "2 MB" in invalid.errors[0].message


def test_text_just_over_the_limit_is_refused():
    invalid = refused(load_instrument_text, "#" * (MAX_INSTRUMENT_BYTES + 1), source="big")
    assert invalid.errors[0].code == "too-large"


def test_very_deep_flow_nesting_is_refused_without_recursion_error():
    text = "id: " + "[" * 100_000 + "]" * 100_000 + "\n"
    invalid = refused(load_instrument_text, text, source="deep")
    assert [(error.code, error.line) for error in invalid.errors] == [("too-deep", 1)]


def test_many_repeated_errors_are_capped(tmp_path):
    text = "id: x\n" + "".join(f"? [k{n}]\n: v\n" for n in range(500))
    invalid = refused(load_instrument_text, text, source="many")
    assert len(invalid.errors) == 101
    assert invalid.errors[-1].code == "too-many-errors"
    assert "400 more errors" in invalid.errors[-1].message


def test_a_folder_is_not_an_instrument_file(tmp_path):
    invalid = refused(load_instrument_file, tmp_path)
    assert invalid.errors[0].code == "not-a-file"
