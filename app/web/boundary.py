"""The one input boundary every request passes before a route sees it.

Text: NUL and the other C0 control characters (tab, line feed and carriage return excepted),
DEL, and unpaired surrogates (which only a JSON "\\ud800" escape can produce) are refused with a
clear 400, in query strings, path segments, form fields and JSON strings alike. PostgreSQL cannot
store a NUL at all (SQLite can), and none of them belongs in a name, a comment or a filter, so
both databases get the same answer instead of a 500 on one of them.

Numbers: a parameter a route declares as an integer must fit the database's integer column
(`app.services.access.MAX_ID` either way); a larger one is a 400 here, not an out-of-range
error from PostgreSQL.

JSON: nesting deeper than MAX_JSON_DEPTH is refused before it is parsed (Python's parser would
otherwise hit its recursion limit); bodies are already bounded by PEERREADY_MAX_BODY_BYTES.
"""

from __future__ import annotations

import json
import re
import typing
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute

from app.errors import BadInput
from app.i18n import N_
from app.services.access import MAX_ID

MAX_JSON_DEPTH = 20
CONTROL_MESSAGE = N_(
    "Part of what was sent contains a control character (such as a NUL byte) that PeerReady "
    "does not accept. Remove it and try again."
)
NUMBER_MESSAGE = N_("A number in the request is too large.")
JSON_MESSAGE = N_("The data sent could not be read.")
_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def has_refused_characters(text: str) -> bool:
    return _REFUSED.search(text) is not None


def check_text(text: str) -> None:
    if _REFUSED.search(text):
        raise BadInput(CONTROL_MESSAGE)


def json_depth_ok(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text nests at most `max_depth` arrays/objects (brackets inside strings do
    not count). A linear scan, so even a megabyte of "[" costs nothing."""
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > max_depth:
                return False
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return True


def read_json(raw: bytes) -> Any:
    """Parse a JSON body safely: 400 for too deep, malformed, non-UTF-8 or control characters."""
    if not json_depth_ok(raw):
        raise BadInput(JSON_MESSAGE)
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadInput(JSON_MESSAGE) from exc
    _check_json_value(data)
    return data


def _check_json_value(value: Any) -> None:
    if isinstance(value, str):
        check_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key)
            _check_json_value(item)
    elif isinstance(value, list):
        for item in value:
            _check_json_value(item)


def _is_int_annotation(annotation: Any) -> bool:
    if annotation is int:
        return True
    return any(arg is int for arg in typing.get_args(annotation))


def _int_parameters(route: APIRoute) -> frozenset[str]:
    """Names (aliases) of the route's query, form and path parameters declared as integers
    (worked out once per route and kept on it)."""
    known: frozenset[str] | None = getattr(route, "_peerready_int_parameters", None)
    if known is None:
        known = _find_int_parameters(route)
        route._peerready_int_parameters = known  # type: ignore[attr-defined]
    return known


def _find_int_parameters(route: APIRoute) -> frozenset[str]:
    dependant = route.dependant
    fields = list(dependant.query_params) + list(dependant.body_params) + list(dependant.path_params)
    for sub in dependant.dependencies:
        fields += list(sub.query_params) + list(sub.body_params) + list(sub.path_params)
    return frozenset(f.alias for f in fields if _is_int_annotation(f.field_info.annotation))


def _check_int(value: str) -> None:
    text = value.strip()
    digits = text.lstrip("+-")
    if digits.isascii() and digits.isdigit() and (len(digits) > 12 or abs(int(text)) > MAX_ID):
        raise BadInput(NUMBER_MESSAGE)


async def verify_input(request: Request) -> None:
    """Router dependency: refuse control characters, oversized integers and over-deep JSON."""
    route = request.scope.get("route")
    numbers = _int_parameters(route) if isinstance(route, APIRoute) else frozenset()
    for value in request.path_params.values():
        if isinstance(value, str):
            check_text(value)
    for name, value in request.query_params.multi_items():
        check_text(name)
        check_text(value)
        if name in numbers:
            _check_int(value)
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # Starlette caches the parsed form for the route
        for name, value in form.multi_items():
            check_text(name)
            if isinstance(value, str):
                check_text(value)
                if name in numbers:
                    _check_int(value)
            elif value.filename:
                check_text(value.filename)
    elif "json" in content_type:
        read_json(await request.body())  # cached by Starlette; the route parses it again
