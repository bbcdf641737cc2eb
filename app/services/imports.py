"""Import paper-collected responses (CSV, docs/csv-layout.md) into an assessment cycle.

Two steps, so nothing is saved before a person has looked at it:
1. `preview_import` parses the file with the rules module's CSV reader. A file with any error is
   refused with every row/column error listed. A clean file is kept as a *pending import*: a JSON
   file under `<data_dir>/pending-imports/`, named by a random id and recording the user, the
   assessment, the file's SHA-256 and when it was uploaded. The browser only carries the id.
2. `confirm_import` reloads the pending file, checks that it belongs to the same user and
   assessment, is fresh, and still hashes to what was previewed, parses it again, and saves every
   row in the caller's transaction (Response source="import", status submitted, plus Answers) as
   one ImportBatch, *pending*. The pending file is removed, so a second confirm cannot import
   twice.
3. An org lead of the agency sees the batch on the cycle page (row counts per group, never the
   answers) and approves it (`decide_import`); only then do its rows count. Imports into a closed
   cycle are refused, and imported rows must reach the privacy threshold on their own in any
   figure (app.disclosure.policy), so an import can never lift a hidden group into view
   (docs/privacy.md, "Padding by import").
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session, col, select

from app.db.models import (
    Answer,
    Assessment,
    ImportBatch,
    ImportBatchStatus,
    Response,
    ResponseStatus,
    Role,
    User,
    utcnow,
)
from app.errors import BadInput, Conflict, Forbidden, Gone, NotFound, TooLarge
from app.i18n import current_locale, gettext
from app.instruments.models import Instrument, text
from app.scoring import ResponseInput
from app.scoring.csv_responses import CsvError, ResponsesCsvInvalid, parse_responses_csv
from app.scoring.redcap_responses import looks_like_redcap, parse_redcap_export
from app.services import access, audit, instruments_store, locks
from app.services.assessments import is_accepting_answers
from app.services.locks import lock_assessment
from app.services.scores import refresh_scores

MAX_IMPORT_BYTES = 900_000
PENDING_MAX_AGE_SECONDS = 3600
PREVIEW_ROWS = 5
IMPORT_ROLES = (Role.admin, Role.consultant)
_IMPORT_ID = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


@dataclass
class GroupRows:
    group_id: str
    label: str
    count: int


@dataclass
class PreviewRow:
    respondent: str
    group_label: str
    answered: int
    answered_by_condition: list[tuple[str, int]]


@dataclass
class ImportPreview:
    assessment_id: int
    filename: str
    sha256: str
    n_rows: int = 0
    groups: list[GroupRows] = field(default_factory=list)
    first_rows: list[PreviewRow] = field(default_factory=list)
    errors: list[CsvError] = field(default_factory=list)
    import_id: str | None = None  # set only for a clean file

    @property
    def ok(self) -> bool:
        return not self.errors and self.import_id is not None


@dataclass
class ImportResult:
    assessment_id: int
    n_saved: int
    by_group: dict[str, int]


def _check_target(session: Session, *, user: User, assessment_id: int) -> tuple[Assessment, Instrument]:
    assessment = access.get_assessment(session, user=user, assessment_id=assessment_id)
    if user.role not in IMPORT_ROLES:
        raise Forbidden(gettext("Only consultants and administrators import paper responses."))
    if not is_accepting_answers(assessment):
        raise Conflict(gettext("This cycle is closed. Reopen it before importing paper responses."))
    return assessment, instruments_store.instrument_for(session, assessment)


def _decode(content: bytes) -> str:
    if len(content) > MAX_IMPORT_BYTES:
        raise TooLarge(gettext("The file is larger than %(num)s kB.") % {"num": MAX_IMPORT_BYTES // 1000})
    if b"\x00" in content:
        raise BadInput(gettext("This does not look like a CSV text file."))
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput(
            gettext("The file is not UTF-8 text. In your spreadsheet, save it as 'CSV UTF-8'.")
        ) from None


#: What `import-responses --format` and the pending record accept: "auto" reads a file whose
#: header starts with record_id (or has respondent_group and no group) as a REDCap export.
FORMATS = ("auto", "peerready", "redcap")


def file_format(content: str, fmt: str = "auto") -> str:
    """ "peerready" (the paper CSV, docs/csv-layout.md) or "redcap" (a REDCap data export)."""
    if fmt not in FORMATS:
        raise BadInput(f"Unknown import format {fmt!r}; use one of: {', '.join(FORMATS)}.")
    if fmt == "auto":
        return "redcap" if looks_like_redcap(content) else "peerready"
    return fmt


def parse_text(instrument: Instrument, content: str, fmt: str = "auto") -> list[ResponseInput]:
    """Rows of a paper CSV or a REDCap export; raises ResponsesCsvInvalid listing every error."""
    if file_format(content, fmt) == "redcap":
        return parse_redcap_export(instrument, content)
    return parse_responses_csv(instrument, content)


def _parse(instrument: Instrument, content: bytes, fmt: str = "auto") -> list[ResponseInput]:
    return parse_text(instrument, _decode(content), fmt)


def _pending_dir(data_dir: Path) -> Path:
    path = Path(data_dir) / "pending-imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sweep(directory: Path) -> None:
    """Forget pending imports nobody confirmed within the hour."""
    cutoff = time.time() - PENDING_MAX_AGE_SECONDS
    for stale in directory.glob("*.json"):
        try:
            if stale.stat().st_mtime < cutoff:
                stale.unlink()
        except OSError:
            pass


def _summarize(instrument: Instrument, rows: list[ResponseInput]) -> tuple[list[GroupRows], list[PreviewRow]]:
    """Counts per group and the first rows, the labels in the current language."""
    lang = current_locale()
    counts = Counter(r.group for r in rows)
    groups = [GroupRows(g.id, text(g.label, lang), counts[g.id]) for g in instrument.groups if counts[g.id]]
    first = []
    for row in rows[:PREVIEW_ROWS]:
        by_domain = Counter(instrument.item_by_id(i).domain for i in row.answers)
        first.append(
            PreviewRow(
                respondent=row.respondent_id,
                group_label=text(instrument.group_by_id(row.group).label, lang),
                answered=len(row.answers),
                answered_by_condition=[(text(d.title, lang), by_domain[d.id]) for d in instrument.domains],
            )
        )
    return groups, first


def preview_import(
    session: Session, *, user: User, assessment_id: int, content: bytes, filename: str, data_dir: Path
) -> ImportPreview:
    """Check a CSV file and, when it is clean, keep it as a pending import. Saves no response."""
    _, instrument = _check_target(session, user=user, assessment_id=assessment_id)
    digest = hashlib.sha256(content).hexdigest()
    preview = ImportPreview(assessment_id=assessment_id, filename=filename[:200], sha256=digest)
    try:
        rows = _parse(instrument, content)
    except ResponsesCsvInvalid as invalid:
        preview.errors = invalid.errors
        return preview
    preview.n_rows = len(rows)
    preview.groups, preview.first_rows = _summarize(instrument, rows)

    directory = _pending_dir(data_dir)
    _sweep(directory)
    import_id = secrets.token_urlsafe(24)
    record = {
        "user_id": user.id,
        "assessment_id": assessment_id,
        "sha256": digest,
        "filename": preview.filename,
        "created": time.time(),
        "content": content.decode("utf-8-sig"),
        "content_sha256": hashlib.sha256(content.decode("utf-8-sig").encode("utf-8")).hexdigest(),
    }
    target = directory / f"{import_id}.json"
    # Written by this process only, readable by its user only: it holds people's answers.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        json.dump(record, stream)
    preview.import_id = import_id
    return preview


def _load_pending(*, data_dir: Path, import_id: str, user: User, assessment_id: int) -> tuple[Path, dict]:
    gone = Gone("This import has expired or was already saved. Upload the file again.")
    if not _IMPORT_ID.match(import_id or ""):
        raise gone
    path = _pending_dir(data_dir) / f"{import_id}.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise gone from None
    if record.get("user_id") != user.id or record.get("assessment_id") != assessment_id:
        raise gone  # somebody else's id, or another cycle: behave as if it did not exist
    if time.time() - float(record.get("created", 0)) > PENDING_MAX_AGE_SECONDS:
        path.unlink(missing_ok=True)
        raise gone
    content = str(record.get("content", "")).encode("utf-8")
    if hashlib.sha256(content).hexdigest() != record.get("content_sha256"):
        # What is saved must be exactly what was previewed.
        path.unlink(missing_ok=True)
        raise gone
    return path, record


def save_responses(
    session: Session,
    *,
    assessment: Assessment,
    instrument: Instrument,
    rows: list[ResponseInput],
    privacy_threshold: int,
    actor: str = "",
    filename: str = "",
    sha256: str = "",
) -> dict[str, int]:
    """Add the rows as submitted, imported responses of one PENDING import batch (caller's
    transaction: either every row is saved or none). They count in no figure until an org lead
    of the agency approves the batch (`decide_import`; docs/privacy.md, "Padding by import")."""
    locks.lock_assessment(session, assessment.id)
    session.refresh(assessment)
    if not is_accepting_answers(assessment):
        raise Conflict(gettext("This cycle is closed. Reopen it before importing paper responses."))
    now = utcnow()
    by_group = dict(Counter(row.group for row in rows))
    batch = ImportBatch(
        assessment_id=assessment.id,
        filename=filename[:200],
        sha256=sha256,
        n_rows=len(rows),
        by_group=by_group,
        created_by=actor[:200],
        created_at=now,
    )
    session.add(batch)
    session.flush()
    responses = []
    for row in rows:
        response = Response(
            assessment_id=assessment.id,
            group=row.group,
            status=ResponseStatus.submitted,
            source="import",
            import_batch_id=batch.id,
            created_at=now,
            updated_at=now,
            submitted_at=now,
        )
        responses.append((response, row))
        session.add(response)
    session.flush()
    session.add_all(
        Answer(response_id=response.id, item_id=item_id, value=value, updated_at=now)
        for response, row in responses
        for item_id, value in row.answers.items()
    )
    session.flush()
    return by_group


def confirm_import(
    session: Session,
    *,
    user: User,
    assessment_id: int,
    import_id: str,
    data_dir: Path,
    privacy_threshold: int,
) -> ImportResult:
    """Save a previewed import. Raises Gone for an unknown, expired, used or foreign import id."""
    assessment, instrument = _check_target(session, user=user, assessment_id=assessment_id)
    path, record = _load_pending(
        data_dir=data_dir, import_id=import_id, user=user, assessment_id=assessment_id
    )
    try:
        rows = parse_text(instrument, record["content"], record.get("format", "auto"))
    except ResponsesCsvInvalid:
        path.unlink(missing_ok=True)
        raise BadInput(gettext("The file no longer passes the checks. Upload it again to see why.")) from None
    by_group = save_responses(
        session,
        assessment=assessment,
        instrument=instrument,
        rows=rows,
        privacy_threshold=privacy_threshold,
        actor=user.name or user.email,
        filename=record["filename"],
        sha256=record["sha256"],
    )
    audit.record(
        session,
        actor=user,
        action="responses.import",
        target=f"assessment:{assessment.id}",
        organization_id=assessment.organization_id,
        detail={
            "rows": len(rows),
            "by_group": by_group,
            "sha256": record["sha256"],
            "file": record["filename"],
        },
    )
    path.unlink(missing_ok=True)
    return ImportResult(assessment_id=assessment.id, n_saved=len(rows), by_group=by_group)


def import_file_directly(
    session: Session,
    *,
    assessment_id: int,
    content: bytes,
    actor: str,
    privacy_threshold: int,
    dry_run: bool = False,
    fmt: str = "auto",
) -> tuple[list[ResponseInput], ImportResult | None]:
    """For the command line (an operator at the server): parse, and unless dry_run, save at once.

    Raises ResponsesCsvInvalid with every error; nothing is saved then."""
    assessment = session.get(Assessment, assessment_id)
    if assessment is None:
        raise NotFound(f"There is no assessment {assessment_id}.")
    if not is_accepting_answers(assessment):
        raise Conflict(gettext("This cycle is closed. Reopen it before importing paper responses."))
    instrument = instruments_store.instrument_for(session, assessment)
    rows = _parse(instrument, content, fmt)
    if dry_run:
        return rows, None
    by_group = save_responses(
        session,
        assessment=assessment,
        instrument=instrument,
        rows=rows,
        privacy_threshold=privacy_threshold,
        actor=actor,
        sha256=hashlib.sha256(content).hexdigest(),
    )
    audit.record(
        session,
        actor=actor,
        action="responses.import",
        target=f"assessment:{assessment.id}",
        organization_id=assessment.organization_id,
        detail={
            "rows": len(rows),
            "by_group": by_group,
            "sha256": hashlib.sha256(content).hexdigest(),
            "format": file_format(_decode(content), fmt),
        },
    )
    return rows, ImportResult(assessment_id=assessment.id, n_saved=len(rows), by_group=by_group)


# --- approval by the agency -------------------------------------------------------------------


@dataclass
class PendingImport:
    batch: ImportBatch
    groups: list[GroupRows]


def import_batches(
    session: Session, *, assessment: Assessment, instrument: Instrument
) -> list[PendingImport]:
    """The cycle's imports, newest first, with their row counts per group (never their answers)."""
    rows = session.exec(
        select(ImportBatch)
        .where(ImportBatch.assessment_id == assessment.id)
        .order_by(col(ImportBatch.created_at).desc(), col(ImportBatch.id).desc())
    )
    result = []
    for batch in rows:
        groups = [
            GroupRows(g.id, text(g.label, current_locale()), int(batch.by_group.get(g.id, 0)))
            for g in instrument.groups
            if batch.by_group.get(g.id)
        ]
        result.append(PendingImport(batch, groups))
    return result


def decide_import(
    session: Session,
    *,
    user: User,
    assessment: Assessment,
    batch_id: int,
    approve: bool,
    privacy_threshold: int,
) -> ImportBatch:
    """An org lead of the agency (or an administrator) approves or rejects a pending import. Only
    while the cycle is open: a closed cycle's figures are released and can change only through
    a reopen of the whole cycle. A rejected import's rows stay stored but never count."""
    if user.role not in (Role.org_lead, Role.admin):
        raise Forbidden(gettext("Only the agency's lead approves paper imports."))
    lock_assessment(session, assessment.id)
    session.refresh(assessment)
    batch = session.get(ImportBatch, batch_id)
    if batch is None or batch.assessment_id != assessment.id:
        raise NotFound(gettext("No such import."))
    if batch.status != ImportBatchStatus.pending:
        raise Conflict(gettext("This import was already decided."))
    if not is_accepting_answers(assessment):
        raise Conflict(gettext("This cycle is closed. Open it again before approving an import."))
    batch.status = ImportBatchStatus.approved if approve else ImportBatchStatus.rejected
    batch.decided_by = (user.name or user.email)[:200]
    batch.decided_at = utcnow()
    session.add(batch)
    session.flush()
    refresh_scores(session, assessment_id=assessment.id, privacy_threshold=privacy_threshold)
    audit.record(
        session,
        actor=user,
        action="responses.import_approve" if approve else "responses.import_reject",
        target=f"assessment:{assessment.id}",
        organization_id=assessment.organization_id,
        detail={"import_batch": batch.id, "rows": batch.n_rows, "by_group": batch.by_group},
    )
    return batch


def approved_imports(session: Session, *, assessment_id: int) -> list[ImportBatch]:
    """Approved imports of a cycle, oldest first (named in the report's method notes)."""
    return list(
        session.exec(
            select(ImportBatch)
            .where(
                ImportBatch.assessment_id == assessment_id, ImportBatch.status == ImportBatchStatus.approved
            )
            .order_by(col(ImportBatch.id))
        )
    )
