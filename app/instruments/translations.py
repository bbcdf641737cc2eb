"""Translations kept beside the source text, in overlay files such as `quick-check.es.yaml`.

An instrument `<name>.yaml` lists its languages (`languages: [en, es]`, the first is the source).
Each other language has an overlay `<name>.<language>.yaml` next to it: one entry per translated
text, keyed by the text's path written with ids (so entries survive reordering), holding the
translation and a short hash of the source text it translates:

    items.purpose_clear_goal.help:
      text: Un propósito claro dice a qué padres sirve el programa y qué quiere cambiar.
      source_hash: "3f0c9a1e"

When the source text changes, its hash no longer matches and the translation is reported stale
(a warning, see docs/instrument-translations.md). The loader reads the files and folds the
translations into the instrument; everything here is pure (no file access).
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from app.instruments.errors import InstrumentError, Loc
from app.instruments.models import Instrument, LocalizedText

# 8 hex digits (32 bits): short enough to read in a diff; an edit going unnoticed is a 1 in 4
# billion chance per text.
SOURCE_HASH_LENGTH = 8
_SOURCE_HASH = re.compile(rf"^[0-9a-f]{{{SOURCE_HASH_LENGTH}}}$")
_OVERLAY_NAME = re.compile(r"^(?P<stem>.+)\.(?P<language>[a-z]{2}(?:-[A-Z]{2})?)\.(?P<suffix>yaml|yml)$")
OVERLAY_FIELDS = ("text", "source_hash")

# Fields typed LocalizedText (alone, optional or in a list) anywhere in the model. Reference
# citations are not among them: they are quoted as published, never translated.
TEXT_FIELDS = frozenset({"title", "description", "label", "text", "help", "rationale", "steps", "timeframe"})

LineLookup = Callable[[Loc], int | None]


# --- file names ------------------------------------------------------------------------------


def is_translation_overlay(path: str | Path) -> bool:
    """True for `<name>.<language>.yaml` (e.g. `quick-check.es.yaml`): a translation, never an
    instrument of its own. File listings call this to leave translations out."""
    return _OVERLAY_NAME.match(Path(path).name) is not None


def overlay_language(path: str | Path) -> str | None:
    """The language of a translation overlay file name, or None when it is not one."""
    match = _OVERLAY_NAME.match(Path(path).name)
    return match["language"] if match else None


def overlay_files(instrument_path: str | Path) -> list[tuple[str, Path]]:
    """(language, path) of every translation overlay next to an instrument file, by language."""
    path = Path(instrument_path)
    if not path.parent.is_dir():
        return []
    found = []
    for candidate in path.parent.iterdir():
        match = _OVERLAY_NAME.match(candidate.name)
        if match and match["stem"] == path.stem and candidate.is_file():
            found.append((match["language"], candidate))
    return sorted(found, key=lambda pair: (pair[0], pair[1].name))


def source_files(instrument_path: str | Path) -> list[Path]:
    """The instrument file and its translation overlays: what a cache of the loaded instrument
    must watch, since editing any of them changes the instrument."""
    path = Path(instrument_path)
    return [path, *(overlay for _, overlay in overlay_files(path))]


def instrument_of_overlay(overlay_path: str | Path) -> Path | None:
    """The instrument file an overlay translates (`x.es.yaml` -> `x.yaml` or `x.yml`), if it exists."""
    path = Path(overlay_path)
    match = _OVERLAY_NAME.match(path.name)
    if match is None:
        return None
    for suffix in (".yaml", ".yml"):
        candidate = path.with_name(match["stem"] + suffix)
        if candidate.is_file():
            return candidate
    return None


def overlay_name(instrument_file: str, language: str) -> str:
    """The overlay file name for a language: `quick-check.yaml` + es -> `quick-check.es.yaml`."""
    path = Path(instrument_file)
    return f"{path.stem}.{language}{path.suffix or '.yaml'}"


# --- texts and hashes -----------------------------------------------------------------------


def source_hash(source_text: str) -> str:
    """Short hash of a source text; runs of whitespace count as one space, so re-wrapping a
    folded YAML line does not make its translations stale."""
    normalized = " ".join(source_text.split())
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()[:SOURCE_HASH_LENGTH]


@dataclass(frozen=True)
class TextEntry:
    """One translatable text of an instrument."""

    # The overlay key, with ids: `items.purpose_clear_goal.help`, `actions.x.steps[0]`.
    key: str
    # Where the text sits in the instrument document: ("items", 2, "help").
    loc: Loc
    value: LocalizedText


def text_entries(instrument: Instrument) -> list[TextEntry]:
    """Every translatable text of an instrument, in document order."""
    return list(_walk(instrument, (), ""))


def _walk(model: BaseModel, loc: Loc, key: str) -> Iterator[TextEntry]:
    for name, value in model:
        field_loc: Loc = (*loc, name)
        field_key = f"{key}.{name}" if key else name
        if isinstance(value, BaseModel):
            yield from _walk(value, field_loc, field_key)
        elif name in TEXT_FIELDS and isinstance(value, str | dict):
            yield TextEntry(field_key, field_loc, value)
        elif isinstance(value, list):
            for position, entry in enumerate(value):
                if isinstance(entry, BaseModel):
                    yield from _walk(
                        entry, (*field_loc, position), f"{field_key}.{_entry_id(entry, position)}"
                    )
                elif name in TEXT_FIELDS and isinstance(entry, str | dict):
                    yield TextEntry(f"{field_key}[{position}]", (*field_loc, position), entry)


def _entry_id(entry: BaseModel, position: int) -> str:
    # Groups, scales, domains, items, levels and actions have an id; scale options a value.
    for attribute in ("id", "value"):
        value = getattr(entry, attribute, None)
        if isinstance(value, str):
            return value
    return str(position)


def source_text(value: LocalizedText, source_language: str) -> str | None:
    """The source-language text of a value (None when a translations mapping lacks it)."""
    if isinstance(value, str):
        return value
    return value.get(source_language)


def has_language(value: LocalizedText, language: str) -> bool:
    return isinstance(value, dict) and language in value


# --- overlay files --------------------------------------------------------------------------


@dataclass(frozen=True)
class OverlayEntry:
    key: str
    text: str
    source_hash: str | None
    line: int | None


@dataclass(frozen=True)
class Overlay:
    language: str
    file: str
    entries: dict[str, OverlayEntry]


def read_overlay(
    data: Any, *, language: str, file: str, line_of: LineLookup
) -> tuple[Overlay, list[InstrumentError]]:
    """The entries of a parsed overlay document, and every problem with its shape."""
    errors: list[InstrumentError] = []

    def add(code: str, loc: Loc, message: str, path: str) -> None:
        errors.append(InstrumentError(code, file, line_of(loc), path, message))

    entries: dict[str, OverlayEntry] = {}
    if not isinstance(data, dict):
        add("translation-format", (), "a translation file is a mapping of text paths to entries", "")
        return Overlay(language, file, entries), errors
    example = 'text: ..., source_hash: "..."'
    for key, entry in data.items():
        if not isinstance(entry, dict):
            add(
                "translation-format",
                (key,),
                f"each entry needs 'text' and 'source_hash' on their own lines ({example})",
                key,
            )
            continue
        for field in entry:
            if field not in OVERLAY_FIELDS:
                close = difflib.get_close_matches(str(field), OVERLAY_FIELDS, n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else " (an entry has text and source_hash)"
                add("unknown-field", (key, field), f"unknown field '{field}'{hint}", f"{key}.{field}")
        text = entry.get("text")
        if not isinstance(text, str):
            message = "this field is required" if text is None else "must be text"
            add("translation-format", (key, "text"), message, f"{key}.text")
            continue
        if not text.strip():
            add("empty-text", (key, "text"), f"the '{language}' text is empty", f"{key}.text")
            continue
        digest = entry.get("source_hash")
        if digest is not None and not (isinstance(digest, str) and _SOURCE_HASH.match(digest)):
            add(
                "translation-format",
                (key, "source_hash"),
                f"source_hash must be {SOURCE_HASH_LENGTH} hex digits in quotes, as "
                "`peerready translations stamp` writes them",
                f"{key}.source_hash",
            )
            continue
        entries[key] = OverlayEntry(key, text, digest, line_of((key,)))
    return Overlay(language, file, entries), errors


def apply_overlay(
    instrument: Instrument, overlay: Overlay, *, instrument_file: str, line_of_source: LineLookup
) -> tuple[dict[Loc, str], list[InstrumentError]]:
    """The translations an overlay gives (by location in the instrument document), and its
    problems: unknown paths, texts translated twice, and stale or unstamped translations."""
    language, file = overlay.language, overlay.file
    source_language = instrument.languages[0]
    findings: list[InstrumentError] = []
    entries = text_entries(instrument)
    by_key = {entry.key: entry for entry in entries}
    # Where each source text now is, to say where a translation moved when items are reordered.
    keys_by_hash: dict[str, list[str]] = {}
    for entry in entries:
        english = source_text(entry.value, source_language)
        if english is not None:
            keys_by_hash.setdefault(source_hash(english), []).append(entry.key)

    translations: dict[Loc, str] = {}
    for key, given in overlay.entries.items():
        target = by_key.get(key)
        if target is None:
            close = difflib.get_close_matches(key, list(by_key), n=1, cutoff=0.8)
            hint = f"; did you mean '{close[0]}'?" if close else " (was it renamed or removed?)"
            findings.append(
                InstrumentError(
                    "translation-unknown-path",
                    file,
                    given.line,
                    key,
                    f"{Path(instrument_file).name} has no text at this path{hint}",
                )
            )
            continue
        if has_language(target.value, language):
            findings.append(
                InstrumentError(
                    "translation-duplicate",
                    file,
                    given.line,
                    key,
                    f"this text already has a '{language}' version inline in {instrument_file} "
                    f"(line {line_of_source(target.loc)}); keep one of the two",
                )
            )
            continue
        translations[target.loc] = given.text
        english = source_text(target.value, source_language)
        if english is None:
            continue  # the instrument's own checks report the missing source text
        current = source_hash(english)
        if given.source_hash is None:
            findings.append(
                InstrumentError(
                    "translation-unstamped",
                    file,
                    given.line,
                    key,
                    "has no source_hash, so nothing can tell when the text it translates changes; "
                    f"once checked, run `peerready translations stamp {file} --path {key}`",
                    severity="warning",
                )
            )
        elif given.source_hash != current:
            moved = [other for other in keys_by_hash.get(given.source_hash, []) if other != key]
            where = f"; the text it translates is now at {moved[0]}" if moved else ""
            findings.append(
                InstrumentError(
                    "translation-stale",
                    file,
                    given.line,
                    key,
                    f"the {source_language} text changed after this was translated "
                    f"(source_hash {given.source_hash}, text now {current}: {_shorten(english)!r})"
                    f"{where}; update the translation, then run "
                    f"`peerready translations stamp {file} --path {key}`",
                    severity="warning",
                )
            )
    return translations, findings


def _shorten(value: str, limit: int = 70) -> str:
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def missing_entry_hint(entry_key: str, language: str, overlays: Mapping[str, str]) -> str:
    """What to add for an untranslated text, worded for the file the translation would go in."""
    if language in overlays:
        return f"the '{language}' translation is missing; add '{entry_key}' to {overlays[language]}"
    return f"the '{language}' translation is missing"
