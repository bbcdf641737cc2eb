"""Sentences written in English where they are computed, put in the reader's language where
they are shown.

The ICC readings of the reliability page come from `app.scoring.agreement`, which writes each
reading in English with its figures (the JSON and the command line show them so). The page
translates them at display time: each reading the agreement code can write is listed here as a
gettext pattern (`%(name)s` for a figure), a reading is matched against the English patterns,
and the matching pattern's translation is filled in with the same figures. A reading that
matches no pattern (new wording in `app.scoring.agreement`) is shown as it is, in English;
tests/i18n/test_portfolio_spanish.py checks that every reading of a real portfolio is translated.

Pure: no database, no web. The current language is `app.i18n`'s (the page sets it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from app.i18n import N_, gettext


@dataclass(frozen=True)
class Pattern:
    msgid: str  # the English sentence, with %(name)s for each figure (%% for a literal %)
    regex: re.Pattern[str]


def pattern(msgid: str) -> Pattern:
    """A gettext pattern and the regular expression that recognizes its English text."""
    parts: list[str] = []
    for piece in re.split(r"(%\([a-z_]+\)s|%%)", msgid):
        if piece == "%%":
            parts.append("%")
        elif piece.startswith("%("):
            parts.append(f"(?P<{piece[2:-2]}>.+?)")
        elif piece:
            parts.append(re.escape(piece))
    return Pattern(msgid=msgid, regex=re.compile("".join(parts)))


def translate(text: str, patterns: tuple[Pattern, ...]) -> str:
    """`text` in the current language when it is one of `patterns` in English, else as it is."""
    for candidate in patterns:
        found = candidate.regex.fullmatch(text)
        if found:
            return gettext(candidate.msgid) % found.groupdict()
    return text


# Every reading `app.scoring.agreement.icc` writes (its _icc1_reading, _icc2_reading and the
# reasons a value is missing), in the same words.
ICC_READINGS: tuple[str, ...] = (
    N_(
        "ICC(1) is %(value)s: sites differ no more than chance would make them differ; the variation "
        "lies within sites."
    ),
    N_(
        "ICC(1) is %(value)s: about %(percent)s%% of the variation in scores lies between sites, which "
        "is small (below .05)."
    ),
    N_("ICC(1) is %(value)s: about %(percent)s%% of the variation in scores lies between sites."),
    N_("ICC(2) is %(value)s: site means are reliable enough to compare sites (.70 or more)."),
    N_(
        "ICC(2) is %(value)s, below .70: differences between site means may be noise; compare sites "
        "with care."
    ),
    N_("ICC compares sites, so it needs respondents from at least 2 sites."),
    N_(
        "Only %(sites)s sites have respondents; ICC is shown from %(min_sites)s sites, because with "
        "fewer sites it says little."
    ),
    N_("Every site has a single respondent, so differences within sites cannot be measured."),
    N_("Every respondent gave the same score, so there is nothing to split."),
    N_("All site means are equal, so the reliability of site means cannot be computed."),
)


@cache
def _icc_patterns() -> tuple[Pattern, ...]:
    return tuple(pattern(msgid) for msgid in ICC_READINGS)


def icc_reading(reading: str) -> str:
    """An ICC reading of `app.scoring.agreement` in the current language."""
    return translate(reading, _icc_patterns())
