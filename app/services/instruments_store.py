"""Instrument snapshots: an assessment is pinned to the exact instrument text it started with.

Starting an assessment stores the YAML as an `InstrumentVersion` row (one per instrument id and
content hash). From then on the assessment's instrument is ALWAYS parsed from that stored text,
never from the file on disk, so editing or deleting a YAML file never changes an earlier
assessment, its results or its report.

Parsing YAML is slow next to a page render, so parsed snapshots are kept in memory by content
hash (the same text always parses to the same model; models are frozen).
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from sqlmodel import Session, select

from app.db.models import Assessment, InstrumentVersion
from app.errors import BadInput, NotFound
from app.instruments.models import Instrument, text

_parsed: dict[str, Instrument] = {}
_lock = threading.Lock()


_files: dict[Path, tuple[tuple[int, int], object]] = {}


def available_instruments(directory: Path) -> list:
    """The instruments a new assessment may use (`LoadedInstrument`s), sorted by title.

    Files are parsed again only when their size or modification time changes. A broken file is
    skipped here (`peerready instruments check` reports it): one bad file must not stop agencies
    from starting cycles with the good ones.
    """
    from app.instruments.loader import load_instrument_file
    from app.instruments.registry import instrument_files

    found = []
    for path in instrument_files(directory):
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = _files.get(path)
        if cached is None or cached[0] != stamp:
            try:
                cached = (stamp, load_instrument_file(path))
            except Exception:  # noqa: BLE001 - reported by the instruments check command, not here
                continue
            with _lock:
                _files[path] = cached
        found.append(cached[1])
    return sorted(found, key=lambda loaded: text(loaded.instrument.title))


def find_available(instrument_id: str, directory: Path):
    for loaded in available_instruments(directory):
        if loaded.instrument.id == instrument_id:
            return loaded
    raise BadInput(f"There is no instrument called {instrument_id!r}.")


def content_hash(source_text: str) -> str:
    return hashlib.sha256(source_text.encode("utf-8")).hexdigest()


def snapshot(session: Session, *, loaded) -> InstrumentVersion:
    """The stored snapshot of a loaded instrument, created the first time this exact text is used."""
    digest = loaded.content_hash or content_hash(loaded.source_text)
    instrument: Instrument = loaded.instrument
    existing = session.exec(
        select(InstrumentVersion).where(
            InstrumentVersion.instrument_id == instrument.id, InstrumentVersion.content_hash == digest
        )
    ).first()
    if existing is not None:
        return existing
    version = InstrumentVersion(
        instrument_id=instrument.id,
        version=instrument.version,
        content_hash=digest,
        title=text(instrument.title)[:300],
        source_yaml=loaded.source_text,
    )
    session.add(version)
    session.flush()
    with _lock:
        _parsed.setdefault(digest, instrument)
    return version


def instrument_of_version(version: InstrumentVersion) -> Instrument:
    """The parsed instrument of a stored snapshot (cached in memory by content hash)."""
    cached = _parsed.get(version.content_hash)
    if cached is not None:
        return cached
    from app.instruments.loader import load_instrument_text

    loaded = load_instrument_text(
        version.source_yaml, source=f"snapshot of {version.instrument_id} {version.version}"
    )
    with _lock:
        _parsed[version.content_hash] = loaded.instrument
    return loaded.instrument


def instrument_for(session: Session, assessment: Assessment) -> Instrument:
    # Ask for the hash first: the snapshot text (tens of kilobytes) is read only on a cache miss.
    digest = session.exec(
        select(InstrumentVersion.content_hash).where(InstrumentVersion.id == assessment.instrument_version_id)
    ).first()
    cached = _parsed.get(digest) if digest else None
    if cached is not None:
        return cached
    version = session.get(InstrumentVersion, assessment.instrument_version_id)
    if version is None:  # the foreign key makes this impossible short of manual edits
        raise NotFound("The instrument of this assessment is missing.")
    return instrument_of_version(version)


def clear_cache() -> None:
    with _lock:
        _parsed.clear()
