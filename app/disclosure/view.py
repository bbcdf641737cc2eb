"""The disclosed view of a scorecard: what any page, PDF, export, API or email may show of it.

`disclose_scorecard` is applied to every scorecard before it is stored in a release (and again,
idempotently, when one is read), so a template or export never decides on its own what to hide:
it shows what is left and says "hidden" where the view withheld something. Pure.
"""

from __future__ import annotations

from typing import Literal

from app.disclosure import policy
from app.scoring.models import DomainResult, ItemResult, Scorecard
from app.scoring.numbers import rate_value, score_value

__all__ = [
    "CommentVisibility",
    "comment_visibility",
    "disclose_scorecard",
    "groups_named_everywhere",
    "more_needed_text",
]

CommentVisibility = Literal["named", "unnamed", "hidden"]


def _rounded(value: float | None) -> float | None:
    return None if value is None else score_value(value)


def _disclose_item(item: ItemResult, threshold: int) -> ItemResult:
    changes: dict[str, object] = {}
    if item.mean is not None:
        changes["mean"] = _rounded(item.mean)
    if not policy.may_show_item_detail(item.shown_to, threshold) and (
        item.dont_know or item.not_applicable or item.choice
    ):
        changes.update(dont_know=0, not_applicable=0, choice=0, counts_withheld=True)
    return item.model_copy(update=changes) if changes else item


def _disclose_domain(domain: DomainResult, threshold: int) -> DomainResult:
    changes: dict[str, object] = {
        "min": None,  # never a range (policy.may_show_range)
        "max": None,
        "score": _rounded(domain.score),
        "items": [_disclose_item(i, threshold) for i in domain.items],
    }
    if not policy.may_show_spread(domain.n, threshold, site_row=True):
        changes.update(sd=None, agreement=None)
    if not policy.may_show_site(domain.n, threshold) and domain.answers_shown:
        # With the site row hidden, the "Don't know" count of those few people is theirs.
        changes.update(
            dont_know=0,
            not_applicable=0,
            dont_know_rate=rate_value(0),
            dont_know_flag=False,
            counts_withheld=True,
        )
    return domain.model_copy(update=changes)


def disclose_scorecard(scorecard: Scorecard) -> Scorecard:
    """The scorecard as it may leave the rules module: no minimum or maximum, SD and agreement
    only on a site row that may be shown, item and condition counts withheld for cells under the
    threshold, every number rounded once by app.scoring.numbers. Group pooling and the means
    themselves were already decided by the rules module through `policy` (pool_groups,
    may_show_site, may_show_item_detail). Idempotent."""
    threshold = scorecard.privacy_threshold
    return scorecard.model_copy(
        update={"domains": [_disclose_domain(d, threshold) for d in scorecard.domains]}
    )


def groups_named_everywhere(scorecard: Scorecard) -> set[str]:
    """Groups shown on their own in the scorecard (at least the threshold, never pooled in any
    condition): the only groups whose name may stand beside a comment."""
    return {
        g
        for g, n in scorecard.respondents_by_group.items()
        if policy.may_show_group(n, scorecard.privacy_threshold) and g not in scorecard.suppressed_groups
    }


def comment_visibility(scorecard: Scorecard, domain_id: str, group: str) -> CommentVisibility:
    """Whether a comment written in `domain_id` by somebody of `group` may be shown, and with
    its group's name. A comment follows the figure it sits beside: hidden when that person's
    row of the condition is hidden (a suppressed pooled row, or a hidden site row), unnamed when
    the group is pooled, named only when the group is shown on its own everywhere."""
    domain = next((d for d in scorecard.domains if d.domain_id == domain_id), None)
    if domain is None or domain.suppressed or domain.score is None:
        return "hidden"
    row = next(
        (r for r in domain.groups if r.group == group or group in r.pooled_groups),
        None,
    )
    if row is None or row.suppressed or row.score is None:
        return "hidden"
    if row.group == group and group in groups_named_everywhere(scorecard):
        return "named"
    return "unnamed"


def more_needed_text(n: int, threshold: int) -> str:
    """Plain words for a figure held back: "shown when 2 more people have answered"."""
    needed = policy.responses_needed(n, threshold)
    if needed <= 0:
        return ""
    from app.i18n import ngettext  # the reader's language (app.i18n imports nothing from here)

    return ngettext(
        "shown when %(num)s more person has answered", "shown when %(num)s more people have answered", needed
    ) % {"num": needed}
