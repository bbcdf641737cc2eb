"""The report as the web and the command line ask for it: access check, context, cached render, audit."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from app.db.models import User
from app.reports.context import build_report_context
from app.reports.pdf import render_report_pdf, report_filename
from app.services import access, audit


def report_pdf_for_download(
    session: Session, *, user: User, assessment_id: int, paper: str, cache_dir: Path | None
) -> tuple[bytes, str]:
    """PDF bytes and a download name. Raises NotFound (other organization or unknown id) or
    Forbidden (funder) through app.services.access; records the export in the audit log."""
    assessment = access.get_assessment(session, user=user, assessment_id=assessment_id)
    context = build_report_context(session, assessment_id=assessment.id, paper=paper)  # type: ignore[arg-type]
    body = render_report_pdf(context, cache_dir=cache_dir)
    audit.record(
        session,
        actor=user,
        action="report.export",
        target=f"assessment:{assessment.id}",
        organization_id=assessment.organization_id,
        detail={"paper": paper, "format": "pdf", "bytes": len(body)},
    )
    return body, report_filename(context)
