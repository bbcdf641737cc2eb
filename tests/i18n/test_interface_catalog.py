"""The interface catalogs: every string wrapped in the code and templates is in the Spanish
catalog and translated; plurals have Spanish's three forms; lazy strings follow the locale; the
build hook compiles the catalog; Accept-Language is read as browsers send it."""

from __future__ import annotations

import gettext
import importlib.util
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from app import i18n
from app.web.templating import build_environment
from tests.i18n.catalog_check import ROOT, extracted, load_catalog, problems


@pytest.fixture(scope="module")
def messages():
    return extracted()


def test_every_interface_string_is_in_the_spanish_catalog_and_translated(messages):
    found = problems(messages, load_catalog("es"))
    assert not found, "\n".join(map(str, found))
    # the wrapped respondent pages, the PDF and the reason sentences are all extracted
    files = {where.split(":")[0] for where in messages.values()}
    assert {"templates/respond/page.html", "app/scoring/reasons.py"} <= files


def test_the_check_fails_for_a_new_template_string_and_an_untranslated_entry(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "new.html").write_text(
        '<p>{{ _("Check and submit") }}</p><p>{{ _("A sentence nobody translated") }}</p>'
        "{% trans %}Another new one{% endtrans %}",
        encoding="utf-8",
    )
    (tmp_path / "babel.cfg").write_text("[jinja2: templates/**.html]\ntrimmed = true\n", encoding="utf-8")
    catalog = load_catalog("es")
    found = problems(extracted(tmp_path), catalog)
    assert {(p.msgid, p.what) for p in found} == {
        ("A sentence nobody translated", "not in the catalog"),
        ("Another new one", "not in the catalog"),
    }
    catalog.get("Check and submit").string = ""
    assert [(p.msgid, p.what) for p in problems(extracted(tmp_path), catalog)][0] == (
        "Check and submit",
        "untranslated",
    )


def test_spanish_plurals_have_three_forms_and_read_right():
    catalog = load_catalog("es")
    assert catalog.num_plurals == 3
    env = build_environment()
    template = env.from_string(
        '{{ ngettext("Please answer %(num)s required question:",'
        ' "Please answer %(num)s required questions:", n) }}'
    )
    with i18n.use_locale("es"):
        assert template.render(n=1) == "Por favor, responda 1 pregunta obligatoria:"
        assert template.render(n=2) == "Por favor, responda 2 preguntas obligatorias:"
    with i18n.use_locale("en"):
        assert template.render(n=1) == "Please answer 1 required question:"


def test_newstyle_gettext_escapes_values_in_every_language():
    template = build_environment().from_string('{{ _("You are answering as: %(group)s.", group=g) }}')
    with i18n.use_locale("es"):
        assert template.render(g="<b>x</b>") == "Usted responde como: &lt;b&gt;x&lt;/b&gt;."


def test_lazy_strings_are_translated_when_shown_not_when_defined():
    label = i18n.lazy_gettext("Check and submit")  # as if defined at import, in English
    with i18n.use_locale("en"):
        assert str(label) == "Check and submit"
    with i18n.use_locale("es"):
        assert str(label) == "Revisar y enviar"
    with i18n.use_locale("en"):
        assert str(label) == "Check and submit"


def test_the_build_hook_compiles_every_catalog_into_the_wheel(tmp_path):
    spec = importlib.util.spec_from_file_location("hatch_build", ROOT / "hatch_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.compile_catalogs(ROOT / "app" / "locale", tmp_path)
    assert sorted(written.values()) == ["app/locale/es/LC_MESSAGES/messages.mo"]
    mo = next(iter(written))
    with Path(mo).open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    assert compiled.gettext("Check and submit") == "Revisar y enviar"


@pytest.mark.slow
def test_the_wheel_carries_the_compiled_catalog(tmp_path):
    import subprocess
    import sys
    import zipfile

    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-build-isolation",
            "--no-deps",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("peerready-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "app/locale/es/LC_MESSAGES/messages.mo" in names
    assert "app/locale/es/LC_MESSAGES/messages.po" in names


def test_a_source_checkout_compiles_the_catalog_in_memory():
    # no .mo is committed; the running app reads the .po as it is in the repository
    assert not list((ROOT / "app" / "locale").rglob("*.mo"))
    with (ROOT / "app" / "locale" / "es" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="es")
    assert i18n.translations("es").gettext("Submit my response") == catalog.get("Submit my response").string


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("es-MX,es;q=0.9,en-US;q=0.8,en;q=0.7", "es"),
        ("en-US,en;q=0.9,es;q=0.8", "en"),
        ("fr-FR, es;q=0.5", "es"),
        ("es;q=0, en;q=0.1", "en"),
        ("en;q=0.2, es-US;q=0.9", "es"),
        ("de, fr", None),
        ("", None),
        ("es;q=abc, ;;, en", "en"),
    ],
)
def test_accept_language_is_read_by_quality(header, expected):
    assert i18n.negotiate(i18n.parse_accept_language(header)) == expected
