"""Find human-visible text in templates that is not inside a gettext call or a trans block.

A template is read in two steps:

1. Jinja's own lexer splits it into template data and Jinja constructs (`{{ ... }}`,
   `{% ... %}`, comments), so strings inside expressions never look like page text. Every
   construct becomes a placeholder character (U+E000, not a letter); the data between
   `{% trans %}` and `{% endtrans %}` is wrapped, so it becomes a placeholder too. Line breaks are
   kept, so line numbers are the template's.
2. What is left is HTML: Python's HTML parser reads its text nodes and the attributes people
   read (title, aria-label, placeholder, alt). `<script>` and `<style>` content is not text, nor
   is `<code>`, `<kbd>` or `<samp>` content (column names, addresses, commands: the same in
   every language).

A piece of text is a finding when it still has a letter once placeholders are taken out, and is
not in ALLOWED (names that are the same in every language). Whitespace, punctuation, symbols
and numbers alone are fine. Plain-text templates (`.txt`, the emails) are all text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from jinja2 import Environment

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = ("templates", "reports")
SUFFIXES = (".html", ".txt")

# Visible text that is the same in every language: the brand, each language's own name (the
# language switch), names of statistics and of file formats.
ALLOWED = frozenset(
    {
        "PeerReady",
        "English",
        "Español",
        "ICC(1)",
        "ICC(2)",
        "rwg(j)",
        "awg(j)",
        "n",
        "CSV",
        "XLSX",
        "PDF",
        "JSON",
    }
)
NOT_TEXT = ("script", "style", "code", "kbd", "samp")
# Attributes whose value is read to or shown to people.
TEXT_ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")

PLACEHOLDER = "\ue000"
_LETTER = re.compile(r"[^\W\d_]")
_SPACES = re.compile(r"\s+")
_LEXER_ENV = Environment(extensions=["jinja2.ext.i18n"])


@dataclass(frozen=True, order=True)
class Finding:
    path: str  # relative to the repository
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text}"


def _shown(text: str) -> str:
    """The text as a reader of the finding sees it: placeholders as "…", spaces collapsed."""
    return _SPACES.sub(" ", re.sub(f"{PLACEHOLDER}+", "…", text)).strip()


def is_visible(text: str) -> bool:
    """Whether `text` (with placeholders) has words a person reads that need translating."""
    words = _SPACES.sub(" ", text.replace(PLACEHOLDER, " ")).strip()
    if not _LETTER.search(words) or words in ALLOWED:
        return False
    # "n = …", "CSV · XLSX": every word allowed, the rest symbols
    return not all(part in ALLOWED or not _LETTER.search(part) for part in words.split(" "))


def _blank(text: str) -> str:
    return PLACEHOLDER + "\n" * text.count("\n")


def untranslated_source(source: str, name: str = "template") -> str:
    """The template with every Jinja construct and every trans block's content replaced by a
    placeholder, line breaks kept."""
    out: list[str] = []
    line = 1
    in_trans = False
    block: list[str] = []  # the names of the current {% ... %} block
    in_block = False
    for lineno, token, value in _LEXER_ENV.lexer.tokeniter(source, name):
        if lineno > line:  # whitespace control may have eaten line breaks: put them back
            out.append("\n" * (lineno - line))
            line = lineno
        if token == "data":
            out.append(_blank(value) if in_trans else value)
            line += value.count("\n")
            continue
        if token in ("block_begin", "variable_begin", "comment_begin", "raw_begin", "linestatement_begin"):
            out.append(PLACEHOLDER)
        breaks = value.count("\n") if isinstance(value, str) else 0
        out.append("\n" * breaks)  # a construct over several lines keeps them
        line += breaks
        if token == "block_begin":
            in_block, block = True, []
        elif token == "block_end" and in_block:
            in_block = False
            if block[:1] == ["trans"]:
                in_trans = True
            elif block[:1] == ["endtrans"]:
                in_trans = False
        elif in_block and token == "name":
            block.append(value)
    return "".join(out)


class _TextFinder(HTMLParser):
    def __init__(self, path: str) -> None:
        super().__init__(convert_charrefs=True)
        self.path = path
        self.findings: list[Finding] = []
        self._skip = 0  # inside <script>, <style>, <code>, ...

    def _check(self, text: str, what: str = "") -> None:
        if is_visible(text):
            self.findings.append(Finding(self.path, self.getpos()[0], what + _shown(text)))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in NOT_TEXT:
            self._skip += 1
        for name, value in attrs:
            if name in TEXT_ATTRIBUTES and value:
                self._check(value, f"[{name}] ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in TEXT_ATTRIBUTES and value:
                self._check(value, f"[{name}] ")

    def handle_endtag(self, tag: str) -> None:
        if tag in NOT_TEXT and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        # A text node can span lines: report the line each visible piece starts on.
        start = self.getpos()[0]
        for offset, piece in enumerate(data.split("\n")):
            if is_visible(piece):
                self.findings.append(Finding(self.path, start + offset, _shown(piece)))


def findings_in(path: Path, root: Path = ROOT) -> list[Finding]:
    """Unwrapped visible text of one template."""
    relative = path.relative_to(root).as_posix()
    source = untranslated_source(path.read_text(encoding="utf-8"), relative)
    if path.suffix == ".txt":
        return [
            Finding(relative, number, _shown(line))
            for number, line in enumerate(source.split("\n"), start=1)
            if is_visible(line)
        ]
    finder = _TextFinder(relative)
    finder.feed(source)
    finder.close()
    return finder.findings


def templates(root: Path = ROOT) -> list[Path]:
    return sorted(
        path
        for folder in TEMPLATE_DIRS
        if (root / folder).is_dir()
        for path in (root / folder).rglob("*")
        if path.suffix in SUFFIXES and path.is_file()
    )


def all_findings(root: Path = ROOT) -> dict[str, list[Finding]]:
    """Every template (relative path) with its findings, clean ones included."""
    return {path.relative_to(root).as_posix(): findings_in(path, root) for path in templates(root)}
