"""Every human-visible string of every template (templates/ and reports/) is inside a gettext call
or a trans block, so that it reaches the catalog: test_interface_catalog.py checks only the strings
already wrapped, and this test fails for one that is not (listing `file:line: text`). What counts
as visible text, and what is allowed unwrapped, is in tests/i18n/template_text.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.i18n.template_text import Finding, all_findings, findings_in, templates


@pytest.fixture(scope="module")
def findings() -> dict[str, list[Finding]]:
    return all_findings()


def test_every_visible_template_string_is_wrapped_for_translation(findings):
    unwrapped = [str(f) for _path, found in sorted(findings.items()) for f in found]
    assert not unwrapped, (
        "Text not inside _() or {% trans %} (wrap it, then add it to the catalog):\n" + "\n".join(unwrapped)
    )
    assert {"templates/portfolio/portfolio.html", "reports/portfolio.html", "templates/base.html"} <= set(
        findings
    )


def _write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / "templates" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")
    return path


def test_the_check_fails_for_a_new_unwrapped_string_and_passes_once_it_is_wrapped(tmp_path):
    page = _write(
        tmp_path,
        "new.html",
        '{% extends "base.html" %}\n{% block content %}\n<h1>{{ _("Portfolios") }}</h1>\n'
        "<p>A new sentence nobody wrapped.</p>\n"
        '<input type="search" placeholder="Site name">\n'
        '<img src="/x.png" alt="{{ _(\'Chart\') }}">\n{% endblock %}\n',
    )
    assert [str(f) for f in findings_in(page, tmp_path)] == [
        "templates/new.html:4: A new sentence nobody wrapped.",
        "templates/new.html:5: [placeholder] Site name",
    ]
    assert [f.path for path in templates(tmp_path) for f in findings_in(path, tmp_path)] == [
        "templates/new.html"
    ] * 2

    page.write_text(
        '{% extends "base.html" %}\n{% block content %}\n<h1>{{ _("Portfolios") }}</h1>\n'
        '<p>{{ _("A new sentence nobody wrapped.") }}</p>\n'
        '<input type="search" placeholder="{{ _(\'Site name\') }}">\n{% endblock %}\n',
        encoding="utf-8",
    )
    assert findings_in(page, tmp_path) == []


def test_what_is_not_text_to_translate(tmp_path):
    page = _write(
        tmp_path,
        "allowed.html",
        '<html lang="{{ lang }}"><head><title>{% block title %}PeerReady{% endblock %}</title>\n'
        "<style>body { font-family: sans-serif; }</style>\n"
        '<script>const label = "not text";</script></head><body>\n'
        "{# a comment with words #}\n"
        "<p>{% trans count=n %}One site{% pluralize %}{{ count }} sites{% endtrans %}</p>\n"
        '<p>{{ score }} – 12 (45%) · {{ _("Sites") }}: {{ "a string in an expression" }}</p>\n'
        "<p>English · Español</p><p>n = {{ n }}</p><code>site_status</code>\n"
        '<span aria-hidden="true">▲</span>\n</body></html>\n',
    )
    assert findings_in(page, tmp_path) == []
    # a multi-line construct keeps the line numbers right
    later = _write(
        tmp_path, "later.html", '{{ _(\n  "Wrapped"\n) }}\n{%- if x -%}\n\n<b>Bare words</b>{% endif %}\n'
    )
    assert [str(f) for f in findings_in(later, tmp_path)] == ["templates/later.html:6: Bare words"]
    mail = _write(tmp_path, "email/note.txt", '{{ _("Hello %(name)s,", name=name) }}\n\nPlain words here\n')
    assert [str(f) for f in findings_in(mail, tmp_path)] == ["templates/email/note.txt:3: Plain words here"]
