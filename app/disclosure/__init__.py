"""The one disclosure-control layer: every figure that leaves the rules module for a page, PDF,
export, API, consultant view or email passes through here (docs/privacy.md).

* `app.disclosure.policy`: the rules of counts (threshold, each source on its own, pooling with
  complementary suppression, which statistics may appear together, re-release step rule);
* `app.disclosure.view`: a Scorecard turned into its disclosed view, comment visibility, the
  plain words for a figure held back;
* `app.disclosure.audit`: the row-space audit of all releases of an assessment;
* `app.disclosure.release`: the cells a release shows and the release decision.

Pure: no web, database, services or settings imports. The functions other modules call most are
re-exported here.
"""

from app.disclosure.policy import (
    DEFAULT_THRESHOLD,
    DISTRIBUTION_MIN,
    may_rerelease,
    may_show_distribution,
    may_show_group,
    may_show_item_detail,
    may_show_range,
    may_show_site,
    may_show_spread,
    responses_needed,
)

__all__ = [
    "DEFAULT_THRESHOLD",
    "DISTRIBUTION_MIN",
    "may_rerelease",
    "may_show_distribution",
    "may_show_group",
    "may_show_item_detail",
    "may_show_range",
    "may_show_site",
    "may_show_spread",
    "responses_needed",
]
