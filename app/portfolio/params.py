"""The portfolio's request parameters: filters and sort order, parsed and refused plainly."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.errors import BadInput

MAX_FILTER_LENGTH = 100


@dataclass(frozen=True)
class PortfolioFilters:
    region: str | None = None
    cohort: str | None = None
    instrument: str | None = None

    @classmethod
    def parse(cls, *, region: str | None, cohort: str | None, instrument: str | None) -> PortfolioFilters:
        values = {}
        for name, value in (("region", region), ("cohort", cohort), ("instrument", instrument)):
            value = (value or "").strip() or None
            if value is not None and len(value) > MAX_FILTER_LENGTH:
                raise BadInput(f"The {name} filter is too long.")
            values[name] = value
        return cls(**values)

    def query(self) -> dict[str, str]:
        """The filters as query parameters (for links that keep them)."""
        return {
            k: v
            for k, v in (("region", self.region), ("cohort", self.cohort), ("instrument", self.instrument))
            if v
        }

    @property
    def active(self) -> bool:
        return bool(self.query())


_CONDITION_SORT_KEY = re.compile(r"^(score|change)_[a-z][a-z0-9_]{0,63}$")
FIXED_SORT_KEYS = {
    "name": "Site",
    "region": "Region",
    "cohort": "Cohort",
    "date": "Cycle date",
    "n": "Respondents",
    "rate": "Response rate",
}


@dataclass(frozen=True)
class SortOrder:
    """`sort=` parameter: a key, with a leading '-' for descending. Keys: name, region, cohort,
    date, n, rate, score_<condition id>, change_<condition id>."""

    key: str = "name"
    descending: bool = False

    @classmethod
    def parse(cls, raw: str | None) -> SortOrder:
        raw = (raw or "name").strip()
        descending = raw.startswith("-")
        key = raw[1:] if descending else raw
        if key not in FIXED_SORT_KEYS and not _CONDITION_SORT_KEY.match(key):
            raise BadInput(f"Cannot sort by {key[:80]!r}.")
        return cls(key=key, descending=descending)

    @property
    def param(self) -> str:
        return ("-" if self.descending else "") + self.key

    def param_for(self, key: str) -> str:
        """The sort parameter a column header links to: toggles when it is the current column."""
        if key == self.key:
            return key if self.descending else "-" + key
        return key

    def aria_for(self, key: str) -> str | None:
        if key != self.key:
            return None
        return "descending" if self.descending else "ascending"


DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_PAGE = 100_000


@dataclass(frozen=True)
class SitePage:
    """Which part of the site table: a search on the site name (`q`, case-insensitive, anywhere
    in the name), the page number from 1 and its size. `size` None means every site (exports),
    0 no site at all (the summary alone)."""

    q: str | None = None
    number: int = 1
    size: int | None = DEFAULT_PAGE_SIZE

    @classmethod
    def parse(cls, *, q: str | None, page: int | None, per_page: int | None = DEFAULT_PAGE_SIZE) -> SitePage:
        q = (q or "").strip() or None
        if q is not None and len(q) > MAX_FILTER_LENGTH:
            raise BadInput("The search is too long.")
        number = 1 if page is None else page
        if not 1 <= number <= MAX_PAGE:
            raise BadInput(f"page must be a whole number from 1 to {MAX_PAGE}.")
        if per_page is not None and not 1 <= per_page <= MAX_PAGE_SIZE:
            raise BadInput(f"per_page must be a whole number from 1 to {MAX_PAGE_SIZE}.")
        return cls(q=q, number=number, size=per_page)

    def matches(self, name: str) -> bool:
        return self.q is None or self.q.casefold() in name.casefold()
