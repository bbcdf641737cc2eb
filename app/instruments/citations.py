"""Short author–year citations ("Valentine et al., 2022") from an instrument's APA-style references.

Reports print these in the text, where a reader needs to recognise a source, and the full reference
at the end; the citation *key* (`valentine2022`) is for authors of instrument files only.
"""

from __future__ import annotations

import re

# "(2022)", "(2007, June 1)", "(n.d.)": the year part of an APA reference, after the authors.
_YEAR = re.compile(r"\((\d{4})[^)]*\)|\((n\.d\.)\)")
# "Valentine, A." / "Anthony, W. A." / "Van der Berg, K.": a surname followed by initials.
_PERSON = re.compile(r"([A-Z][\w'’-]+(?: (?:[a-z]+ )*[A-Z][\w'’-]+)*), (?:[A-Z]\.\s?)+")


def short_citation(citation: str) -> str:
    """'Nicholson & Valentine, 2018' for two authors, 'Valentine et al., 2022' for three or more,
    'Miles, n.d.' for no date; an organization as author is kept whole. Falls back to the text
    before the first period when the reference has no recognisable year."""
    text = " ".join(citation.split())
    year_match = _YEAR.search(text)
    if year_match is None:
        return text.split(". ")[0].strip()
    year = year_match.group(1) or year_match.group(2)
    authors = text[: year_match.start()].strip().rstrip(",")
    surnames = _PERSON.findall(authors + " ")
    if not surnames:
        return f"{authors}, {year}"
    if len(surnames) == 1:
        return f"{surnames[0]}, {year}"
    if len(surnames) == 2:
        return f"{surnames[0]} & {surnames[1]}, {year}"
    return f"{surnames[0]} et al., {year}"
