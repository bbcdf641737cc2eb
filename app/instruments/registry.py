"""Finding instrument files on disk, and the JSON Schema authors' editors can use."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from app.instruments.errors import InstrumentError, InstrumentInvalid
from app.instruments.loader import LoadedInstrument, load_instrument_file
from app.instruments.models import Instrument

INSTRUMENT_SUFFIXES = (".yaml", ".yml")


def instrument_files(directory: str | Path) -> list[Path]:
    """Instrument files directly in `directory`; names starting with `_` are drafts or fragments."""
    return sorted(
        path
        for path in Path(directory).iterdir()
        if path.is_file() and path.suffix in INSTRUMENT_SUFFIXES and not path.name.startswith(("_", "."))
    )


def load_directory(directory: str | Path) -> list[LoadedInstrument]:
    """Every instrument in `directory`; raises InstrumentInvalid with the errors of all broken files."""
    loaded: list[LoadedInstrument] = []
    errors: list[InstrumentError] = []
    for path in instrument_files(directory):
        try:
            loaded.append(_load_cached(path))
        except InstrumentInvalid as invalid:
            errors.extend(invalid.errors)
    errors.extend(_duplicate_versions(loaded))
    if errors:
        raise InstrumentInvalid(errors)
    return loaded


def find_instrument(instrument_id: str, directory: str | Path) -> LoadedInstrument | None:
    """The instrument with this id (its highest version when several files share the id), or None."""
    matches = [loaded for loaded in load_directory(directory) if loaded.instrument.id == instrument_id]
    return max(matches, key=lambda loaded: _version_tuple(loaded.instrument.version), default=None)


def validate_paths(targets: Iterable[str | Path]) -> dict[Path, list[InstrumentError]]:
    """Errors per instrument file (an empty list for a valid file); folders are expanded.

    Raises FileNotFoundError for a path that does not exist.
    """
    results: dict[Path, list[InstrumentError]] = {}
    for path in expand_paths(targets):
        try:
            load_instrument_file(path)
            results[path] = []
        except InstrumentInvalid as invalid:
            results[path] = invalid.errors
    return results


def expand_paths(targets: Iterable[str | Path]) -> list[Path]:
    """Files as given, folders replaced by the instrument files in them."""
    files: list[Path] = []
    for target in map(Path, targets):
        if target.is_dir():
            files.extend(instrument_files(target))
        elif target.exists():
            files.append(target)
        else:
            raise FileNotFoundError(f"no such file or folder: {target}")
    return files


def json_schema() -> dict[str, Any]:
    """JSON Schema of an instrument file, for editor completion and external tools."""
    schema = Instrument.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def _load_cached(path: Path) -> LoadedInstrument:
    # The web app looks instruments up on many requests; re-parse only when the file changes.
    status = path.stat()
    return _load_file_version(path, status.st_mtime_ns, status.st_size)


@lru_cache(maxsize=128)
def _load_file_version(path: Path, _mtime_ns: int, _size: int) -> LoadedInstrument:
    return load_instrument_file(path)


def _duplicate_versions(loaded: list[LoadedInstrument]) -> list[InstrumentError]:
    first_file: dict[tuple[str, str], str] = {}
    errors = []
    for entry in loaded:
        key = (entry.instrument.id, entry.instrument.version)
        if key in first_file:
            errors.append(
                InstrumentError(
                    "duplicate-instrument",
                    entry.path or "",
                    None,
                    "version",
                    f"instrument '{key[0]}' version {key[1]} is also defined in {first_file[key]}",
                )
            )
        else:
            first_file[key] = entry.path or ""
    return errors


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))
