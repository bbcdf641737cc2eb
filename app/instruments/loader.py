"""Instrument YAML -> validated `Instrument`, or every error of the file at once.

Steps, each of which stops at the first stage that finds problems (later stages need earlier ones):
1. bytes: size limit (before anything is parsed), NUL bytes, UTF-8;
2. YAML: one document, a mapping at the top, no anchors/aliases/custom tags, text keys, no duplicates;
3. types: the Pydantic model, each error mapped back to a line through ruamel's round-trip positions;
4. cross-checks (`app.instruments.checks`);
5. translations: each `<name>.<language>.yaml` beside the file goes through steps 1-2, its entries
   are folded into the texts (`app.instruments.translations`), and the result is checked again.
   Stale translations are warnings: reported, but the instrument still loads.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from io import StringIO
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import MaxDepthExceededError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scalarstring import FoldedScalarString

from app.instruments.checks import check_instrument
from app.instruments.errors import InstrumentError, InstrumentInvalid, Loc, format_path
from app.instruments.models import Instrument, StrictModel
from app.instruments.translations import apply_overlay, overlay_files, read_overlay

MAX_INSTRUMENT_BYTES = 2 * 1024 * 1024
# Real instruments nest about 7 levels; the limit keeps the recursive composer far from Python's stack limit.
MAX_NESTING = 20
# A broken file can repeat one mistake thousands of times; nobody reads past the first screenful.
MAX_REPORTED_ERRORS = 100

_YAML_TAG = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {
    _YAML_TAG + name for name in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")
}


@dataclass(frozen=True)
class LoadedInstrument:
    instrument: Instrument
    # Makes (snapshot text, content hash) on first use: see `source_text`.
    snapshot: Callable[[], tuple[str, str]] = field(repr=False, compare=False)
    path: str | None = None
    # Problems that do not make the file invalid, such as stale translations.
    warnings: tuple[InstrumentError, ...] = ()
    # The translation files folded in, as named in messages.
    translation_files: tuple[str, ...] = ()

    @cached_property
    def _snapshot(self) -> tuple[str, str]:
        return self.snapshot()

    @property
    def source_text(self) -> str:
        """What an assessment stores as its snapshot: the file's text or, when translation files
        were read, one combined document with every translation inline (`_combined_document`).
        Writing that document is slow next to loading, so it is made only when asked for."""
        return self._snapshot[0]

    @property
    def content_hash(self) -> str:
        """sha256 (hex) of the file's bytes, or of the combined document, so it covers the
        translations: editing a translation file gives a new snapshot."""
        return self._snapshot[1]

    @property
    def version_key(self) -> str:
        """The declared version plus a content hash: editing a file without bumping its version
        still gives a new identity, so assessments stay pinned to exactly what respondents saw."""
        return f"{self.instrument.version}+{self.content_hash[:12]}"


@dataclass(frozen=True)
class TranslationSource:
    """A translation overlay file's bytes (or the error met reading it)."""

    language: str
    source: str
    data: bytes = b""
    error: InstrumentInvalid | None = None


def load_instrument_file(path: str | Path) -> LoadedInstrument:
    """Load an instrument file together with its translation files (`<name>.<language>.yaml`)."""
    path = Path(path)
    source = str(path)
    data = _read_file(path)
    translations = []
    for language, overlay in overlay_files(path):
        try:
            translations.append(TranslationSource(language, str(overlay), _read_file(overlay)))
        except InstrumentInvalid as invalid:
            translations.append(TranslationSource(language, str(overlay), error=invalid))
    return _load(data, source=source, path=source, translations=translations)


def load_instrument_text(text: str | bytes, *, source: str) -> LoadedInstrument:
    """Load an instrument from its text; `source` names it in error messages."""
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    return _load(data, source=source, path=None)


def load_source_document(path: str | Path) -> tuple[Instrument, str]:
    """The instrument of a file as written, without its translation files and without the
    cross-checks (so an untranslated file still loads), with the file's text. Translation tools
    use it to read the source texts; an assessment never does."""
    source = str(path)
    data = _read_file(Path(path))
    text = _decode(data, source)
    root = _parse(text, source)
    return _validate(root, source, YamlLocator(root)), text


def read_text_file(path: str | Path) -> str:
    """A file's text, with an instrument file's limits (size, NUL bytes, UTF-8)."""
    return _decode(_read_file(Path(path)), str(path))


def parse_document(text: str, source: str, *, shape: str = "a mapping") -> tuple[Any, YamlLocator]:
    """A YAML text as a round-trip tree (quotes kept) with the same safety checks as an instrument."""
    root = _parse(text, source, shape=shape, preserve_quotes=True)
    return root, YamlLocator(root)


def _read_file(path: Path) -> bytes:
    source = str(path)
    if not path.is_file():
        raise _invalid("not-a-file", source, "not a regular file")
    try:
        # Size first: a huge file is refused without being read or parsed.
        if path.stat().st_size > MAX_INSTRUMENT_BYTES:
            raise _too_large(source)
        with path.open("rb") as stream:
            data = stream.read(MAX_INSTRUMENT_BYTES + 1)
    except OSError as error:
        raise _invalid("unreadable", source, f"cannot read the file ({error.strerror})") from None
    if len(data) > MAX_INSTRUMENT_BYTES:
        raise _too_large(source)
    return data


def _load(
    data: bytes, *, source: str, path: str | None, translations: Sequence[TranslationSource] = ()
) -> LoadedInstrument:
    if len(data) > MAX_INSTRUMENT_BYTES:
        raise _too_large(source)
    text = _decode(data, source)
    root = _parse(text, source)
    locator = YamlLocator(root)
    instrument = _validate(root, source, locator)

    def file_snapshot() -> tuple[str, str]:
        return text, hashlib.sha256(data).hexdigest()

    snapshot: Callable[[], tuple[str, str]] = file_snapshot
    overlay_findings: list[InstrumentError] = []
    read: dict[str, str] = {}
    if translations:
        folded, overlay_findings, read = _read_translations(instrument, translations, source, locator)
        if folded:
            combined = _plain(root)
            _fold_translations(combined, folded)
            instrument = _validate_data(combined, source, locator)
            files = list(read.values())

            def combined_snapshot() -> tuple[str, str]:
                document = _combined_document(text, source, folded, files)
                return document, hashlib.sha256(document.encode("utf-8")).hexdigest()

            snapshot = combined_snapshot
    errors = check_instrument(instrument, file=source, line_of=locator.line_of, overlays=read)
    findings = [*errors, *overlay_findings]
    if any(not finding.is_warning for finding in findings):
        raise _invalid_all(findings)
    warnings = tuple(_sorted(findings))
    return LoadedInstrument(instrument, snapshot, path, warnings, tuple(read.values()))


# --- 5. translations --------------------------------------------------------------------------


def _read_translations(
    instrument: Instrument, translations: Sequence[TranslationSource], source: str, locator: YamlLocator
) -> tuple[dict[str, dict[Loc, str]], list[InstrumentError], dict[str, str]]:
    """The translations of each language (by location in the instrument document), every problem
    found in the translation files, and the file read for each language."""
    languages = instrument.languages
    folded: dict[str, dict[Loc, str]] = {}
    findings: list[InstrumentError] = []
    read: dict[str, str] = {}
    name = Path(source).name
    for translation in translations:
        language = translation.language
        if language not in languages[1:]:
            role = (
                "is the source language of" if language == languages[0] else "is not listed in languages of"
            )
            findings.append(
                InstrumentError(
                    "translation-undeclared",
                    translation.source,
                    None,
                    "",
                    f"translates into '{language}', which {role} {name} ({', '.join(languages)}); "
                    f"list '{language}' there after the source language, or remove this file",
                )
            )
            continue
        if language in read:
            findings.append(
                InstrumentError(
                    "translation-duplicate",
                    translation.source,
                    None,
                    "",
                    f"{read[language]} already translates {name} into '{language}'; keep one file",
                )
            )
            continue
        read[language] = translation.source
        if translation.error is not None:
            findings.extend(translation.error.errors)
            continue
        try:
            overlay_text = _decode(translation.data, translation.source)
            # The safe composer: several times faster than round-trip parsing, and a node tree
            # still gives every entry's line.
            overlay_node, overlay_data = _compose(overlay_text, translation.source, OVERLAY_SHAPE, typ="safe")
        except InstrumentInvalid as invalid:
            findings.extend(invalid.errors)
            continue
        overlay, problems = read_overlay(
            overlay_data,
            language=language,
            file=translation.source,
            line_of=NodeLocator(overlay_node).line_of,
        )
        found, more = apply_overlay(
            instrument, overlay, instrument_file=source, line_of_source=locator.line_of
        )
        findings.extend([*problems, *more])
        if found:
            folded[language] = found
    return folded, findings, read


def _fold_translations(root: Any, folded: dict[str, dict[Loc, str]]) -> None:
    """Write each translation into a document tree (plain or round-trip): `text: A` becomes
    `text: {en: A, es: B}`."""
    source_language = str(root["languages"][0])
    for language, translations in folded.items():
        for loc, translated in translations.items():
            parent = root
            for part in loc[:-1]:
                parent = parent[part]
            current = parent[loc[-1]]
            if not isinstance(current, dict):
                if isinstance(parent, CommentedMap | CommentedSeq):
                    current = CommentedMap([(source_language, current)])
                    if parent.fa.flow_style():
                        current.fa.set_flow_style()  # inside {...} the new mapping is written {...} too
                else:
                    current = {source_language: current}
                parent[loc[-1]] = current
            current[language] = folded_scalar(translated) if isinstance(current, CommentedMap) else translated


def folded_scalar(value: str, width: int = 92) -> str:
    """A long one-paragraph text as a `>-` block folded at word boundaries (plain otherwise), the
    way authors write long texts; loading it gives back exactly `value`."""
    if len(value) <= width or " ".join(value.split()) != value:
        return value
    folded = FoldedScalarString(value)
    positions, column, index = [], 0, 0
    for word in value.split(" "):
        if column and column + 1 + len(word) > width:
            positions.append(index - 1)  # the space before this word becomes a line break
            column = len(word)
        else:
            column = column + 1 + len(word) if column else len(word)
        index += len(word) + 1
    folded.fold_pos = positions
    result: str = folded
    return result


def dump_document(root: Any) -> str:
    """A round-trip YAML tree as text, indented like the shipped files. Long texts are never
    re-wrapped (they keep the line breaks they were read with, see `folded_scalar`)."""
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    stream = StringIO()
    yaml.dump(root, stream)
    return stream.getvalue()


def _combined_document(
    text: str, source: str, folded: dict[str, dict[Loc, str]], translation_files: list[str]
) -> str:
    """The instrument with its translations inline, as YAML: the snapshot an assessment stores.

    It is an instrument file in the inline format (`text: {en: ..., es: ...}`), so a snapshot loads
    on its own, without the translation files, and any change to them gives a new content hash.
    The file is parsed again (keeping its quotes and comments) so the snapshot reads like it.
    """
    root = _parse(text, source, preserve_quotes=True)
    _fold_translations(root, folded)
    names = ", ".join(Path(name).name for name in translation_files)
    header = f"# Snapshot: {Path(source).name} with the translations of {names} written inline.\n"
    return header + dump_document(root)


# --- 1. bytes -------------------------------------------------------------------------------


def _decode(data: bytes, source: str) -> str:
    if b"\0" in data:
        line = data[: data.index(b"\0")].count(b"\n") + 1
        raise _invalid("binary", source, "contains NUL bytes: this is not a text (YAML) file", line=line)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise _invalid(
            "encoding", source, "is not valid UTF-8 text; save the file as UTF-8", line=line
        ) from None
    if not text.strip():
        raise _invalid("empty", source, "the file is empty")
    return text


# --- 2. YAML --------------------------------------------------------------------------------


_INSTRUMENT_SHAPE = "a mapping of fields (id:, version:, ...)"
OVERLAY_SHAPE = "a mapping of text paths (title:, items.x.text:, ...)"


def _parse(text: str, source: str, *, shape: str = _INSTRUMENT_SHAPE, preserve_quotes: bool = False) -> Any:
    """The document as a round-trip tree (which knows every key's line)."""
    return _compose(text, source, shape, typ="rt", preserve_quotes=preserve_quotes)[1]


def _compose(
    text: str, source: str, shape: str, *, typ: str, preserve_quotes: bool = False
) -> tuple[Node, Any]:
    """The composed node tree and the constructed document, after the structure checks."""
    yaml = YAML(typ=typ)
    yaml.max_depth = MAX_NESTING
    yaml.preserve_quotes = preserve_quotes
    try:
        constructor, parser = yaml.get_constructor_parser(text)
        try:
            return _compose_and_construct(constructor, parser, source, shape)
        finally:
            parser.dispose()
    except MaxDepthExceededError as error:
        line = error.problem_mark.line + 1
        raise _invalid(
            "too-deep", source, f"is nested more than {MAX_NESTING} levels deep", line=line
        ) from None
    except MarkedYAMLError as error:
        raise InstrumentInvalid([_syntax_error(error, source)]) from None
    except ReaderError as error:
        line = text[: error.position].count("\n") + 1
        message = f"contains the control character #x{error.character:04x}, which YAML does not allow"
        raise _invalid("binary", source, message, line=line) from None
    except YAMLError as error:
        raise _invalid("yaml-syntax", source, str(error)) from None
    except ValueError as error:
        # e.g. Python refuses to convert an integer of thousands of digits.
        raise _invalid("invalid-value", source, f"holds a value that cannot be read: {error}") from None


def _compose_and_construct(constructor: Any, parser: Any, source: str, shape: str) -> tuple[Node, Any]:
    composer = constructor.composer
    if not composer.check_node():
        raise _invalid("empty", source, "the file has no content, only comments")
    node = composer.get_node()
    if composer.check_node():
        line = parser.peek_event().start_mark.line + 1
        message = "holds more than one YAML document (a second '---'); put one instrument per file"
        raise _invalid("multiple-documents", source, message, line=line)
    _raise_structure_errors(node, source, shape)
    # Only now is the tree built: it has no aliases left that could expand.
    return node, constructor.construct_document(node)


def _syntax_error(error: MarkedYAMLError, source: str) -> InstrumentError:
    mark = error.problem_mark or error.context_mark
    line = mark.line + 1 if mark else None
    problem = error.problem or ""
    if "'\\t'" in problem:
        return InstrumentError(
            "tab-indent", source, line, "", "a tab is used for indentation; YAML needs spaces"
        )
    message = problem if not error.context else f"{problem} ({error.context})"
    return InstrumentError("yaml-syntax", source, line, "", f"YAML syntax: {message}")


def _raise_structure_errors(root: Node, source: str, shape: str = _INSTRUMENT_SHAPE) -> None:
    """Reject what YAML allows but instruments must not use, from the composed tree.

    The walk visits each node object once: an alias is the same object as its anchor, so an
    alias bomb costs no more than its text and is refused before anything expands it.
    """
    if not isinstance(root, MappingNode):
        found = "a list" if isinstance(root, SequenceNode) else "a single value"
        raise _invalid(
            "not-a-mapping",
            source,
            f"the file must be {shape}, not {found}",
            line=root.start_mark.line + 1,
        )
    errors: list[InstrumentError] = []

    def add(code: str, node: Node, message: str) -> None:
        errors.append(InstrumentError(code, source, node.start_mark.line + 1, "", message))

    visited: set[int] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        if node.anchor is not None:
            add(
                "alias",
                node,
                f"anchors and aliases are not supported (&{node.anchor}); write the value out in full",
            )
        if node.tag not in _ALLOWED_TAGS:
            add("yaml-tag", node, f"YAML tags such as {node.tag} are not supported")
        if isinstance(node, SequenceNode):
            pending.extend(reversed(node.value))
        elif isinstance(node, MappingNode):
            first_line: dict[str, int] = {}
            for key, value in node.value:
                if not isinstance(key, ScalarNode) or key.tag != _YAML_TAG + "str":
                    add("key-type", key, "keys must be plain text (names like 'title' or quoted \"1\")")
                elif key.value in first_line:
                    add(
                        "duplicate-key",
                        key,
                        f"key '{key.value}' appears twice in the same mapping "
                        f"(first on line {first_line[key.value]})",
                    )
                else:
                    first_line[key.value] = key.start_mark.line + 1
                pending.append(value)
    if errors:
        raise _invalid_all(errors)


# --- 3. types -------------------------------------------------------------------------------


class YamlLocator:
    """Finds the 1-based line of a path like ("items", 3, "scale") in a ruamel round-trip tree.

    A path that leaves the document (a missing field) gives the line of the deepest part that exists.
    """

    def __init__(self, root: Any) -> None:
        self.root = root

    def line_of(self, loc: Loc) -> int:
        node = self.root
        line = int(node.lc.line) + 1
        for part in loc:
            # Round-trip trees are CommentedMap/CommentedSeq, which carry the line numbers (lc).
            if isinstance(node, CommentedMap) and part in node:
                line = int(node.lc.key(part)[0]) + 1
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
                line = int(node.lc.item(part)[0]) + 1
            else:
                break
            node = node[part]
        return line


class NodeLocator:
    """The same lookup as `YamlLocator`, on a composed node tree (from the faster safe composer)."""

    def __init__(self, root: Node) -> None:
        self.root = root

    def line_of(self, loc: Loc) -> int:
        node = self.root
        line = int(node.start_mark.line) + 1
        for part in loc:
            child = None
            if isinstance(node, MappingNode):
                for key, value in node.value:
                    if isinstance(key, ScalarNode) and key.value == part:
                        line, child = int(key.start_mark.line) + 1, value
                        break
            elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                child = node.value[part]
                line = int(child.start_mark.line) + 1
            if child is None:
                break
            node = child
        return line


def _validate(root: Any, source: str, locator: YamlLocator) -> Instrument:
    return _validate_data(_plain(root), source, locator)


def _validate_data(data: Any, source: str, locator: YamlLocator) -> Instrument:
    try:
        return Instrument.model_validate(data)
    except ValidationError as validation:
        errors = [
            _type_error(detail, data, source, locator) for detail in validation.errors(include_url=False)
        ]
        raise _invalid_all([error for error in errors if error is not None]) from None


def _plain(value: Any) -> Any:
    """ruamel's round-trip containers and scalar subclasses -> plain Python values for Pydantic."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    for plain_type in (bool, str, int, float):
        if isinstance(value, plain_type):
            return plain_type(value)
    return value


# Readable words for the model's patterns; anything else keeps Pydantic's wording.
_PATTERN_HINTS = {
    r"^[a-z][a-z0-9_]*$": "is not a valid id: use lowercase letters, digits and _, starting with a letter",
    r"^[A-Za-z0-9_.-]+$": "is not a valid option value: use letters, digits, '.', '_' or '-'",
    r"^[a-z]{2}(-[A-Z]{2})?$": "is not a language code like 'en' or 'es-MX'",
    r"^\d+\.\d+(\.\d+)?$": 'is not a version like "1.0" or "1.2.3"',
}
_KNOWN_FIELDS = sorted(
    {
        field.alias or name
        for model in StrictModel.__subclasses__()
        for name, field in model.model_fields.items()
    }
)


def _is_union_branch(part: str | int) -> bool:
    # LocalizedText is `str | dict[...]`; Pydantic names the branch it tried in the error location.
    return part == "str" or (isinstance(part, str) and part.startswith("dict["))


def _type_error(detail: Any, data: Any, source: str, locator: YamlLocator) -> InstrumentError | None:
    """One Pydantic error -> an InstrumentError at a path of the document, or None when it only
    repeats what the error from the other branch of a text-or-translations union says."""
    path: list[str | int] = []
    node = data
    kind = detail["type"]
    for part in detail["loc"]:
        if part == "[key]":
            break  # the key itself is wrong; `path` already ends at it
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif _is_union_branch(part):
            if isinstance(node, dict) and part != "str":
                continue
            if isinstance(node, dict) or part != "str":
                return None
            kind = "text_type"
            break
        else:
            node = None
        path.append(part)
    loc = tuple(path)
    return InstrumentError(
        _error_code(kind), source, locator.line_of(loc), format_path(loc), _error_message(kind, detail, loc)
    )


def _error_code(kind: str) -> str:
    if kind == "missing":
        return "missing"
    if kind == "extra_forbidden":
        return "unknown-field"
    if kind == "string_pattern_mismatch":
        return "format"
    if kind in ("too_short", "too_long"):
        return "length"
    if kind.startswith(("greater_than", "less_than")) or kind == "finite_number":
        return "range"
    if kind == "literal_error":
        return "choice"
    if kind.endswith(("_type", "_parsing")):
        return "type"
    return "invalid"


def _error_message(kind: str, detail: Any, loc: Loc) -> str:
    value = detail.get("input")
    name = loc[-1] if loc else ""
    if kind == "missing":
        return "this field is required"
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(str(name), _KNOWN_FIELDS, n=1, cutoff=0.75)
        return f"unknown field '{name}'" + (f"; did you mean '{close[0]}'?" if close else "")
    if kind == "text_type":
        return "must be text, or one text per language (a mapping such as en: ..., es: ...)"
    if kind == "string_pattern_mismatch":
        hint = _PATTERN_HINTS.get(detail.get("ctx", {}).get("pattern", ""))
        if hint:
            return f"{value!r} {hint}"
    if kind == "string_type" and isinstance(value, int | float | date):
        return f"must be text; write {value} in quotes"
    if kind == "too_short":
        ctx = detail["ctx"]
        return f"needs at least {ctx['min_length']} entries, has {ctx['actual_length']}"
    return str(detail["msg"]).replace("Input should be", "must be")


# --- helpers --------------------------------------------------------------------------------


def _invalid(code: str, source: str, message: str, *, line: int | None = None) -> InstrumentInvalid:
    return InstrumentInvalid([InstrumentError(code, source, line, "", message)])


def _sorted(errors: list[InstrumentError]) -> list[InstrumentError]:
    """By file (in the order the files were first named), then by line."""
    order: dict[str, int] = {}
    for error in errors:
        order.setdefault(error.file, len(order))
    return sorted(errors, key=lambda error: (order[error.file], error.line is None, error.line or 0))


def _invalid_all(errors: list[InstrumentError]) -> InstrumentInvalid:
    errors = _sorted(errors)
    if len(errors) > MAX_REPORTED_ERRORS:
        first = errors[0]
        more = InstrumentError(
            "too-many-errors",
            first.file,
            None,
            "",
            f"{len(errors) - MAX_REPORTED_ERRORS} more errors not shown",
        )
        errors = [*errors[:MAX_REPORTED_ERRORS], more]
    return InstrumentInvalid(errors)


def _too_large(source: str) -> InstrumentInvalid:
    return _invalid(
        "too-large",
        source,
        f"is larger than {MAX_INSTRUMENT_BYTES // (1024 * 1024)} MB; "
        "an instrument file is normally well under 200 KB",
    )
