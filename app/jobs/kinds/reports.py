"""Action-plan reports as jobs.

- `report`: render one assessment's PDFs (Letter and A4 by default) into the content-keyed report
  cache (`<data dir>/report-cache`, app/reports/pdf.py), so the next download is a file read.
- `report_batch`: a zip of the site reports of a list of assessments, progress per site.

Both render through `render_into_cache`, which holds a lease on the PDF's cache key while it
renders: a report job and a batch (or two batches) asking for the same PDF at the same time render
it once; the second finds it in the cache.
"""

from __future__ import annotations

import hashlib
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from app import i18n
from app.config import Settings
from app.db.models import Assessment, User
from app.errors import BadInput, NotFound, PeerReadyError
from app.jobs.registry import JobKind, Output, Prepared, register
from app.jobs.runner import JobContext, report_pdf_lease_key
from app.reports.models import PAPERS, ReportContext
from app.reports.pdf import cache_key, render_report_pdf, report_filename
from app.services import access
from app.services.reports import build_report_context, remember_render, report_fingerprint

PAPER_LABELS = {"letter": "Letter", "a4": "A4"}
MAX_BATCH_SITES = 5000
PDF = "application/pdf"
ZIP = "application/zip"


def report_cache_dir(settings: Settings) -> Path:
    """The cache the report download route reads (app/web/routes/report_downloads.py)."""
    return settings.report_cache_dir


def render_into_cache(
    ctx: JobContext, context: ReportContext, *, fingerprint: str | None = None
) -> tuple[Path, bytes, bool]:
    """The PDF of `context` in the report cache: (its path, its bytes, whether this call rendered it).
    With `fingerprint` (of the rows the context was read from), downloads find it without
    rebuilding the context (app.services.reports.report_fingerprint)."""
    cache_dir = report_cache_dir(ctx.settings)
    key = cache_key(context)
    path = cache_dir / f"{key}.pdf"
    with ctx.lease(report_pdf_lease_key(key)):
        rendered = not path.exists()
        data = render_report_pdf(context, cache_dir=cache_dir, keep=ctx.settings.report_cache_keep)
    if fingerprint is not None:
        remember_render(cache_dir, fingerprint=fingerprint, pdf_path=path, filename=report_filename(context))
    return path, data, rendered


def _id(value: Any, what: str) -> int:
    if not access.is_valid_id(value):
        raise BadInput(f"{what} must be a whole number from 1 to {access.MAX_ID}.")
    return int(value)


def _papers(value: Any) -> list[str]:
    if value is None:
        return list(PAPERS)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or any(p not in PAPERS for p in value):
        raise BadInput(f"papers must be a list of {', '.join(PAPERS)}.")
    return [p for p in PAPERS if p in value]


def _assessment_for(session: Session, user: User | None, assessment_id: int) -> Assessment:
    if user is None:  # started by PeerReady itself (e.g. after a change): no person to check
        return access.get_row(session, Assessment, assessment_id, missing="No such assessment.")
    return access.get_assessment(session, user=user, assessment_id=assessment_id)


# --- one assessment's PDFs --------------------------------------------------------------------


def prepare_report(
    session: Session, params: dict[str, Any], user: User | None, settings: Settings
) -> Prepared:
    assessment_id = _id(params.get("assessment_id"), "assessment_id")
    papers = _papers(params.get("papers"))
    lang = i18n.normalize(params.get("lang"))
    assessment = _assessment_for(session, user, assessment_id)
    name = access.organization_name(session, organization_id=assessment.organization_id)
    return Prepared(
        title=f"Report PDFs for {name}, {assessment.name}",
        params={"assessment_id": assessment_id, "papers": papers, "lang": lang},
        organization_id=assessment.organization_id,
        # A report in another language is another job (the default one never joins it).
        lock_key=f"report:{assessment_id}:{'+'.join(papers)}" + (f":{lang}" if lang else ""),
        timeout_seconds=300,
        total=len(papers),
    )


def run_report(ctx: JobContext, params: dict[str, Any]) -> Output:
    assessment_id = int(params["assessment_id"])
    papers = list(params["papers"])
    files: dict[str, str] = {}
    rendered: list[str] = []
    first: tuple[Path, str] | None = None
    for number, paper in enumerate(papers):
        ctx.progress(
            number, len(papers), f"Preparing the {PAPER_LABELS[paper]} PDF ({number + 1} of {len(papers)})"
        )
        with ctx.session() as session:
            if ctx.user is not None:
                access.get_assessment(session, user=ctx.user, assessment_id=assessment_id)
            # Fingerprint first, context second: the context is then never older than the
            # fingerprint it is recorded under (a change in between only maps a stale fingerprint).
            lang = params.get("lang")
            fingerprint = report_fingerprint(session, assessment_id=assessment_id, paper=paper, lang=lang)
            context = build_report_context(session, assessment_id=assessment_id, paper=paper, lang=lang)
        path, _, was_rendered = render_into_cache(ctx, context, fingerprint=fingerprint)
        files[paper] = path.name
        if was_rendered:
            rendered.append(paper)
        if first is None:
            first = (path, report_filename(context))
    ctx.progress(len(papers), len(papers), "Ready")
    assert first is not None
    return Output(
        path=first[0],
        filename=first[1],
        media_type=PDF,
        detail={
            "assessment_id": assessment_id,
            "files": files,  # paper -> file name in the report cache
            "rendered": rendered,
            "from_cache": [p for p in papers if p not in rendered],
        },
    )


# --- a zip of site reports --------------------------------------------------------------------


def prepare_batch(
    session: Session, params: dict[str, Any], user: User | None, settings: Settings
) -> Prepared:
    if user is None:
        raise BadInput("A batch of reports is started by a person.")
    raw = params.get("assessment_ids")
    if not isinstance(raw, list) or not raw:
        raise BadInput("assessment_ids must be a non-empty list.")
    if len(raw) > MAX_BATCH_SITES:
        raise BadInput(f"A batch holds at most {MAX_BATCH_SITES} assessments.")
    ids = list(dict.fromkeys(_id(value, "Each assessment id") for value in raw))
    paper = params.get("paper", "letter")
    if paper not in PAPERS:
        raise BadInput(f"paper must be one of {', '.join(PAPERS)}.")
    lang = i18n.normalize(params.get("lang"))
    organizations = set(access.organizations_of_assessments(session, user=user, assessment_ids=ids).values())
    digest = hashlib.sha256(f"{paper}:{lang}:{','.join(map(str, ids))}".encode()).hexdigest()[:24]
    single = next(iter(organizations)) if len(organizations) == 1 else None
    return Prepared(
        title=f"Site reports, {len(ids)} site{'s' if len(ids) != 1 else ''} ({PAPER_LABELS[paper]})",
        params={
            "assessment_ids": ids,
            "paper": paper,
            "organization_ids": sorted(organizations),
            **({"lang": lang} if lang else {}),
        },
        organization_id=single,
        # Per person: the job is theirs (it may span organizations another user cannot all see).
        lock_key=f"report_batch:{user.id}:{digest}",
        timeout_seconds=120 + 30 * len(ids),
        total=len(ids),
    )


def _sites(n: int) -> str:
    return f"{n} site{'s' if n != 1 else ''}"


def run_batch(ctx: JobContext, params: dict[str, Any]) -> Output:
    if ctx.user is None:
        raise NotFound("The account that started this batch no longer exists.")
    ids = [int(i) for i in params["assessment_ids"]]
    paper = str(params["paper"])
    total = len(ids)
    out_dir = ctx.output_dir()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    filename = f"peerready-site-reports-{stamp}.zip"
    partial = out_dir / (filename + ".part")
    skipped: list[dict[str, Any]] = []
    rendered = 0
    names: set[str] = set()
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as archive:
        for number, assessment_id in enumerate(ids):
            ctx.progress(number, total, f"{number} of {_sites(total)}")
            try:
                with ctx.session() as session:
                    # Access is checked again: it may have been withdrawn since the batch started.
                    access.get_assessment(session, user=ctx.user, assessment_id=assessment_id)
                    context = build_report_context(
                        session, assessment_id=assessment_id, paper=paper, lang=params.get("lang")
                    )
            except PeerReadyError as exc:
                skipped.append({"assessment_id": assessment_id, "reason": exc.message})
                continue
            _, data, was_rendered = render_into_cache(ctx, context)
            rendered += was_rendered
            name = f"{assessment_id}-{report_filename(context)}"
            if name not in names:
                names.add(name)
                archive.writestr(name, data)
        if skipped:
            lines = [f"assessment {s['assessment_id']}: {s['reason']}" for s in skipped]
            archive.writestr("not-included.txt", "Not included in this batch:\n" + "\n".join(lines) + "\n")
    included = total - len(skipped)
    if included == 0:
        partial.unlink(missing_ok=True)
        raise NotFound("None of the chosen assessments could be included.")
    final = out_dir / filename
    partial.replace(final)
    ctx.progress(total, total, f"{total} of {_sites(total)}")
    return Output(
        path=final,
        filename=filename,
        media_type=ZIP,
        detail={
            "paper": paper,
            "included": included,
            "skipped": skipped,
            "rendered": rendered,
            "from_cache": included - rendered,
        },
    )


register(
    JobKind(
        name="report",
        label="Report PDFs",
        prepare=prepare_report,
        run=run_report,
        audit_action="report.export",
    )
)
register(
    JobKind(
        name="report_batch",
        label="Site reports (zip)",
        prepare=prepare_batch,
        run=run_batch,
        audit_action="report.export_batch",
        unit="sites",
    )
)
