"""The release audit: can anybody's value be solved from everything ever released?

Every shown mean is a sum divided by its n, and n is shown, so each released cell (a site row, a
group row, an item mean) tells the viewer the SUM of its members' values. Stack the cells of every
release of an assessment as rows of a 0/1 matrix over the respondents' values: a respondent's
value can be worked out exactly when their unit vector e_i lies in the row space of that matrix
(some combination of released sums adds up to that one person). That is what differencing two
releases does ("4 x new - 3 x old"), and also what subtracting shown groups from a site row does.

A respondent who changes their answers becomes a new unknown (a new member id), so a difference
between an old and a new release mixes their old and new values and solves neither.

Pure (numpy only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Cell", "audit_cells", "solvable_members"]

_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Cell:
    """One released figure: `attribute` is what was averaged ("domain:<id>" or "item:<id>"),
    `row` which row it is ("site", a group id, "pooled"), `members` the member ids it sums."""

    attribute: str
    row: str
    members: frozenset[str]

    @property
    def key(self) -> tuple[str, str]:
        return (self.attribute, self.row)


def solvable_members(cells: Iterable[Iterable[str]]) -> set[str]:
    """The member ids whose value is determined by the sums over `cells` (row-space check)."""
    rows = [frozenset(c) for c in cells if c]
    members = sorted(set().union(*rows)) if rows else []
    if not members:
        return set()
    index = {m: i for i, m in enumerate(members)}
    matrix = np.zeros((len(rows), len(members)))
    for r, cell in enumerate(rows):
        for member in cell:
            matrix[r, index[member]] = 1.0
    # e_i is in the row space exactly when it has no component in the null space: the rows of
    # V^T past the rank span the null space.
    _, singular, vt = np.linalg.svd(matrix)
    rank = int((singular > _TOLERANCE * max(matrix.shape)).sum())
    null_space = vt[rank:]
    if null_space.shape[0] == 0:
        return set(members)
    weight = np.abs(null_space).max(axis=0)
    return {members[i] for i in range(len(members)) if weight[i] < 1e-7}


def audit_cells(
    previous: Sequence[Cell],
    new: Sequence[Cell],
    *,
    protected_rows: Iterable[str] = ("site",),
    first: Callable[[Cell], bool] | None = None,
) -> tuple[set[tuple[str, str]], bool]:
    """Check a new release against every earlier one, one attribute at a time.

    Returns (keys of new cells to suppress, passed). While some member is solvable, the smallest
    new cell that is not a protected row (the later one on a tie) is suppressed; cells for which
    `first` holds (the comparison by language) are suppressed before any other. If it still
    fails with only protected rows left, `passed` is False: the new release must not go out.
    """
    protected = set(protected_rows)
    suppressed: set[tuple[str, str]] = set()
    passed = True
    attributes = sorted({c.attribute for c in new})
    for attribute in attributes:
        old_cells = [c.members for c in previous if c.attribute == attribute]
        candidates = [c for c in new if c.attribute == attribute]
        while solvable_members(old_cells + [c.members for c in candidates]):
            removable = [c for c in candidates if c.row not in protected]
            if first is not None and any(first(c) for c in removable):
                removable = [c for c in removable if first(c)]
            if not removable:
                passed = False
                break
            smallest = min(reversed(removable), key=lambda c: len(c.members))
            candidates.remove(smallest)
            suppressed.add(smallest.key)
    return suppressed, passed
