"""Parsed HTML for tests: assert that content is where it belongs, not merely somewhere in the bytes.

    from tests.helpers.html import parse

    page = parse(response)                    # an HTML response (or a str) parsed with lxml
    assert page.heading() == "Assessments"    # the text of the page's one <h1>
    assert page.text("#respondent-count") == "9 submitted, 1 in progress ..."
    rows = page.table("#scores-table")        # body rows as lists of cell texts
    by_name = page.records("#scores-table")   # body rows as {column heading: cell text}
    assert page.flashes() == ["Organization saved."]   # the notices of base.html (role=status)
    assert page.error() == ("Not found", "This link does not work.")  # templates/error.html
    assert page.alerts() == ["..."]           # error messages (role=alert)
    assert f"/assessments/{id}/results" in page.links("main")
    page.assert_not_shown("Birch")            # not in any visible text nor in any attribute value
    assert shows_number(page.text("td.num"), stored_score)  # "59.5" or "60" for 59.5; not "61"

Selectors are CSS (cssselect: CSS 3 plus :has() and :contains()). `one()` and `text()` demand
exactly one match, so a selector that matches nothing or too much fails loudly instead of passing.

"Visible text" is what a person gets from the page: text of elements that are not <script>,
<style>, <template>, <head> or carry the `hidden` attribute, with whitespace collapsed and block
boundaries (cells, paragraphs, list items) turned into spaces. Text for screen readers only
(class="visually-hidden") counts: it is read to people. So do <option> and <textarea> text and an
<img>'s alt; an <input>'s value does not (read values with `Page.form(css).fields`).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

import lxml.html
from lxml.html import HtmlElement

__all__ = ["Page", "parse", "shows_number", "visible_text"]

# Elements whose content nobody sees or hears.
_INVISIBLE = {"script", "style", "template", "head", "noscript"}
# Inline elements join their neighbours' text without a space; every other element is a boundary.
_INLINE = {
    "a",
    "abbr",
    "b",
    "bdi",
    "bdo",
    "cite",
    "code",
    "data",
    "dfn",
    "em",
    "i",
    "kbd",
    "label",
    "mark",
    "q",
    "s",
    "samp",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "time",
    "u",
    "var",
    "wbr",
}
_SPACES = re.compile(r"\s+")
_NUMBER = re.compile(r"[+\-−]?\d+(?:\.\d+)?")


def _collect(element: HtmlElement, parts: list[str]) -> None:
    tag = element.tag
    # Comments and processing instructions have a non-string tag; their tail is still text.
    if not isinstance(tag, str) or tag in _INVISIBLE or element.get("hidden") is not None:
        if element.tail:
            parts.append(element.tail)
        return
    boundary = tag not in _INLINE
    if boundary:
        parts.append(" ")
    if tag == "img":
        parts.append(element.get("alt") or "")
    elif element.text:
        parts.append(element.text)
    for child in element:
        _collect(child, parts)
    if boundary:
        parts.append(" ")
    if element.tail:
        parts.append(element.tail)


def visible_text(element: HtmlElement) -> str:
    """The element's visible text (see the module docstring), whitespace collapsed and stripped."""
    parts: list[str] = []
    tail, element.tail = element.tail, None  # the text after the element is not part of it
    try:
        _collect(element, parts)
    finally:
        element.tail = tail
    return _SPACES.sub(" ", "".join(parts)).strip()


def _describe(element: HtmlElement) -> str:
    text = visible_text(element)
    return text if len(text) <= 400 else text[:400] + " …"


class Page:
    """One parsed HTML document. Every lookup takes a CSS selector."""

    def __init__(self, html: str) -> None:
        if not html.strip():
            raise AssertionError("The response body is empty, not an HTML page")
        self.html = html
        self.root: HtmlElement = lxml.html.document_fromstring(html)

    # --- finding elements -------------------------------------------------------------------

    def select(self, css: str, within: HtmlElement | None = None) -> list[HtmlElement]:
        """Every element matching `css` (in document order), optionally inside `within`."""
        return (within if within is not None else self.root).cssselect(css)

    def one(self, css: str, within: HtmlElement | None = None) -> HtmlElement:
        """The single element matching `css`; fails when there is none or more than one."""
        found = self.select(css, within)
        if len(found) != 1:
            where = _describe(within if within is not None else self.main())
            raise AssertionError(f"{len(found)} elements match {css!r} (expected exactly 1) in: {where}")
        return found[0]

    def has(self, css: str) -> bool:
        return bool(self.select(css))

    def main(self) -> HtmlElement:
        """The <main> landmark (the whole document when a page has none)."""
        found = self.root.cssselect("main")
        return found[0] if len(found) == 1 else self.root

    # --- text ---------------------------------------------------------------------------------

    def text(self, css: str | None = None, within: HtmlElement | None = None) -> str:
        """Visible text of the one element matching `css` (inside `within`, if given), or of the
        whole page (or of `within`) without a selector."""
        if css:
            return visible_text(self.one(css, within))
        return visible_text(within if within is not None else self.root)

    def texts(self, css: str, within: HtmlElement | None = None) -> list[str]:
        """Visible text of every element matching `css`."""
        return [visible_text(element) for element in self.select(css, within)]

    def heading(self) -> str:
        """The text of the page's one <h1>."""
        return self.text("h1")

    def headings(self, level: int | None = None) -> list[str]:
        """Texts of every heading (of one level, or h1–h6) in document order."""
        css = f"h{level}" if level else "h1, h2, h3, h4, h5, h6"
        return self.texts(css)

    def error(self) -> tuple[str, str]:
        """An error page's (heading, message): templates/error.html's <h1> and lead paragraph."""
        return self.heading(), self.text("main p.lead")

    def flashes(self) -> list[str]:
        """Notices shown at the top of <main> after an action (base.html's role=status notices)."""
        return self.texts("main > .notice[role=status]")

    def alerts(self) -> list[str]:
        """Error messages announced to assistive technology (role=alert)."""
        return self.texts("[role=alert]")

    def assert_not_shown(self, needle: str, css: str | None = None) -> None:
        """`needle` is in no visible text and in no attribute value (entities decoded) of the page,
        or of the one element matching `css` (e.g. "main", to leave out the signed-in user's email).

        Stronger than `needle not in response.text`: "Birch & Co" is stored as "Birch &amp; Co"
        in the bytes, so a raw substring check for it could never fail."""
        scope = self.one(css) if css else self.root
        text = visible_text(scope)
        assert needle not in text, f"{needle!r} is shown on the page: …{_around(text, needle)}…"
        for element in scope.iter():
            if not isinstance(element.tag, str):
                continue
            for name, value in element.attrib.items():
                assert needle not in value, f"{needle!r} is in the {name} attribute of <{element.tag}>"
            if element.tag in _INVISIBLE and element.text:
                assert needle not in element.text, f"{needle!r} is inside <{element.tag}>"

    # --- structure ----------------------------------------------------------------------------

    def links(self, css: str = "main") -> list[str]:
        """The href of every link inside the element(s) matching `css`, in document order."""
        return [a.get("href") for container in self.select(css) for a in container.iter("a") if a.get("href")]

    def link(self, href: str) -> HtmlElement:
        """The one link to exactly `href`."""
        return self.one(f'a[href="{href}"]')

    def table(self, css: str = "table") -> list[list[str]]:
        """Body rows of the one table matching `css`, each a list of its cells' (th and td) texts."""
        return [self.texts("th, td", within=row) for row in self._body_rows(self.one(css))]

    def table_headers(self, css: str = "table") -> list[str]:
        table = self.one(css)
        head = table.cssselect("thead tr")
        if not head:
            raise AssertionError(f"The table {css!r} has no <thead>")
        return self.texts("th, td", within=head[-1])

    def records(self, css: str = "table") -> list[dict[str, str]]:
        """Body rows of the one table matching `css` as {column heading: cell text}."""
        headers = self.table_headers(css)
        rows = self.table(css)
        for row in rows:
            assert len(row) == len(headers), f"row {row} does not match the columns {headers}"
        return [dict(zip(headers, row, strict=True)) for row in rows]

    @staticmethod
    def _body_rows(table: HtmlElement) -> list[HtmlElement]:
        bodies = table.cssselect("tbody")
        if bodies:
            return [row for body in bodies for row in body.cssselect("tr")]
        return [row for row in table.cssselect("tr") if row.getparent().tag != "thead"]

    def definitions(self, css: str = "dl") -> dict[str, str]:
        """The one description list matching `css` as {term: description}."""
        terms: dict[str, str] = {}
        term = None
        for element in self.one(css):
            if element.tag == "dt":
                term = visible_text(element)
            elif element.tag == "dd" and term is not None:
                terms[term] = visible_text(element)
        return terms

    def form(self, css: str = "form") -> lxml.html.FormElement:
        """The one form matching `css`; `.fields` gives the values a browser would send."""
        element = self.one(css)
        assert element.tag == "form", f"{css!r} matches a <{element.tag}>, not a <form>"
        return element

    def label_for(self, control_id: str) -> str:
        """Text of the <label for=control_id>; fails unless there is exactly one."""
        return self.text(f'label[for="{control_id}"]')


def _around(text: str, needle: str, width: int = 60) -> str:
    at = text.find(needle)
    return text[max(0, at - width) : at + len(needle) + width]


def parse(source) -> Page:
    """Parse an HTML response (httpx/TestClient) or a string of HTML."""
    if isinstance(source, str):
        return Page(source)
    content_type = source.headers.get("content-type", "")
    assert content_type.startswith("text/html"), (
        f"{source.request.method} {source.request.url} answered {content_type!r}, not an HTML page"
    )
    return Page(source.text)


def shows_number(shown: str, value: float | Decimal, *, places: int | None = None, slack: float = 0) -> bool:
    """Whether the number written in `shown` ("59.5", "60", "+3.0", "−2") is `value` rounded to the
    places shown (either way at an exact tie). It does not pin today's number format, so it keeps
    holding when pages move from whole numbers to one decimal; `places` demands a number of decimals.
    `slack` widens the margin for a figure computed from rounded figures (a change between two shown
    scores may differ from the rounded exact change by one unit of the last place).
    """
    match = _NUMBER.search(shown)
    if not match:
        raise AssertionError(f"No number in {shown!r}")
    written = match.group(0).replace("−", "-")
    try:
        number = Decimal(written)
    except InvalidOperation as exc:  # pragma: no cover - the pattern only matches decimals
        raise AssertionError(f"{written!r} is not a number") from exc
    decimals = len(written.split(".")[1]) if "." in written else 0
    if places is not None and decimals != places:
        return False
    half_unit = Decimal(1).scaleb(-decimals) / 2
    return abs(number - Decimal(str(value))) <= half_unit + Decimal(str(slack))
