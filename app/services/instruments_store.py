"""Instrument snapshots: an assessment is pinned to the exact instrument text it started with.

Starting an assessment stores the YAML as an `InstrumentVersion` row (one per instrument id and
content hash). From then on the assessment's instrument is ALWAYS parsed from that stored text,
never from the file on disk, so editing or deleting a YAML file never changes an earlier
assessment, its results or its report.

Parsing YAML is slow next to a page render; the instrument catalog (`app.instruments.catalog`)
keeps parsed instruments in memory by content hash, for snapshots as for files.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection
from sqlmodel import Session, col, select

from app.db.models import Assessment, InstrumentVersion
from app.errors import NotFound
from app.instruments import catalog
from app.instruments.loader import LoadedInstrument
from app.instruments.models import Instrument, text


def content_hash(source_text: str) -> str:
    return hashlib.sha256(source_text.encode("utf-8")).hexdigest()


def snapshot(session: Session, *, loaded: LoadedInstrument) -> InstrumentVersion:
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
    return version


def instrument_of_version(version: InstrumentVersion) -> Instrument:
    """The parsed instrument of a stored snapshot (the catalog caches it by content hash)."""
    return catalog.load_text(
        version.source_yaml,
        source=f"snapshot of {version.instrument_id} {version.version}",
        content_hash=version.content_hash,
    ).instrument


def instrument_for(session: Session, assessment: Assessment) -> Instrument:
    # Ask for the hash first: the snapshot text (tens of kilobytes) is read only on a cache miss.
    digest = session.exec(
        select(InstrumentVersion.content_hash).where(InstrumentVersion.id == assessment.instrument_version_id)
    ).first()
    return instrument_with_hash(session, assessment, digest)


def instrument_with_hash(session: Session, assessment: Assessment, digest: str | None) -> Instrument:
    """The instrument of `assessment`, whose snapshot's content hash the caller already read
    (`app.services.responses.find_by_token` reads it with the response): no query when it is
    in the catalog's cache."""
    return instrument_of_snapshot(session, version_id=assessment.instrument_version_id, digest=digest)


def instrument_of_snapshot(bind: Session | Connection, *, version_id: int, digest: str | None) -> Instrument:
    """The instrument of the snapshot `version_id` whose content hash is `digest`: from the
    catalog's cache, else read (on the caller's session, or in its connection's transaction)."""
    cached = catalog.cached_instrument(digest) if digest else None
    if cached is not None:
        return cached
    if isinstance(bind, Connection):
        with Session(bind=bind) as session:
            return instrument_of_snapshot(session, version_id=version_id, digest=None)
    version = bind.get(InstrumentVersion, version_id)
    if version is None:  # the foreign key makes this impossible short of manual edits
        raise NotFound("The instrument of this assessment is missing.")
    return instrument_of_version(version)


def clear_cache() -> None:
    catalog.clear_cache()


def instruments_of_versions(session: Session, *, version_ids: set[int]) -> dict[int, Instrument]:
    """The parsed instruments of several snapshots at once (one query for their hashes; the YAML
    text is read only for those not in the catalog's cache)."""
    if not version_ids:
        return {}
    rows = session.exec(
        select(InstrumentVersion.id, InstrumentVersion.content_hash).where(
            col(InstrumentVersion.id).in_(sorted(version_ids))
        )
    ).all()
    found: dict[int, Instrument] = {}
    for version_id, digest in rows:
        cached = catalog.cached_instrument(digest)
        if cached is None:
            stored = session.get(InstrumentVersion, version_id)
            assert stored is not None  # just listed by the query above, in the same transaction
            cached = instrument_of_version(stored)
        found[version_id] = cached
    return found
