"""Compare the interface text in the code and templates with a language's gettext catalog.

The extraction is Babel's own (`babel.cfg`, the same keywords as the documented `pybabel extract`
command), run here in the test so that nobody has to remember to refresh a `.pot` file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None}


@dataclass(frozen=True)
class Problem:
    where: str
    msgid: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}: {self.msgid!r}"


def extracted(root: Path = ROOT, config: Path | None = None) -> dict[str | tuple[str, str], str]:
    """Every msgid in the code and templates (a (singular, plural) pair for plurals) and the first
    file it is found in."""
    with (config or root / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found: dict[str | tuple[str, str], str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(root), method_map, options_map, keywords=KEYWORDS
    ):
        key = message if isinstance(message, str) else (message[0], message[1])
        if key:
            found.setdefault(key, f"{filename}:{lineno}")
    return found


def load_catalog(lang: str, root: Path = ROOT) -> Catalog:
    with (root / "app" / "locale" / lang / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=lang)


def problems(messages: dict[str | tuple[str, str], str], catalog: Catalog) -> list[Problem]:
    """Strings missing from the catalog, untranslated (any plural form empty), fuzzy, or whose
    placeholders differ from the English."""
    found: list[Problem] = []
    for key, where in messages.items():
        msgid = key if isinstance(key, str) else key[0]
        entry = catalog.get(msgid)
        if entry is None:
            found.append(Problem(where, msgid, "not in the catalog"))
            continue
        strings = (entry.string,) if isinstance(entry.string, str) else tuple(entry.string)
        if isinstance(key, tuple) and not entry.pluralizable:
            found.append(Problem(where, msgid, "a plural in the code but not in the catalog"))
        elif not strings or not all(strings):
            found.append(Problem(where, msgid, "untranslated"))
        elif entry.fuzzy:
            found.append(Problem(where, msgid, "fuzzy (needs review)"))
    for entry, errors in catalog.check():
        for error in errors:
            msgid = entry.id if isinstance(entry.id, str) else entry.id[0]
            found.append(Problem("catalog", msgid, str(error)))
    return found
