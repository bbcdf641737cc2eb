"""Report fixtures: realistic assessments inserted directly (app/services/report_samples.py), and helpers
that read a PDF back (text, catalog, page images)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlmodel import Session

from app.db.models import Assessment, Organization
from app.services.report_samples import (
    create_sample_report_data,
    sample_respondents,
    snapshot_instrument,
    store_assessment,
)


@pytest.fixture
def follow_up(db: Session) -> Assessment:
    """A follow-up cycle with ~30 respondents, a baseline, a 10-action plan and a commentary."""
    assessment = create_sample_report_data(db, organization_name="Riverside Family Services")
    db.commit()
    return assessment


@pytest.fixture
def empty_assessment(db: Session) -> Assessment:
    """A cycle nobody has answered yet."""
    version, instrument = snapshot_instrument(db)
    organization = Organization(name="Quiet Valley Agency")
    db.add(organization)
    db.flush()
    assessment = store_assessment(
        db,
        organization=organization,
        version=version,
        instrument=instrument,
        name="Baseline, winter 2028",
        respondents=[],
    )
    db.commit()
    return assessment


def small_agency(db: Session, name: str = "Small Town Agency") -> Assessment:
    """Few respondents, so several groups fall under the privacy threshold."""
    import random

    version, instrument = snapshot_instrument(db)
    organization = Organization(name=name)
    db.add(organization)
    db.flush()
    people = sample_respondents(instrument, random.Random(3), 8, lean=0.5)
    assessment = store_assessment(
        db,
        organization=organization,
        version=version,
        instrument=instrument,
        name="Baseline, spring 2027",
        respondents=people,
    )
    db.commit()
    return assessment


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    # Collapse whitespace: WeasyPrint wraps lines wherever the layout needs.
    return " ".join(" ".join(page.extract_text() or "" for page in reader.pages).split())


def pdf_reader(data: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(data))


def page_images(data: bytes, folder: Path, dpi: int = 50) -> list[Path]:
    """The PDF's pages as PNG files, rendered by pdftoppm. Without pdftoppm the test skips with a
    reason, unless PEERREADY_REQUIRE_PDFTOPPM=1 (set by .ci/run), which makes it a failure."""
    if shutil.which("pdftoppm") is None:
        reason = "pdftoppm (poppler-utils) is not installed, so pages cannot be rasterized"
        if os.environ.get("PEERREADY_REQUIRE_PDFTOPPM") == "1":
            pytest.fail(f"{reason}; PEERREADY_REQUIRE_PDFTOPPM=1, so page-image tests may not skip")
        pytest.skip(reason)
    pdf = folder / "report.pdf"
    pdf.write_bytes(data)
    command = ["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(folder / "page")]
    subprocess.run(command, check=True, timeout=120)
    return sorted(folder.glob("page-*.png"))
