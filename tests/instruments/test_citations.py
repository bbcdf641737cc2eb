"""Short author–year citations printed in reports."""

from __future__ import annotations

import pytest

from app.instruments.catalog import load_directory
from app.instruments.citations import short_citation
from app.paths import INSTRUMENTS_DIR


@pytest.mark.parametrize(
    ("citation", "short"),
    [
        ("Valentine, A., Walker, R., & Nicholson, J. (2022). Key considerations.", "Valentine et al., 2022"),
        ("Nicholson, J., & Valentine, A. (2018). Defining peerness.", "Nicholson & Valentine, 2018"),
        ("Miles, P. (n.d.). The Parent Journey.", "Miles, n.d."),
        (
            "Ashcraft, L., Anthony, W. A., & Dayan, E. (2007, June 1). Parent partners.",
            "Ashcraft et al., 2007",
        ),
        (
            "Substance Abuse and Mental Health Services Administration (2017). Value of Peers.",
            "Substance Abuse and Mental Health Services Administration, 2017",
        ),
        ("Van der Berg, K. (2020). A title.", "Van der Berg, 2020"),
        ("A report with no year. Publisher.", "A report with no year"),
    ],
)
def test_short_citation(citation: str, short: str) -> None:
    assert short_citation(citation) == short


def test_every_shipped_reference_has_a_year_or_nd() -> None:
    for loaded in load_directory(INSTRUMENTS_DIR):
        instrument = loaded.instrument
        for key, reference in instrument.references.items():
            short = short_citation(reference.citation)
            assert short.endswith(("n.d.",)) or short[-4:].isdigit(), (key, short)
