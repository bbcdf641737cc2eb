"""Report queries: what the action-plan PDF is made from, and which assessments a batch covers.

- `build_report_context` gathers one assessment's stored data (`ReportSources`) and lets the
  pure builder (`app.reports.context`) turn it into the `ReportContext` the renderer prints.
- `cached_report_for_download` (web: access check, fingerprint, the cached file or None, audit;
  never a render) and `report_pdf_for_operator` (command line: cached render, audit).
- `list_assessments` and `latest_assessment_ids_for_portfolio`: for `peerready assessments` and
  `peerready report --portfolio` (the operator of the instance sees every organization, so there
  is no per-user filter there).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.db.models import (
    Assessment,
    AssessmentScore,
    Commentary,
    ImportBatch,
    InstrumentVersion,
    Organization,
    PlanItem,
    Portfolio,
    PortfolioSite,
    Release,
    Response,
    ResponseStatus,
    User,
)
from app.errors import NotFound
from app.reports.context import (
    PreviousCycle,
    ReleaseNote,
    ReportSources,
    assemble_report_context,
    check_paper,
)
from app.reports.models import CommentLine, ReportContext
from app.reports.pdf import TEMPLATE_VERSION, cache_key, cached_pdf, render_report_pdf, report_filename
from app.services import access, audit, imports, instruments_store, releases
from app.services import commentary as commentary_service
from app.services import evidence as evidence_service
from app.services.scores import COUNTING_RULE, comments_for_results, counts_in_results

# --- one report -------------------------------------------------------------------------------


def build_report_context(
    session: Session, *, assessment_id: int, paper: str = "letter", lang: str | None = None
) -> ReportContext:
    """Gather the report of one assessment, in `lang` (None: the instrument's language). Raises
    NotFound for an unknown id, ValueError for an unknown paper size. Access checks are the
    caller's job (route: app.services.access)."""
    check_paper(paper)
    return assemble_report_context(
        gather_report_sources(session, assessment_id=assessment_id), paper=paper, lang=lang
    )


def gather_report_sources(session: Session, *, assessment_id: int) -> ReportSources:
    assessment = session.get(Assessment, assessment_id)
    if assessment is None:
        raise NotFound("No such assessment.")
    organization = session.get(Organization, assessment.organization_id)
    version = session.get(InstrumentVersion, assessment.instrument_version_id)
    if organization is None or version is None:
        raise NotFound("No such assessment.")
    instrument = instruments_store.instrument_of_version(version)
    # The report shows the latest release only, never live scores (docs/privacy.md, "Releases").
    releases.ensure_released(session, assessment=assessment)
    released = releases.released_scorecard(session, assessment_id=assessment_id)
    scorecard, stored = released if released else (None, None)
    has_scores = scorecard is not None and scorecard.n_respondents > 0
    comments: dict[str, list[CommentLine]] = {}
    if has_scores and scorecard is not None:
        shown = comments_for_results(stored.comments if stored else [])
        comments = {
            domain_id: [CommentLine(text=c.text, group_label=c.group_label) for c in lines]
            for domain_id, lines in shown.items()
        }
    return ReportSources(
        assessment=assessment,
        organization_name=organization.name,
        instrument=instrument,
        instrument_hash=version.content_hash,
        scorecard=scorecard,
        results_computed_at=stored.created_at if stored else None,
        response_counts=_response_counts(session, assessment_id),
        comments=comments,
        plan_items=list(
            session.exec(
                select(PlanItem)
                .where(PlanItem.organization_id == assessment.organization_id)
                .order_by(col(PlanItem.id))
            )
        ),
        previous=_previous_cycle(session, assessment) if has_scores else None,
        commentary=commentary_service.commentary_text(session, assessment_id=assessment_id),
        counting_rule=COUNTING_RULE,
        release_notes=tuple(_release_notes(session, assessment, instrument, scorecard, stored)),
        questions=evidence_service.question_rows(
            session,
            assessment=assessment,
            instrument=instrument,
            scorecard=scorecard,
            released_members=stored.members,
        )
        if has_scores and scorecard is not None and stored is not None
        else [],
    )


def _release_notes(
    session: Session, assessment: Assessment, instrument, scorecard, release
) -> list[ReleaseNote]:
    """The method notes' sentences about the release, as codes and values (written in the
    report's language when it is assembled): which release, which figures are held back and why,
    which paper imports count (docs/privacy.md)."""
    if release is None or scorecard is None:
        return [ReleaseNote("not_released")]
    threshold = scorecard.privacy_threshold
    notes = [
        ReleaseNote(
            "released", {"date": release.created_at, "number": release.number, "n": release.n_respondents}
        )
    ]
    for d in scorecard.domains:
        if d.suppressed:
            notes.append(
                ReleaseNote("held_back", {"domain_id": d.domain_id, "n": d.n, "threshold": threshold})
            )
    state = releases.release_state(session, assessment=assessment, privacy_threshold=threshold)
    if state.changed_since and state.changes_needed:
        notes.append(
            ReleaseNote(
                "changed",
                {"changed": state.changed_since, "threshold": threshold, "needed": state.changes_needed},
            )
        )
    for batch in imports.approved_imports(session, assessment_id=assessment.id):
        notes.append(
            ReleaseNote(
                "paper_import",
                {
                    "date": batch.created_at,
                    "by": batch.created_by,
                    "filename": batch.filename,
                    "n_rows": batch.n_rows,
                    "by_group": dict(batch.by_group),
                    "approver": batch.decided_by,
                    "threshold": threshold,
                },
            )
        )
    return notes


def _response_counts(session: Session, assessment_id: int) -> dict[tuple[str, str], int]:
    rows = session.exec(
        select(Response.group, Response.status, func.count())
        .outerjoin(ImportBatch, col(ImportBatch.id) == Response.import_batch_id)
        .where(Response.assessment_id == assessment_id, counts_in_results())
        .group_by(Response.group, Response.status)
    )
    return {(group, str(status)): n for group, status, n in rows}


def _previous_cycle(session: Session, assessment: Assessment) -> PreviousCycle | None:
    if assessment.previous_assessment_id is None:
        return None
    previous = session.get(Assessment, assessment.previous_assessment_id)
    if previous is None or previous.organization_id != assessment.organization_id:
        return None
    releases.ensure_released(session, assessment=previous)
    released = releases.released_scorecard(session, assessment_id=previous.id)
    if released is None:
        return None
    return PreviousCycle(
        name=previous.name,
        scorecard=released[0],
        computed_at=released[1].created_at,
        held_on=previous.closed_at or previous.created_at,
        closed=previous.closed_at is not None,
        same_instrument_version=previous.instrument_version_id == assessment.instrument_version_id,
    )


def report_fingerprint(session: Session, *, assessment_id: int, paper: str, lang: str | None = None) -> str:
    """A digest of every stored row the report of `assessment_id` is made from (the cycle, its
    organization's name, the instrument snapshot, its and the previous cycle's stored scores, the
    commentary and its author, the organization's plan, the response counts), the renderer's
    version, the paper and the language asked for. A few narrow queries, no parsing: what a
    download computes to find the cached PDF. The report job records which PDF each fingerprint
    printed (`remember_render`). Raises NotFound for an unknown id."""
    check_paper(paper)
    digest = hashlib.sha256(f"{TEMPLATE_VERSION}\0{paper}\0{COUNTING_RULE}\0{lang or ''}".encode())

    def add(rows: object) -> None:
        digest.update(b"\0")
        digest.update(repr(rows).encode())

    assessment_columns = Assessment.__table__.c  # type: ignore[attr-defined]
    cycle = session.exec(select(*assessment_columns).where(Assessment.id == assessment_id)).first()
    if cycle is None:
        raise NotFound("No such assessment.")
    add(tuple(cycle))
    cycles = [assessment_id]
    if cycle.previous_assessment_id is not None:
        cycles.append(cycle.previous_assessment_id)
        add(
            session.exec(
                select(Assessment.organization_id, Assessment.name, Assessment.instrument_version_id).where(
                    Assessment.id == cycle.previous_assessment_id
                )
            ).first()
        )
    add(session.exec(select(Organization.name).where(Organization.id == cycle.organization_id)).first())
    add(
        session.exec(
            select(InstrumentVersion.content_hash).where(InstrumentVersion.id == cycle.instrument_version_id)
        ).first()
    )
    add(
        session.exec(
            select(AssessmentScore.assessment_id, AssessmentScore.computed_at, AssessmentScore.n_respondents)
            .where(col(AssessmentScore.assessment_id).in_(cycles))
            .order_by(col(AssessmentScore.assessment_id))
        ).all()
    )
    # The figures are the releases' (and the method notes name the approved imports).
    add(
        session.exec(
            select(Release.assessment_id, Release.number, Release.created_at)
            .where(col(Release.assessment_id).in_(cycles))
            .order_by(col(Release.assessment_id), col(Release.number))
        ).all()
    )
    add(
        session.exec(
            select(ImportBatch.id, ImportBatch.status, ImportBatch.decided_at)
            .where(ImportBatch.assessment_id == assessment_id)
            .order_by(col(ImportBatch.id))
        ).all()
    )
    add(
        session.exec(
            select(Commentary.text, Commentary.updated_at, User.name)
            .outerjoin(User, col(User.id) == Commentary.author_id)
            .where(Commentary.assessment_id == assessment_id)
        ).first()
    )
    plan_columns = PlanItem.__table__.c  # type: ignore[attr-defined]
    add(
        session.exec(
            select(*plan_columns)
            .where(PlanItem.organization_id == cycle.organization_id)
            .order_by(col(PlanItem.id))
        ).all()
    )
    add(sorted(_response_counts(session, assessment_id).items()))
    return digest.hexdigest()


def _ref_path(cache_dir: Path, fingerprint: str) -> Path:
    return cache_dir / f"{fingerprint}.ref"


def remember_render(cache_dir: Path, *, fingerprint: str, pdf_path: Path, filename: str) -> None:
    """Record that the report with `fingerprint` is the PDF at `pdf_path` (written atomically)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    ref = _ref_path(cache_dir, fingerprint)
    partial = ref.with_name(f".tmp-{secrets.token_hex(6)}-{ref.name}")
    partial.write_text(json.dumps({"pdf": pdf_path.name, "filename": filename}))
    os.replace(partial, ref)


def _remembered(cache_dir: Path, fingerprint: str) -> tuple[Path, str] | None:
    try:
        ref = json.loads(_ref_path(cache_dir, fingerprint).read_text())
        path = cache_dir / str(ref["pdf"])
        if path.parent != cache_dir or not path.name.endswith(".pdf"):
            return None
        os.utime(path)  # recently used: kept when the cache is pruned
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None
    return path, str(ref["filename"])


@dataclass(frozen=True)
class ReportDownload:
    """A report download: the cached PDF of the current content, or None while it is prepared."""

    assessment_id: int
    organization_id: int
    filename: str | None
    path: Path | None


def cached_report_for_download(
    session: Session, *, user: User, assessment_id: int, paper: str, cache_dir: Path, lang: str | None = None
) -> ReportDownload:
    """The cached PDF of the assessment's report as it is now, never rendered here (a request
    reads a file or is told to wait). Raises NotFound (other organization or unknown id) or
    Forbidden (funder) through app.services.access; a download served is audited."""
    assessment = access.get_assessment(session, user=user, assessment_id=assessment_id)
    fingerprint = report_fingerprint(session, assessment_id=assessment.id, paper=paper, lang=lang)
    found = _remembered(cache_dir, fingerprint)
    if found is None:
        # Not printed under this fingerprint (say, the cache was filled by `peerready report`):
        # the PDF of the same content may still be there.
        context = build_report_context(session, assessment_id=assessment.id, paper=paper, lang=lang)
        pdf = cached_pdf(context, cache_dir=cache_dir)
        if pdf is not None:
            found = (pdf, report_filename(context))
            remember_render(cache_dir, fingerprint=fingerprint, pdf_path=pdf, filename=found[1])
    if found is None:
        return ReportDownload(assessment.id, assessment.organization_id, None, None)
    path, filename = found
    audit.record(
        session,
        actor=user,
        action="report.export",
        target=f"assessment:{assessment.id}",
        organization_id=assessment.organization_id,
        detail={"paper": paper, "format": "pdf", "bytes": path.stat().st_size, "lang": lang or "default"},
    )
    return ReportDownload(assessment.id, assessment.organization_id, filename, path)


def report_pdf_for_operator(
    session: Session, *, assessment_id: int, paper: str, cache_dir: Path | None, lang: str | None = None
) -> tuple[bytes, str]:
    """The same for the command line: the operator of the instance may print any assessment."""
    check_paper(paper)
    sources = gather_report_sources(session, assessment_id=assessment_id)
    context = assemble_report_context(sources, paper=paper, lang=lang)
    if cache_dir is None:
        body = render_report_pdf(context)
    else:
        # The same lock as the worker's jobs: a `peerready report` batch and a job asking for the
        # same PDF at once render it once (the second reads the first one's file).
        from app.jobs.runner import hold_lease, report_pdf_lease_key

        bind = session.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        session.commit()  # no write transaction of ours open while waiting (SQLite: one writer)
        with hold_lease(engine, report_pdf_lease_key(cache_key(context))):
            body = render_report_pdf(context, cache_dir=cache_dir)
    audit.record(
        session,
        actor="command line",
        action="report.export",
        target=f"assessment:{assessment_id}",
        organization_id=sources.assessment.organization_id,
        detail={"paper": paper, "format": "pdf", "bytes": len(body), "lang": context.lang},
    )
    return body, report_filename(context)


# --- which assessments ------------------------------------------------------------------------


@dataclass(frozen=True)
class AssessmentRow:
    id: int
    organization: str
    cycle: str
    status: str
    respondents: int  # responses started (submitted or in progress)
    submitted: int

    def as_dict(self) -> dict:
        return asdict(self)


def list_assessments(session: Session) -> list[AssessmentRow]:
    counts: dict[int, list[int]] = {}
    rows = session.exec(
        select(Response.assessment_id, Response.status, func.count())
        .outerjoin(ImportBatch, col(ImportBatch.id) == Response.import_batch_id)
        .where(counts_in_results())
        .group_by(col(Response.assessment_id), col(Response.status))
    )
    for assessment_id, status, n in rows:
        entry = counts.setdefault(assessment_id, [0, 0])
        entry[0] += n
        if status == ResponseStatus.submitted:
            entry[1] += n
    result = []
    query = (
        select(Assessment, Organization.name)
        .join(Organization, col(Organization.id) == Assessment.organization_id)
        .order_by(Organization.name, col(Assessment.created_at), col(Assessment.id))
    )
    for assessment, organization in session.exec(query):
        total, submitted = counts.get(assessment.id, (0, 0))
        result.append(
            AssessmentRow(
                id=assessment.id,
                organization=organization,
                cycle=assessment.name,
                status=str(assessment.status),
                respondents=total,
                submitted=submitted,
            )
        )
    return result


def latest_assessment_ids_for_portfolio(session: Session, *, portfolio_id: int) -> list[int]:
    """The newest assessment of each site of the portfolio (sites without one are skipped)."""
    if session.get(Portfolio, portfolio_id) is None:
        raise NotFound(f"No portfolio with id {portfolio_id}.")
    site_ids = list(
        session.exec(select(PortfolioSite.organization_id).where(PortfolioSite.portfolio_id == portfolio_id))
    )
    result = []
    for organization_id in sorted(site_ids):
        latest = session.exec(
            select(Assessment.id)
            .where(Assessment.organization_id == organization_id)
            .order_by(col(Assessment.created_at).desc(), col(Assessment.id).desc())
            .limit(1)
        ).first()
        if latest is not None:
            result.append(latest)
    return result
