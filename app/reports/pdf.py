"""Render a `ReportContext` to PDF with WeasyPrint. Pure of the database.

- One Jinja environment of its own, autoescape on: free text from respondents, leads and
  consultants is always printed as text, never as markup.
- The renderer fetches nothing that the content names. Its URL fetcher refuses every URL except
  the report's own assets (the chart), which it serves from memory.
- Parsed CSS and the font configuration are built once per thread and reused: building them is
  a large share of the cost of a small document.
- WeasyPrint's own user-agent stylesheet, minus pseudo-element rules that match every element
  and do nothing here (see `report_user_agent_css`): the cascade is a fifth of a render.
- The cyclic garbage collector is paused while WeasyPrint renders (see `_cyclic_gc_paused`).
- A content-keyed cache: the key is the SHA-256 of the context's canonical JSON plus the version
  of the templates, CSS and this module; a repeat download of an unchanged report is a file read.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import os
import re
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    select_autoescape,
)
from weasyprint import CSS, HTML
from weasyprint import html as weasyprint_html
from weasyprint.css.counters import CounterStyle
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from app import i18n
from app.paths import REPORT_TEMPLATES_DIR, TEMPLATES_DIR
from app.reports.charts import ChartBand, ChartBar, condition_chart_svg
from app.reports.models import ReportContext
from app.scoring import numbers

TEMPLATE_NAME = "action_plan.html"
STYLESHEET_NAME = "report.css"
ASSET_SCHEME = "peerready-asset"
# Bump when the rendering code changes in a way the template hash would not show.
RENDERER_VERSION = "1"
# Default number of cached PDFs kept (PEERREADY_REPORT_CACHE_KEEP): two papers per assessment.
CACHE_KEEP = 1000
PAGE_SIZES = {"letter": "letter", "a4": "A4"}


# --- templates --------------------------------------------------------------------------------


def report_environment() -> Environment:
    """Jinja for report templates: autoescape on (free text is printed as text), strict undefined."""
    env = Environment(
        # "web/…" reaches the page templates, so a chart macro is written once for the page and
        # the PDF (the portfolio's histograms).
        loader=ChoiceLoader(
            [
                FileSystemLoader(str(REPORT_TEMPLATES_DIR)),
                PrefixLoader({"web": FileSystemLoader(str(TEMPLATES_DIR))}),
            ]
        ),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Interface text and the one number formatter, as on the web pages (docs/scoring.md,
    # section 14), in the locale the report is rendered in (`app.i18n.use_locale`).
    i18n.install_jinja(env)
    return env


_ENV = report_environment()


# The files this report is made of (the folder also holds other reports' templates).
REPORT_FILES = (TEMPLATE_NAME, "_action.html", STYLESHEET_NAME)


def _template_version() -> str:
    """Digest of the report's templates and CSS and of the renderer's own code."""
    digest = hashlib.sha256(RENDERER_VERSION.encode())
    for name in REPORT_FILES:
        digest.update(name.encode())
        digest.update((REPORT_TEMPLATES_DIR / name).read_bytes())
    # The number formatter writes every figure at render time, so its code is part of the version;
    # so are the interface catalogs, which write the report's words.
    for module in (Path(__file__), Path(__file__).with_name("charts.py"), Path(numbers.__file__)):
        digest.update(module.read_bytes())
    for catalog in sorted(i18n.LOCALE_DIR.glob("*/LC_MESSAGES/*.po")):
        digest.update(catalog.read_bytes())
    return digest.hexdigest()


TEMPLATE_VERSION = _template_version()


# --- the URL fetcher --------------------------------------------------------------------------


class ReportAssetFetcher(URLFetcher):
    """Serves `peerready-asset:NAME` from memory and refuses everything else (file://, http(s)://,
    data:, ...). Refused URLs are remembered, so tests can see that a fetch was asked and refused."""

    def __init__(self, assets: Mapping[str, tuple[bytes, str]] | None = None) -> None:
        super().__init__(timeout=1, allowed_protocols=[ASSET_SCHEME], allow_redirects=False)
        self.assets = dict(assets or {})
        self.served: list[str] = []
        self.refused: list[str] = []

    def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> URLFetcherResponse:
        prefix = ASSET_SCHEME + ":"
        name = url[len(prefix) :] if url.startswith(prefix) else None
        if name is None or name not in self.assets:
            self.refused.append(url)
            raise ValueError(f"The report renderer does not fetch {url[:80]!r}")
        body, content_type = self.assets[name]
        self.served.append(url)
        return URLFetcherResponse(url, body, headers={"Content-Type": content_type})


# --- per-thread WeasyPrint objects ------------------------------------------------------------


@dataclass
class _Styles:
    font_config: FontConfiguration
    css: dict[str, list[CSS]] = field(default_factory=dict)


_LOCAL = threading.local()


def _css_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def page_numbers_content(lang: str) -> str:
    """The CSS `content` of a margin box that says "Page 3 of 12" in `lang` (the paper form's too)."""
    with i18n.use_locale(lang):
        page_of = i18n.gettext("Page %(page)s of %(pages)s")
    parts = []
    for piece in re.split(r"(%\(page\)s|%\(pages\)s)", page_of):
        if piece == "%(page)s":
            parts.append("counter(page)")
        elif piece == "%(pages)s":
            parts.append("counter(pages)")
        elif piece:
            parts.append(_css_string(piece))
    return " ".join(parts)


def page_words_css(lang: str) -> str:
    """The running head and the page numbers in the report's language (report.css has the
    English): margin boxes take their words from CSS, not from the HTML."""
    with i18n.use_locale(lang):
        kind = i18n.gettext("Readiness results and action plan")
    return (
        f"@page {{ @top-right {{ content: {_css_string(kind)}; }} "
        f"@bottom-right {{ content: {page_numbers_content(lang)}; }} }}\n"
        "@page :first { @top-right { content: none; } }"
    )


def _stylesheets(paper: str, lang: str = i18n.SOURCE_LANGUAGE) -> tuple[list[CSS], FontConfiguration]:
    styles: _Styles | None = getattr(_LOCAL, "styles", None)
    if styles is None:
        styles = _Styles(font_config=FontConfiguration())
        _LOCAL.styles = styles
    key = f"{paper}:{lang}"
    if key not in styles.css and lang != i18n.SOURCE_LANGUAGE:
        base, _ = _stylesheets(paper)
        words = CSS(
            string=page_words_css(lang), font_config=styles.font_config, url_fetcher=ReportAssetFetcher()
        )
        styles.css[key] = [*base, words]
    if key in styles.css:
        return styles.css[key], styles.font_config
    if paper not in styles.css:
        fetcher = ReportAssetFetcher()
        main = CSS(
            filename=str(REPORT_TEMPLATES_DIR / STYLESHEET_NAME),
            font_config=styles.font_config,
            url_fetcher=fetcher,
        )
        page = CSS(
            string=f"@page {{ size: {PAGE_SIZES[paper]}; }}",
            font_config=styles.font_config,
            url_fetcher=fetcher,
        )
        styles.css[paper] = [main, page]
    return styles.css[paper], styles.font_config


# --- the user-agent stylesheet ----------------------------------------------------------------

# WeasyPrint's HTML5 user-agent stylesheet has rules whose selector is a bare pseudo-element. A bare
# `::marker` or `::footnote-call` matches every element, so WeasyPrint computes styles for six
# pseudo-elements of every element: ~4,000 styles per report, about a fifth of a render. Markers
# only exist on list items (<li> in this report), and the report has no footnotes or notes (no
# `float: footnote`), so those rules are narrowed to `li::marker` and dropped.
_BARE_MARKER_RULE = re.compile(r"^::marker(?=\s*\{)", re.MULTILINE)
_BARE_NOTE_RULES = re.compile(r"^::(?:footnote|note)-[a-z-]+\s*\{[^}]*\}\n?", re.MULTILINE)


def report_user_agent_css_text() -> str:
    """WeasyPrint's own UA stylesheet text, with the bare pseudo-element rules narrowed to where
    they can have an effect in this report. Same output, a fraction of the cascade."""
    return _BARE_NOTE_RULES.sub("", _BARE_MARKER_RULE.sub("li::marker", weasyprint_html.UA))


@functools.cache
def report_user_agent_css() -> CSS:
    # Its own counter-style registry: WeasyPrint's shared one is already filled by its own UA sheet.
    return CSS(string=report_user_agent_css_text(), counter_style=CounterStyle())


class _ReportHTML(HTML):
    """An HTML document that cascades with the narrowed user-agent stylesheet."""

    def _ua_stylesheets(self, forms: bool = False) -> list[CSS]:
        return [report_user_agent_css(), *super()._ua_stylesheets(forms)[1:]]


# --- the garbage collector --------------------------------------------------------------------

_GC_LOCK = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = False


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while WeasyPrint renders.

    A report allocates a few hundred thousand long-lived objects (styles, boxes), so the collector
    runs its generations over and over mid-render for nothing: ~10% of a render. Reference counting
    still frees almost everything; the few cycles are collected after the render as usual (peak
    memory +~13 MB). The collector is process-wide, so overlapping renders on several threads keep
    it paused until the last one ends, and it is re-enabled only if it was enabled before."""
    global _gc_pausers, _gc_was_enabled
    with _GC_LOCK:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()


# --- rendering --------------------------------------------------------------------------------


def chart_svg(context: ReportContext) -> str:
    bars = [ChartBar(label=c.title, score=c.score, level_label=c.level_label) for c in context.conditions]
    bands = [ChartBand(label=lv.label, min=lv.min, max=lv.max) for lv in context.levels]
    with i18n.use_locale(context.lang):
        title = i18n.gettext("Score for each condition, with readiness levels")
        return condition_chart_svg(bars, bands, title=title)


def render_report_html(context: ReportContext) -> str:
    # Interface text, numbers and dates in the report's language (`<html lang>` says which).
    with i18n.use_locale(context.lang):
        return _ENV.get_template(TEMPLATE_NAME).render(
            report=context,
            chart_url=f"{ASSET_SCHEME}:chart.svg",
        )


def report_assets(context: ReportContext) -> dict[str, tuple[bytes, str]]:
    return {"chart.svg": (chart_svg(context).encode("utf-8"), "image/svg+xml")}


def html_to_pdf(
    html: str,
    *,
    paper: str = "letter",
    assets: Mapping[str, tuple[bytes, str]] | None = None,
    fetcher: ReportAssetFetcher | None = None,
    lang: str = i18n.SOURCE_LANGUAGE,
) -> bytes:
    """Print report HTML to a tagged PDF (PDF/UA-1) with the bundled stylesheet."""
    if paper not in PAGE_SIZES:
        raise ValueError(f"paper must be one of {', '.join(PAGE_SIZES)}")
    fetcher = fetcher or ReportAssetFetcher(assets)
    stylesheets, font_config = _stylesheets(paper, lang)
    with _cyclic_gc_paused():
        document = _ReportHTML(string=html, url_fetcher=fetcher, base_url=f"{ASSET_SCHEME}:")
        return document.write_pdf(
            stylesheets=stylesheets,
            font_config=font_config,
            pdf_variant="pdf/ua-1",
            pdf_tags=True,
        )


def cache_key(context: ReportContext) -> str:
    digest = hashlib.sha256()
    digest.update(TEMPLATE_VERSION.encode())
    digest.update(b"\0")
    digest.update(context.canonical_json().encode("utf-8"))
    return digest.hexdigest()


def cached_pdf(context: ReportContext, *, cache_dir: Path) -> Path | None:
    """The cached PDF of exactly this content, if it is there (marked as recently used)."""
    path = cache_dir / f"{cache_key(context)}.pdf"
    try:
        os.utime(path)  # recently used: keep it when pruning
    except FileNotFoundError:
        return None
    return path


def render_report_pdf(
    context: ReportContext, *, cache_dir: Path | None = None, keep: int | None = None
) -> bytes:
    """The report as PDF bytes. With `cache_dir`, an unchanged report is read back from disk and a
    new one is stored there (the `keep` most recently used files are kept)."""
    if cache_dir is None:
        return html_to_pdf(
            render_report_html(context), paper=context.paper, assets=report_assets(context), lang=context.lang
        )
    key = cache_key(context)
    path = cache_dir / f"{key}.pdf"
    try:
        data = path.read_bytes()
        os.utime(path)  # recently used: keep it when pruning
        return data
    except FileNotFoundError:
        pass
    data = html_to_pdf(
        render_report_html(context), paper=context.paper, assets=report_assets(context), lang=context.lang
    )
    _store(cache_dir, path, data, keep=keep)
    return data


def _store(cache_dir: Path, path: Path, data: bytes, *, keep: int | None = None) -> None:
    """Write atomically (a reader never sees half a file), then keep the newest CACHE_KEEP."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=cache_dir, prefix=".tmp-", suffix=".pdf", delete=False) as handle:
        handle.write(data)
        temporary = Path(handle.name)
    os.replace(temporary, path)
    entries = []
    for entry in os.scandir(cache_dir):
        if entry.name.endswith(".pdf") and not entry.name.startswith(".tmp-"):
            try:
                entries.append((entry.stat().st_mtime_ns, entry.path))
            except FileNotFoundError:
                continue
    entries.sort(reverse=True)
    for _, stale in entries[CACHE_KEEP if keep is None else keep :]:
        try:
            os.remove(stale)
        except FileNotFoundError:
            pass  # another worker pruned it first


def report_filename(context: ReportContext) -> str:
    """A safe download name: letters, digits and dashes only."""
    raw = f"peerready-{context.organization}-{context.cycle}"
    if context.lang != i18n.SOURCE_LANGUAGE:
        raw += f"-{context.lang}"
    safe = "".join(ch.lower() if ch.isascii() and ch.isalnum() else "-" for ch in raw)
    while "--" in safe:
        safe = safe.replace("--", "-")
    return safe.strip("-")[:100] + ".pdf"
