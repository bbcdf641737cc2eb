"""Interface language: gettext catalogs, the current locale, negotiation and locale formatting.

English is the source language: every interface string in the code and templates is the English
text (the msgid). Translations are gettext catalogs in the repository,
`app/locale/<lang>/LC_MESSAGES/messages.po` (see docs/interface-translations.md for the
extract/update workflow).

Compiling: a built wheel carries the compiled `messages.mo` (hatch_build.py compiles it at build
time, nothing compiled is committed). A source checkout or an editable install has no build step
between an edit of a `.po` file and the next start, so when no `.mo` is present (or it is older
than its `.po`) the catalog is compiled in memory on first use (a few milliseconds, once per
process). Either way the running app reads exactly the `.po` in the repository.

The current locale is a ContextVar: the web layer sets it per request (`use_locale`), a report
job sets it to the report's language. The Jinja environment's `_`/`ngettext` read it at call time,
so one environment serves every language.

Imports nothing from the web, the database or the settings.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.dates import format_date as _babel_format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import LazyProxy, Translations
from jinja2 import Environment

from app.instruments.models import LocalizedText
from app.instruments.models import text as localized_text
from app.scoring.models import Reason
from app.scoring.numbers import Number, format_percent, format_score, format_signed
from app.scoring.reasons import render_reason

__all__ = [
    "LANGUAGES",
    "LANGUAGE_NAMES",
    "LOCALE_DIR",
    "SOURCE_LANGUAGE",
    "current_locale",
    "format_date",
    "gettext",
    "install_jinja",
    "language_name",
    "lazy_gettext",
    "negotiate",
    "ngettext",
    "normalize",
    "parse_accept_language",
    "pgettext",
    "translations",
    "use_locale",
]

SOURCE_LANGUAGE = "en"
# The interface languages with a catalog (English needs none: it is the source).
LANGUAGES: tuple[str, ...] = ("en", "es")
# Each language's name written in that language, for the language switch.
LANGUAGE_NAMES = {"en": "English", "es": "Español"}
# The CLDR locale used for dates and numbers. PeerReady serves US agencies, so Spanish is written
# as in the United States (es_US): "5 de marzo de 2026", a decimal point as on US forms.
BABEL_LOCALES = {"en": "en_US", "es": "es_US"}

DOMAIN = "messages"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

_current: ContextVar[str] = ContextVar("peerready_locale", default=SOURCE_LANGUAGE)


# --- which language ----------------------------------------------------------------------------


def normalize(code: str | None, available: Iterable[str] = LANGUAGES) -> str | None:
    """The supported language a tag asks for ("es-MX" -> "es", "ES" -> "es"), or None."""
    if not code or not isinstance(code, str) or len(code) > 35:
        return None
    base = code.strip().replace("_", "-").split("-", 1)[0].lower()
    return base if base in tuple(available) else None


def parse_accept_language(header: str | None) -> list[str]:
    """Language tags of an Accept-Language header, most wanted first (Babel has no parser).
    Malformed parts are skipped; q=0 means "not this one"."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header[:1000].split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*":
            continue
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        if quality > 0:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate(preferred: Iterable[str | None], available: Iterable[str] = LANGUAGES) -> str | None:
    """The first preferred tag (in order) that names an available language, or None."""
    choices = tuple(available)
    for tag in preferred:
        found = normalize(tag, choices)
        if found:
            return found
    return None


def current_locale() -> str:
    return _current.get()


@contextmanager
def use_locale(lang: str | None) -> Iterator[str]:
    """Render (a page, a report, an email) in `lang`; unsupported or None means English."""
    chosen = normalize(lang) or SOURCE_LANGUAGE
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)


# --- catalogs ----------------------------------------------------------------------------------


def _catalog_files(lang: str) -> tuple[Path, Path]:
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    return folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"


def compile_catalog(po_path: Path, lang: str) -> bytes:
    """The `.mo` bytes of a `.po` catalog. Fuzzy entries are left out (they need review), so
    they fall back to English like a missing translation."""
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=lang, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


@cache
def translations(lang: str) -> _gettext.NullTranslations:
    """The gettext translations of a language (English: the source text as is)."""
    if lang == SOURCE_LANGUAGE or lang not in LANGUAGES:
        return _gettext.NullTranslations()
    po_path, mo_path = _catalog_files(lang)
    if mo_path.is_file() and (not po_path.is_file() or mo_path.stat().st_mtime >= po_path.stat().st_mtime):
        with mo_path.open("rb") as handle:
            return Translations(handle, domain=DOMAIN)
    if po_path.is_file():
        return Translations(BytesIO(compile_catalog(po_path, lang)), domain=DOMAIN)
    return _gettext.NullTranslations()


def _active() -> _gettext.NullTranslations:
    return translations(_current.get())


def gettext(message: str) -> str:
    return _active().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _active().ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return _active().pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return _active().npgettext(context, singular, plural, n)


def lazy_gettext(message: str) -> LazyProxy:
    """For text defined at import time (labels in module constants): translated each time it is
    used, in the locale current then. enable_cache=False: a cached proxy would keep the first
    language it was read in."""
    return LazyProxy(gettext, message, enable_cache=False)


def N_(message: str) -> str:  # noqa: N802 - the gettext convention, found by the extractor
    """Mark a string for the catalog without translating it here (it is translated where shown)."""
    return message


# --- dates ---------------------------------------------------------------------------------------


def babel_locale(lang: str | None = None) -> str:
    return BABEL_LOCALES.get(normalize(lang) or current_locale(), BABEL_LOCALES[SOURCE_LANGUAGE])


def format_date(value: date | datetime | None, lang: str | None = None, *, style: str = "long") -> str:
    """A date as the language writes it: "March 5, 2026", "5 de marzo de 2026"."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    return _babel_format_date(value, style, locale=babel_locale(lang))


def language_name(code: str | None, lang: str | None = None) -> str:
    """A language's name in the reader's language, from CLDR ("es" -> "Spanish", "Español");
    "" or None (a paper row, no language recorded) -> "Language not recorded"."""
    if not code:
        return gettext("Language not recorded")
    from babel import Locale

    name = Locale.parse(babel_locale(lang)).languages.get(code)
    return name[:1].upper() + name[1:] if name else code


# --- templates -----------------------------------------------------------------------------------


def install_jinja(env: Environment) -> None:
    """Interface text through gettext, in the current locale (`use_locale`), and the
    filters that write instrument text, numbers, dates and reasons in that same locale. Used by
    the page and the report environments alike."""
    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True  # {% trans %} blocks: whitespace as in one line
    # newstyle: `_('%(n)s of %(m)s', n=..)` fills (and escapes) the values itself, and the
    # callables read the locale at call time, so one environment serves every language.
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=gettext,
        ngettext=ngettext,
        pgettext=pgettext,
        npgettext=npgettext,
        newstyle=True,
    )

    def t(value: LocalizedText | None, lang: str | None = None) -> str:
        return localized_text(value, lang or current_locale())

    def score(value: Number | None) -> str:
        return format_score(value, locale=current_locale())

    def pct(value: Number | None) -> str:
        return format_percent(value, locale=current_locale())

    def signed(value: Number | None) -> str:
        return format_signed(value, locale=current_locale())

    def reason(value: Reason) -> str:
        # Reasons are stored as codes and values; they become words here, in the reader's language.
        return render_reason(value, locale=current_locale(), translate=gettext)

    env.filters.update(t=t, score=score, pct=pct, signed=signed, reason=reason, date=format_date)
    env.filters["language_name"] = language_name
    env.globals["current_locale"] = current_locale
