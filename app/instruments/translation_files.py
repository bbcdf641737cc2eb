"""Writing translation files: entries still to translate, and stamping checked translations.

`peerready translations template` prints the entries a translation file lacks (with the source
text as a comment); `peerready translations stamp` records, once a translator has checked a
translation, the hash of the source text it now matches. See docs/instrument-translations.md.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from app.instruments.loader import (
    dump_document,
    folded_scalar,
    load_source_document,
    parse_document,
    read_text_file,
)
from app.instruments.translations import (
    has_language,
    instrument_of_overlay,
    overlay_language,
    overlay_name,
    source_hash,
    source_text,
    text_entries,
)

_OVERLAY_SHAPE = "a mapping of text paths (title:, items.x.text:, ...)"


class TranslationToolError(Exception):
    """A request the translation tools cannot carry out; the message says why."""


@dataclass(frozen=True)
class NewEntry:
    key: str
    text: str
    source_hash: str
    # The source text, written as a comment above the entry for the translator.
    source: str | None = None


def overlay_document(entries: Iterable[NewEntry], *, header: str | None = None) -> str:
    """Entries as a translation file (or a part of one to append), one entry per text."""
    root = CommentedMap()
    section = None
    for entry in entries:
        root[entry.key] = CommentedMap(
            [
                ("text", folded_scalar(entry.text, width=88)),
                ("source_hash", DoubleQuotedScalarString(entry.source_hash)),
            ]
        )
        comment = []
        top = entry.key.split(".", 1)[0].split("[", 1)[0]
        if top != section and top in ("groups", "scales", "domains", "items", "scoring", "actions"):
            comment.append(f"--- {top} ---")
        section = top
        if entry.source is not None:
            comment += textwrap.wrap(entry.source, 96, initial_indent="en: ", subsequent_indent="    ")
        if comment:
            root.yaml_set_comment_before_after_key(entry.key, before="\n".join(comment), indent=0)
    body = dump_document(root) if root else ""
    return (header or "") + body


def overlay_header(instrument_file: str, language: str, source_language: str) -> str:
    path = Path(instrument_file)
    overlay = path.with_name(overlay_name(path.name, language))
    return (
        f"# The '{language}' translation of {path.name}, one entry per text, keyed by its path there.\n"
        f"# `text` is the translation; `source_hash` identifies the '{source_language}' text it translates,\n"
        "# so `peerready validate` reports a translation whose source text changed as stale.\n"
        "# After checking a translation against the changed text:\n"
        f"#   peerready translations stamp {overlay} --path KEY\n"
        "# (docs/instrument-translations.md explains the format.)\n"
    )


def template(instrument_path: Path, language: str) -> str:
    """The entries `<name>.<language>.yaml` still lacks, with empty texts to fill in (the file's
    header too when it does not exist yet). Empty when nothing is missing."""
    instrument, _ = load_source_document(instrument_path)
    if language not in instrument.languages[1:]:
        raise TranslationToolError(
            f"{instrument_path} does not list '{language}' after its source language in languages "
            f"({', '.join(instrument.languages)}); add it there first"
        )
    overlay = instrument_path.with_name(overlay_name(instrument_path.name, language))
    # `template ... > x.es.yaml` creates the (empty) file before this runs: that starts a new one too.
    starting = not overlay.exists() or not overlay.read_bytes().strip()
    existing: set[str] = set()
    if not starting:
        root, _ = parse_document(read_text_file(overlay), str(overlay), shape=_OVERLAY_SHAPE)
        existing = set(root) if isinstance(root, dict) else set()
    source_language = instrument.languages[0]
    missing = []
    for entry in text_entries(instrument):
        english = source_text(entry.value, source_language)
        if entry.key in existing or has_language(entry.value, language) or english is None:
            continue
        missing.append(NewEntry(entry.key, "", source_hash(english), source=" ".join(english.split())))
    header = overlay_header(str(instrument_path), language, source_language) if starting else None
    return overlay_document(missing, header=header) if missing else ""


@dataclass
class StampResult:
    overlay: Path
    text: str
    stamped: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.stamped)


def stamp(overlay: Path, keys: Sequence[str] = ()) -> StampResult:
    """Set `source_hash` of the named entries (every entry when none is named) to the hash of the
    source text they translate now. Named entries that cannot be stamped are problems; the caller
    writes `text` only when there are none.

    Only the hash lines change (a missing one is added under the entry's key), so the rest of the
    file keeps its exact layout and the diff shows just what was stamped.
    """
    language = overlay_language(overlay)
    if language is None:
        raise TranslationToolError(f"{overlay} is not named like a translation file (<name>.<language>.yaml)")
    instrument_path = instrument_of_overlay(overlay)
    if instrument_path is None:
        raise TranslationToolError(
            f"{overlay} translates {overlay.name.split('.')[0]}.yaml, which does not exist"
        )
    instrument, _ = load_source_document(instrument_path)
    source_language = instrument.languages[0]
    by_key = {entry.key: entry for entry in text_entries(instrument)}
    original = read_text_file(overlay)
    root, _ = parse_document(original, str(overlay), shape=_OVERLAY_SHAPE)
    if not isinstance(root, CommentedMap):
        raise TranslationToolError(f"{overlay} must be {_OVERLAY_SHAPE}")
    result = StampResult(overlay, original)
    lines = original.splitlines(keepends=True)
    replaced: dict[int, str] = {}
    inserted: dict[int, str] = {}  # line index -> a line to insert before it
    named = bool(keys)
    for key in keys or list(root):
        entry = root.get(key)
        target = by_key.get(key)
        problem = None
        if entry is None:
            problem = f"{key}: not in {overlay.name}"
        elif target is None:
            problem = f"{key}: {instrument_path.name} has no text at this path"
        elif (
            not isinstance(entry, CommentedMap)
            or not isinstance(entry.get("text"), str)
            or not entry["text"].strip()
        ):
            problem = f"{key}: has no translated text to stamp"
        elif entry.fa.flow_style():
            problem = f"{key}: write the entry as 'text:' and 'source_hash:' lines to stamp it"
        english = source_text(target.value, source_language) if target is not None else None
        if problem is None and english is None:
            problem = f"{key}: the source text is missing"
        if problem is not None:
            (result.problems if named else result.skipped).append(problem)
            continue
        assert isinstance(entry, CommentedMap) and english is not None
        digest = source_hash(english)
        if entry.get("source_hash") == digest:
            continue
        if "source_hash" in entry:
            line, column = entry.lc.value("source_hash")
            text = replaced.get(line, lines[line])
            replaced[line] = text[:column] + _HASH_VALUE.sub(f'"{digest}"', text[column:], count=1)
        else:
            column = entry.lc.key("text")[1]
            inserted[_entry_end(root, key, lines)] = " " * column + f'source_hash: "{digest}"\n'
        result.stamped.append(key)
    if result.stamped:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        out = []
        for index, text in enumerate(lines):
            if index in inserted:
                out.append(inserted[index])
            out.append(replaced.get(index, text))
        result.text = "".join(out)
    return result


def _entry_end(root: CommentedMap, key: str, lines: list[str]) -> int:
    """The index of the line after an entry's last line (comments and blank lines before the next
    entry belong to that entry)."""
    keys = list(root)
    position = keys.index(key)
    end = root.lc.key(keys[position + 1])[0] if position + 1 < len(keys) else len(lines)
    start = root.lc.key(key)[0]
    while end - 1 > start and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return end


# The value of a `source_hash:` line: quoted or plain, up to a comment.
_HASH_VALUE = re.compile(r"""^("[^"\n]*"|'[^'\n]*'|[^\s#]+)""")
