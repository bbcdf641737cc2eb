"""The instrument catalog: the one place that finds instrument files, validates them and keeps
the parsed instruments in memory. Used by `peerready validate` and `peerready score`, by "Start a
cycle", and (through `app.services.instruments_store`) by every page, report and portfolio view
that needs the instrument an assessment is pinned to.

Pure apart from reading files: no web or database imports.

Rules:
- A folder's instrument files are the `*.yaml` / `*.yml` files directly in it, except drafts and
  fragments (names starting with `_` or `.`) and translation overlays (`<name>.<lang>.yaml`,
  e.g. `readiness-full.es.yaml`, which belong to `readiness-full.yaml`).
- One file per instrument id. Two files with the same id are an error for both, whatever their
  versions: every place that looks an instrument up does so by id (the "Start a cycle" form,
  `peerready score --instrument ID`), so a second file would make the id ambiguous. Earlier
  versions need no file: they live on in the snapshots of the assessments pinned to them.
- Parsed instruments are cached by the SHA-256 of their text (bounded, least recently used
  first out): editing a file gives a new hash and so a fresh parse; the same text, from a file or
  from a stored snapshot, is parsed once. Instruments are frozen models, safe to share.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.instruments.errors import InstrumentError, InstrumentInvalid
from app.instruments.loader import (
    MAX_INSTRUMENT_BYTES,
    LoadedInstrument,
    load_instrument_file,
    load_instrument_text,
)
from app.instruments.models import Instrument, text
from app.instruments.translations import is_translation_overlay

INSTRUMENT_SUFFIXES = (".yaml", ".yml")
# Parsed instruments kept in memory: a few shipped instruments and the versions still in use.
CACHE_SIZE = 64
DUPLICATE_ID = "duplicate-instrument"

_TOP_LEVEL_ID = re.compile(r"^(id|'id'|\"id\")\s*:", re.MULTILINE)


# --- finding files --------------------------------------------------------------------------


def is_instrument_file(path: Path) -> bool:
    """Whether a folder listing counts `path` as an instrument file (see the module rules)."""
    return (
        path.suffix in INSTRUMENT_SUFFIXES
        and not path.name.startswith(("_", "."))
        and not is_translation_overlay(path)
    )


def instrument_files(directory: str | Path) -> list[Path]:
    """Instrument files directly in `directory`, sorted by name."""
    return sorted(path for path in Path(directory).iterdir() if path.is_file() and is_instrument_file(path))


def expand_paths(targets: Iterable[str | Path]) -> list[Path]:
    """Files as given, folders replaced by the instrument files in them.

    Raises FileNotFoundError for a path that does not exist.
    """
    files: list[Path] = []
    for target in map(Path, targets):
        if target.is_dir():
            files.extend(instrument_files(target))
        elif target.exists():
            files.append(target)
        else:
            raise FileNotFoundError(f"no such file or folder: {target}")
    return files


# --- parsing, cached by content hash --------------------------------------------------------

_cache: OrderedDict[Any, LoadedInstrument | tuple[InstrumentError, ...]] = OrderedDict()
_cache_lock = threading.Lock()


def _cached(key: Any) -> LoadedInstrument | tuple[InstrumentError, ...] | None:
    with _cache_lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
        return found


def _remember(key: Any, value: LoadedInstrument | tuple[InstrumentError, ...]) -> None:
    with _cache_lock:
        _cache[key] = value
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def cached_instrument(content_hash: str) -> Instrument | None:
    """The parsed instrument of this content hash if it is in memory (no parsing, no I/O)."""
    found = _cached(content_hash)
    return found.instrument if isinstance(found, LoadedInstrument) else None


def load_text(source_text: str, *, source: str, content_hash: str | None = None) -> LoadedInstrument:
    """An instrument from its text (a stored snapshot); `source` names it in error messages.

    `content_hash` is the hash the text is known by (a snapshot's stored hash); by default the
    SHA-256 of the text. Raises InstrumentInvalid.
    """
    digest = content_hash or hashlib.sha256(source_text.encode("utf-8")).hexdigest()
    found = _cached(digest)
    if isinstance(found, LoadedInstrument):
        return found
    loaded = load_instrument_text(source_text, source=source)
    _remember(digest, loaded)
    return loaded


def load_file(path: str | Path) -> LoadedInstrument:
    """The instrument in one file (its text read every time, parsed only when it changed).

    Raises InstrumentInvalid with every error of the file.
    """
    path = Path(path)
    data = _read(path)
    if data is None:
        # Not a readable regular file of acceptable size: the loader words the error.
        return load_instrument_file(path)
    source = str(path)
    key = hashlib.sha256(data + _overlay_bytes(path)).hexdigest()
    found = _cached(key)
    if found is None:
        found = _cached((key, source))
    if isinstance(found, LoadedInstrument):
        return dataclasses.replace(found, path=source)
    if found is not None:
        raise InstrumentInvalid(list(found))
    try:
        loaded = load_instrument_file(path)
    except InstrumentInvalid as invalid:
        _remember((key, source), tuple(invalid.errors))  # errors name the file, so keyed by it too
        raise
    _remember(key, loaded)
    # Snapshots are looked up by the instrument's own content hash (which may differ from `key`
    # when overlays exist): the same parse serves both.
    _remember(loaded.content_hash, loaded)
    return loaded


def _read(path: Path) -> bytes | None:
    try:
        if not path.is_file() or path.stat().st_size > MAX_INSTRUMENT_BYTES:
            return None
        return path.read_bytes()
    except OSError:
        return None


def _overlay_bytes(path: Path) -> bytes:
    """The translation overlays next to `path` (`<stem>.<lang>.yaml`), so that editing one
    of them also counts as a change of the instrument."""
    overlays = sorted(
        sibling
        for sibling in path.parent.glob(f"{glob.escape(path.stem)}.*")
        if sibling != path and is_translation_overlay(sibling)
    )
    chunks = []
    for overlay in overlays:
        try:
            chunks.append(overlay.name.encode() + b"\0" + overlay.read_bytes())
        except OSError:
            continue
    return b"".join(chunks)


# --- checking files and folders -------------------------------------------------------------


@dataclass(frozen=True)
class FileCheck:
    """The result for one file: the instrument, or why it cannot be used. A file that parses but
    shares its id with another keeps `loaded` (so its id is known) and has errors."""

    path: Path
    loaded: LoadedInstrument | None
    errors: tuple[InstrumentError, ...] = ()

    @property
    def ok(self) -> bool:
        return self.loaded is not None and not self.errors


def check_paths(targets: Iterable[str | Path]) -> list[FileCheck]:
    """Check files (folders are expanded), including one file per instrument id in each folder.

    Raises FileNotFoundError for a path that does not exist.
    """
    checks = []
    for path in expand_paths(targets):
        try:
            checks.append(FileCheck(path, load_file(path)))
        except InstrumentInvalid as invalid:
            checks.append(FileCheck(path, None, tuple(invalid.errors)))
    return _mark_duplicate_ids(checks)


def validate_paths(targets: Iterable[str | Path]) -> dict[Path, list[InstrumentError]]:
    """Errors per file (an empty list for a valid file); folders are expanded."""
    return {check.path: list(check.errors) for check in check_paths(targets)}


def _mark_duplicate_ids(checks: list[FileCheck]) -> list[FileCheck]:
    by_id: dict[tuple[Path, str], list[FileCheck]] = {}
    for check in checks:
        # Drafts named explicitly on the command line are checked, but are not part of a folder.
        if check.loaded is not None and is_instrument_file(check.path):
            key = (check.path.resolve().parent, check.loaded.instrument.id)
            by_id.setdefault(key, []).append(check)
    marked: dict[Path, FileCheck] = {}
    for (_, instrument_id), group in by_id.items():
        if len(group) < 2:
            continue
        for check in group:
            assert check.loaded is not None
            others = ", ".join(other.path.name for other in group if other is not check)
            error = InstrumentError(
                DUPLICATE_ID,
                str(check.path),
                _id_line(check.loaded.source_text),
                "id",
                f"instrument id '{instrument_id}' is also used by {others} in the same folder; keep one "
                "file per instrument id (earlier versions live on in the assessments pinned to them)",
            )
            marked[check.path] = dataclasses.replace(check, errors=(error,))
    return [marked.get(check.path, check) for check in checks]


def _id_line(source_text: str) -> int | None:
    match = _TOP_LEVEL_ID.search(source_text)
    return source_text.count("\n", 0, match.start()) + 1 if match else None


@dataclass(frozen=True)
class FolderScan:
    """What an instruments folder offers: the usable instruments (sorted by title) and every file
    that cannot be used, with its errors."""

    directory: Path
    instruments: tuple[LoadedInstrument, ...]
    problems: tuple[FileCheck, ...]

    @property
    def errors(self) -> list[InstrumentError]:
        return [error for problem in self.problems for error in problem.errors]

    def get(self, instrument_id: str) -> LoadedInstrument | None:
        return next((loaded for loaded in self.instruments if loaded.instrument.id == instrument_id), None)

    def problems_of(self, instrument_id: str) -> list[InstrumentError]:
        """The errors that stop `instrument_id` from being offered (its id is used twice)."""
        return [
            error
            for problem in self.problems
            if problem.loaded is not None and problem.loaded.instrument.id == instrument_id
            for error in problem.errors
        ]


def scan_folder(directory: str | Path) -> FolderScan:
    """Every instrument file of `directory`, checked. A missing folder is one problem, not a crash."""
    folder = Path(directory)
    try:
        files = instrument_files(folder)
    except OSError as error:
        message = f"cannot read the instruments folder ({error.strerror or error})"
        problem = FileCheck(folder, None, (InstrumentError("unreadable", str(folder), None, "", message),))
        return FolderScan(folder, (), (problem,))
    checks = check_paths(files)
    usable = [check.loaded for check in checks if check.loaded is not None and not check.errors]
    usable.sort(key=lambda loaded: (text(loaded.instrument.title).casefold(), loaded.instrument.id))
    return FolderScan(folder, tuple(usable), tuple(check for check in checks if not check.ok))


def load_directory(directory: str | Path) -> list[LoadedInstrument]:
    """Every instrument of `directory`; raises InstrumentInvalid with the errors of all files that
    cannot be used (broken, or sharing an id)."""
    scan = scan_folder(directory)
    if scan.problems:
        raise InstrumentInvalid(scan.errors)
    return list(scan.instruments)


def find_instrument(instrument_id: str, directory: str | Path) -> LoadedInstrument | None:
    """The instrument with this id in `directory`, or None. Raises InstrumentInvalid when the id
    is used by more than one file there."""
    scan = scan_folder(directory)
    duplicates = scan.problems_of(instrument_id)
    if duplicates:
        raise InstrumentInvalid(duplicates)
    return scan.get(instrument_id)


def json_schema() -> dict[str, Any]:
    """JSON Schema of an instrument file, for editor completion and external tools."""
    schema = Instrument.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
