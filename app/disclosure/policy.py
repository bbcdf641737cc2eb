"""The disclosure rules themselves: which figure may be shown for a cell of how many people.

A *cell* is any set of respondents one figure is computed from: the site row of a condition, a
group row, the pooled row, a language row, an item. Every rule takes the cell's size (and, where
it matters, its size per source: "web" answers and paper "import" rows) and the privacy threshold k. Plain
functions of counts: no scores, no web, no database. docs/privacy.md explains each rule and the
attack it stops; the rules module (app/scoring/rules.py) and the disclosed view
(app/disclosure/view.py) call these and nothing else decides.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_THRESHOLD",
    "DISTRIBUTION_MIN",
    "PoolingPlan",
    "SourceCounts",
    "changes_needed",
    "check_threshold",
    "may_rerelease",
    "may_show_cell",
    "may_show_distribution",
    "may_show_group",
    "may_show_item_detail",
    "may_show_range",
    "may_show_site",
    "may_show_spread",
    "pool_groups",
    "pool_item_groups",
    "pool_languages",
    "responses_needed",
]

DEFAULT_THRESHOLD = 3
# Answer distributions (how many chose each option) need a larger cell than a mean: with four
# people, "3 agree, 1 disagrees" tells every agreeing person what the fourth said.
DISTRIBUTION_MIN = 5

# A cell's size per source ("web", "import"); a plain int means every answer came from the web.
SourceCounts = Mapping[str, int] | int


def check_threshold(threshold: int) -> int:
    if threshold < 1:
        raise ValueError("privacy_threshold must be at least 1")
    return threshold


def _by_source(n: int, by_source: SourceCounts | None) -> dict[str, int]:
    if by_source is None:
        return {"web": n}
    if isinstance(by_source, int):
        return {"web": by_source}
    return {source: count for source, count in by_source.items() if count > 0}


def may_show_cell(n: int, threshold: int, by_source: SourceCounts | None = None) -> bool:
    """A figure computed from `n` people may be shown: n >= threshold, and when the cell holds
    answers given through the web form, those web answers reach the threshold on their own.

    The source rule is what stops padding: one real web respondent plus two paper rows typed in
    by somebody who knows the other two values is a cell of 3 whose only unknown is the real
    person. With the rule the web part (1) is below the threshold, so the cell stays hidden: an
    import never lifts a cell into view. A cell of paper rows only still shows (an agency that
    cannot use the web form gets results), and paper rows added to a cell that already shows
    do not hide it."""
    check_threshold(threshold)
    if n <= 0 or n < threshold:
        return False
    web = _by_source(n, by_source).get("web", 0)
    return web == 0 or web >= threshold


def may_show_site(n: int, threshold: int, by_source: SourceCounts | None = None) -> bool:
    """The site row of a condition (its score, level and the counts behind them)."""
    return may_show_cell(n, threshold, by_source)


def may_show_group(n: int, threshold: int, by_source: SourceCounts | None = None) -> bool:
    """A group row (or the pooled row) of a condition, and naming that group beside comments."""
    return may_show_cell(n, threshold, by_source)


def may_show_item_detail(n: int, threshold: int, by_source: SourceCounts | None = None) -> bool:
    """An item's mean (n = people with a scored answer) or its "Don't know" / "Not applicable"
    counts (n = people who saw the item)."""
    return may_show_cell(n, threshold, by_source)


def may_show_distribution(n: int, threshold: int, by_source: SourceCounts | None = None) -> bool:
    """How many chose each answer option: n >= max(threshold, DISTRIBUTION_MIN)."""
    return may_show_cell(n, max(check_threshold(threshold), DISTRIBUTION_MIN), by_source)


def may_show_spread(n: int, threshold: int, *, site_row: bool, by_source: SourceCounts | None = None) -> bool:
    """The standard deviation (and the agreement label made from it): only on a condition's site
    row, only when the site row itself may be shown. Never on a group row: a group's mean and SD
    together with its n leave too few unknowns (with n = 3 and a known mean and SD, two people
    who compare notes know the third exactly; with n = 2 the pair is solved outright)."""
    return site_row and may_show_cell(n, threshold, by_source)


def may_show_range(n: int, threshold: int) -> bool:
    """Minimum and maximum are never shown: they ARE two respondents' values, and with the mean
    and n they give away a third when n = 3."""
    return False


def responses_needed(n: int, threshold: int) -> int:
    """How many more people must answer before a cell of `n` may be shown (0: it may)."""
    return max(0, check_threshold(threshold) - max(n, 0))


def may_rerelease(changed: int, threshold: int) -> bool:
    """A reopened cycle's new results replace the last release only when at least `threshold`
    responses were added, changed or withdrawn since it: comparing the two releases then mixes
    at least k people's answers, never one person's."""
    return changed >= check_threshold(threshold)


def changes_needed(changed: int, threshold: int) -> int:
    return max(0, check_threshold(threshold) - changed)


@dataclass(frozen=True)
class PoolingPlan:
    """Which groups of a condition are shown on their own, which are combined into one pooled
    row, and whether that pooled row may show a figure."""

    shown: list[str]
    pooled: list[str] = field(default_factory=list)
    pooled_visible: bool = False


def _total(counts: Mapping[str, int]) -> int:
    return sum(counts.values())


def _merge(parts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for part in parts:
        for source, count in part.items():
            merged[source] = merged.get(source, 0) + count
    return merged


def pool_groups(sizes: Mapping[str, SourceCounts], order: Sequence[str], threshold: int) -> PoolingPlan:
    """Pooling with complementary suppression, for one condition.

    A group is shown on its own when `may_show_group` holds for it. The others are combined into
    one pooled row. If the pooled row may not be shown while some groups are, the smallest shown
    group (the later one in `order` on a tie) joins the pool, again until the pool may be shown
    or no group is left on its own: otherwise "site minus the shown groups" would give the small
    groups' figure away. `order` is the instrument's group order; groups with no people are left
    out.
    """
    check_threshold(threshold)
    counts = _counts(sizes)
    present = [g for g in order if _total(counts.get(g, {})) > 0]
    shown = [g for g in present if may_show_group(_total(counts[g]), threshold, counts[g])]
    return _complementary(counts, present, shown, threshold)


def _counts(sizes: Mapping[str, SourceCounts]) -> dict[str, dict[str, int]]:
    return {g: _by_source(0, s) if not isinstance(s, int) else {"web": s} for g, s in sizes.items()}


def _complementary(
    counts: Mapping[str, Mapping[str, int]], present: Sequence[str], shown: list[str], threshold: int
) -> PoolingPlan:
    """Complementary suppression: the groups of `present` not in `shown` form the pool; while the
    pool may not be shown but some group is, the smallest shown group joins it."""
    order = list(present)
    pooled = [g for g in order if g not in shown]

    def pool_ok() -> bool:
        merged = _merge(counts[g] for g in pooled)
        return may_show_group(_total(merged), threshold, merged)

    while pooled and shown and not pool_ok():
        smallest = min(shown, key=lambda g: (_total(counts[g]), -order.index(g)))
        shown.remove(smallest)
        pooled = [g for g in order if g in pooled or g == smallest]
    return PoolingPlan(shown=shown, pooled=pooled, pooled_visible=bool(pooled) and pool_ok())


def pool_item_groups(
    sizes: Mapping[str, SourceCounts],
    present: Sequence[str],
    threshold: int,
    *,
    eligible: Collection[str],
) -> PoolingPlan:
    """Which groups an item's row may be shown for, per group (the per-question download).

    `present` are the groups (in the instrument's order) with anybody who saw the item, `sizes`
    each group's cell for the figure (people with a scored answer for the mean and counts;
    people who answered, with threshold max(k, 5), for the distribution), `eligible` the groups
    the condition shows on their own. A group is shown when it is eligible and its cell may be
    shown; every other present group is in the pool, and complementary suppression (as in
    `pool_groups`) makes sure "site minus the shown groups" is an empty set or a cell that may
    be shown itself. A present group whose cell is empty (everybody said "Don't know") stays in
    the pool: its count would otherwise be the site's minus the others'."""
    check_threshold(threshold)
    counts = _counts(sizes)
    for group in present:
        counts.setdefault(group, {})
    shown = [g for g in present if g in eligible and may_show_group(_total(counts[g]), threshold, counts[g])]
    return _complementary(counts, present, shown, threshold)


# A language comparison and the group comparison split the same people two ways; the cells of the
# cross-table (language x group row) are what subtracting one comparison from the other can leave.
NOT_RECORDED = ""


def pool_languages(
    cross: Mapping[str, Mapping[str, SourceCounts]],
    order: Sequence[str],
    threshold: int,
    *,
    eligible: Collection[str],
) -> PoolingPlan:
    """Which languages of a condition are shown on their own in the comparison by language, and
    which are combined into one pooled row: another kind of group comparison beside the
    respondent groups', through the same rules.

    `cross` is language -> group block -> the size (per source) of that cell of the cross-table,
    where the group blocks are the rows of the condition's group comparison as shown (each group
    shown on its own is a block; everybody else, pooled or withheld, is one more block). `order`
    is the languages' order; `eligible` the languages that may be shown on their own (never the
    "not recorded" language of paper rows).

    1. As in `pool_groups`: a language is shown on its own when `may_show_group` holds for it;
       the others form the pooled row, and complementary suppression moves the smallest shown
       language into it until the pool may be shown itself.
    2. Across comparisons: every cell of the cross-table of a shown row (each shown language,
       and the pool) with each group block holds nobody or may be shown itself. Otherwise the
       group row minus the language row (or the other way round) would leave a small set of
       people. While a cell fails, the smallest shown language with a failing cell (or, when
       only the pool fails, the smallest shown language) joins the pool, and step 1 runs again.
    3. A comparison needs two rows with a figure: when fewer than one language is left on its
       own, or one language is left and the pool is empty (its row would be the site row),
       nothing is shown (`shown` empty, everybody in `pooled`, `pooled_visible` False).
    """
    check_threshold(threshold)
    cells = {lang: _counts(blocks) for lang, blocks in cross.items()}
    totals = {lang: _merge(blocks.values()) for lang, blocks in cells.items()}
    present = [lang for lang in order if _total(totals.get(lang, {})) > 0]
    nothing = PoolingPlan(shown=[], pooled=list(present), pooled_visible=False)
    shown = [
        lang
        for lang in present
        if lang in eligible and may_show_group(_total(totals[lang]), threshold, totals[lang])
    ]

    def failing(blocks: Mapping[str, Mapping[str, int]]) -> bool:
        return any(
            _total(cell) > 0 and not may_show_cell(_total(cell), threshold, cell) for cell in blocks.values()
        )

    while True:
        plan = _complementary(totals, present, list(shown), threshold)
        if not plan.shown or (len(plan.shown) == 1 and not plan.pooled):
            return nothing
        pool: dict[str, dict[str, int]] = {}
        for lang in plan.pooled:
            for block, cell in cells[lang].items():
                pool[block] = _merge([pool.get(block, {}), cell])
        bad = [lang for lang in plan.shown if failing(cells[lang])]
        if not bad and not failing(pool):
            return plan
        candidates = bad or plan.shown
        smallest = min(candidates, key=lambda lang: (_total(totals[lang]), -present.index(lang)))
        shown = [lang for lang in plan.shown if lang != smallest]
