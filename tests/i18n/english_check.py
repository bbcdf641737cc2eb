"""Find English interface text in a rendered page or PDF: the msgids of the catalog."""

from __future__ import annotations

import re

from tests.i18n.catalog_check import extracted

_PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w+\}|%%")
_TAG = re.compile(r"<[^>]+>")


def english_fragments() -> list[str]:
    """The literal pieces of every English msgid, long enough to mean something ("Score",
    "Page", "points more positively than"), without placeholders and markup."""
    pieces: set[str] = set()
    for key in extracted():
        for msgid in key if isinstance(key, tuple) else (key,):
            for piece in _PLACEHOLDER.split(_TAG.sub("", msgid)):
                piece = " ".join(piece.split()).strip(" .,:;()–—·")
                if sum(ch.isalpha() for ch in piece) >= 4:
                    pieces.add(piece)
    return sorted(pieces)


def english_in(text: str, allowed: set[str] = frozenset()) -> list[str]:
    """The English fragments found as whole words in `text` (whitespace collapsed)."""
    flat = " ".join(text.split())
    return [
        piece
        for piece in english_fragments()
        if piece not in allowed and re.search(r"(?<!\w)" + re.escape(piece) + r"(?!\w)", flat)
    ]
