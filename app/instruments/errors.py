"""Errors found in an instrument file: a code, where it is (file, line, path) and plain words.

Modelled on pyxform's error codes: authors fix files from the message alone, tools match on the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class InstrumentError:
    code: str
    file: str
    line: int | None
    # Where in the document, written like `items[3].scale`; empty for problems with the whole file.
    path: str
    message: str
    # A warning (such as a translation older than the text it translates) is reported but does not
    # make the file invalid; `peerready validate --strict` fails on warnings too.
    severity: Severity = "error"

    @property
    def is_warning(self) -> bool:
        return self.severity == "warning"

    def __str__(self) -> str:
        location = self.file if self.line is None else f"{self.file}:{self.line}"
        where = f"{location}: {self.path}" if self.path else location
        message = f"warning: {self.message}" if self.is_warning else self.message
        return f"{where}: {message} [{self.code}]"


class InstrumentInvalid(Exception):
    """An instrument file (or a folder of them) has errors; `errors` lists every one found
    (with any warnings found on the way, which are marked as such)."""

    def __init__(self, errors: list[InstrumentError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(error) for error in self.errors))


# A location inside the document as keys and list indexes, e.g. ("items", 3, "scale").
Loc = tuple[str | int, ...]


def format_path(loc: Loc) -> str:
    """`("items", 3, "scale")` -> `items[3].scale`; keys that are not plain names are quoted."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.replace("_", "a").replace("-", "a").isalnum():
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text
