"""The funder privacy rules of the portfolio: the disclosure layer (app/disclosure) applied to
the site-level figures of a release (docs/privacy.md describes them).

Funders see site-level aggregates of completed cycles only, from stored scores:
- A site whose latest completed cycle has fewer respondents than the privacy threshold shows no
  score, no exact n and no response rate ("fewer than N respondents — not shown").
- A condition score is shown only when at least `threshold` respondents have a score for it.
- The response rate is shown only with the respondent count it is made from.

Pure functions of counts and stored figures: no database, no web.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

from app.disclosure import policy
from app.i18n import gettext
from app.portfolio.schemas import ScoreStatus
from app.scoring.numbers import rate_value, score_value

# A stored condition score of a cycle: (score, level id, respondents with a score).
StoredScore = tuple[float | None, str | None, int]


def cycle_is_shown(n_respondents: int, *, threshold: int) -> bool:
    """Whether any figure of a cycle may be shown to a funder."""
    return policy.may_show_site(n_respondents, threshold)


def below_threshold_text(threshold: int) -> str:
    """The status of a withheld site, in the current language (`app.i18n.use_locale`)."""
    return gettext("fewer than %(threshold)s respondents — not shown") % {"threshold": threshold}


def shown_respondents(n_respondents: int, *, threshold: int) -> int | None:
    return n_respondents if cycle_is_shown(n_respondents, threshold=threshold) else None


def shown_response_rate(n_respondents: int, expected: int | None, *, threshold: int) -> float | None:
    if not cycle_is_shown(n_respondents, threshold=threshold) or not expected:
        return None
    return _rate(n_respondents, expected)


@lru_cache(maxsize=4096)
def _rate(n_respondents: int, expected: int) -> float:
    # Exact rounding (a Fraction) is slow and the same few (n, expected) pairs recur across
    # thousands of sites: computed once each.
    return rate_value(Fraction(n_respondents, expected))


def shown_condition_score(
    n_respondents: int, stored: StoredScore | None, *, threshold: int
) -> tuple[float | None, str | None, int | None, ScoreStatus]:
    """(score, level id, n, status) of one condition of a cycle after the privacy rules."""
    if not cycle_is_shown(n_respondents, threshold=threshold):
        return None, None, None, "suppressed"
    if stored is None:
        return None, None, None, "no_score"
    score, level_id, n = stored
    if not policy.may_show_site(n, threshold):
        return None, None, None, "suppressed"
    if score is None:
        return None, None, None, "no_score"
    return score_value(score), level_id, n, "shown"
