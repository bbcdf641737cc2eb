"""A funder who chose Spanish sees the portfolio in Spanish: the page (headings, level names,
withheld cells, notes), the downloads page, the reliability page (with the ICC readings) and the
PDF, which is printed in the language of the person who asked for it (`lang` on the job, /Lang of
the PDF). English stays as it was."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from sqlmodel import select

from app import i18n
from app.db.models import Job, Role, User
from app.instruments.models import text
from app.portfolio.wording import ICC_READINGS, icc_reading
from app.scoring.agreement import icc
from tests.helpers.auth import login, make_organization, make_portfolio, make_user
from tests.helpers.html import parse
from tests.portfolio.conftest import make_cycle, responses, versions  # noqa: F401 (a fixture)


@pytest.fixture
def world(db, versions):  # noqa: F811
    """Five scored sites and one below the privacy threshold (3), a funder in each language."""
    instrument = versions.full_instrument
    sites = []
    for n in range(6):
        site = make_organization(db, "Tiny" if n == 5 else f"Site {n}")
        count = 2 if n == 5 else 5 + n
        make_cycle(
            db,
            organization=site,
            version=versions.full,
            responses=responses(instrument, count, seed=n, lean=2 + n / 2),
        )
        sites.append(site)
    portfolio = make_portfolio(db, "State pilot", sites)
    spanish = make_user(db, role=Role.funder, portfolios=[portfolio])
    english = make_user(db, role=Role.funder, portfolios=[portfolio])
    row = db.exec(select(User).where(User.id == spanish.id)).one()
    row.language = "es"
    db.add(row)
    db.commit()
    return portfolio, spanish, english, instrument


def _signed_in(client, user):
    client.cookies.clear()
    login(client, user.email)


def test_the_portfolio_page_in_spanish_and_in_english(client, world):
    portfolio, spanish, english, instrument = world
    first = instrument.domains[0]
    levels_es = [text(level.label, "es") for level in instrument.scoring.levels]
    levels_en = [text(level.label, "en") for level in instrument.scoring.levels]
    assert levels_es != levels_en  # the instrument has Spanish level names

    _signed_in(client, spanish)
    for layout in (None, "full"):
        page = parse(client.get(f"/portfolio/{portfolio.id}", params={"layout": layout} if layout else {}))
        assert page.one("html").get("lang") == "es"
        assert page.headings(2)[:2] == ["Filtrar los sitios", "Sitios"]
        headers = page.table_headers("#sites-table")
        assert headers[0].startswith("Sitio") and any(h.startswith(text(first.title, "es")) for h in headers)
        assert not any(h.startswith(text(first.title, "en")) for h in headers)
        assert page.text("#sites-range") == "Sitios 1–6 de 6."
        tiny = next(r for r in page.select("#sites-table tbody tr") if page.text("th", within=r) == "Tiny")
        assert "menos de 3 participantes — no se muestra" in page.text(within=tiny)
        shown = set(page.texts("#sites-table td .level"))
        assert shown and shown <= set(levels_es)
    assert page.definitions("#portfolio-counts") == {
        "Sitios que se muestran": "6",
        "Con puntajes": "5",
        "Muy pocos participantes para mostrar": "1",
        "Todavía no hay un ciclo completado": "0",
    }
    assert page.texts(".breadcrumbs li")[0] == "Carteras"
    assert page.table_headers("#level-counts") == ["Condición", *levels_es, "No se muestra"]
    assert page.text("#site-search label") == "El nombre del sitio contiene"
    assert page.one("#site-search").get("aria-label") == "Buscar sitios"
    # ?lang= wins over the account
    assert parse(client.get(f"/portfolio/{portfolio.id}?lang=en")).headings(2)[1] == "Sites"

    _signed_in(client, english)
    page = parse(client.get(f"/portfolio/{portfolio.id}"))
    assert page.one("html").get("lang") == "en"
    assert page.headings(2)[:2] == ["Filter sites", "Sites"]
    assert page.text("#sites-range") == "Sites 1–6 of 6."
    assert page.table_headers("#level-counts") == ["Condition", *levels_en, "Not shown"]
    assert page.definitions("#portfolio-counts")["Too few respondents to show"] == "1"
    # The JSON API stays English whatever the account says.
    _signed_in(client, spanish)
    summary = client.get(f"/api/v1/portfolios/{portfolio.id}/summary").json()
    assert summary["shared_conditions"][0]["title"] == text(first.title, "en")


def test_downloads_and_reliability_pages_in_spanish(client, world):
    portfolio, spanish, english, instrument = world
    _signed_in(client, spanish)
    downloads = parse(client.get(f"/portfolio/{portfolio.id}/exports"))
    assert downloads.heading() == "Descargas de State pilot"
    meanings = dict(downloads.table("#columns"))
    assert meanings["portfolio_id"] == "Id de la cartera."
    # The files themselves are data: English condition titles, as the column names.
    csv_text = client.get(f"/portfolio/{portfolio.id}/export.csv").text
    assert text(instrument.domains[0].title, "en") in csv_text

    reliability = parse(client.get(f"/portfolio/{portfolio.id}/reliability"))
    assert reliability.one("html").get("lang") == "es"
    assert reliability.heading() == "¿Se diferencian los sitios? State pilot"
    assert "Participaron 5 sitios; quedan fuera, con menos de 3 respuestas: 1." in reliability.text("main")
    records = reliability.records(f"#icc-table-{instrument.id}")
    assert [r["Condición"] for r in records] == [text(d.title, "es") for d in instrument.domains]
    for record in records:
        assert record["Qué significa"].startswith("ICC(1) es "), record

    _signed_in(client, english)
    english_page = parse(client.get(f"/portfolio/{portfolio.id}/reliability"))
    assert "5 sites took part; 1 left out with fewer than 3 responses" in english_page.text("main")
    assert all(r["What it means"].startswith("ICC(1) is ") for r in english_page.records(".icc-table"))


def _pdf(client, portfolio_id: int, **params) -> PdfReader:
    started = client.get(f"/portfolio/{portfolio_id}/report.pdf", params=params, follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"].endswith("/download")
    response = client.get(started.headers["location"])
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    return PdfReader(io.BytesIO(response.content))


def _text(reader: PdfReader) -> str:
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def test_the_pdf_is_in_the_language_of_the_person_who_asked(client, db, world):
    portfolio, spanish, english, instrument = world
    _signed_in(client, spanish)
    reader = _pdf(client, portfolio.id)
    assert reader.trailer["/Root"]["/Lang"] == "es"
    words = _text(reader)
    for heading in ("Sitios en cada nivel de preparación", "Distribución de los puntajes de los sitios"):
        assert heading in words
    assert "Cartera de PeerReady · página 1 de" in words
    assert text(instrument.domains[0].title, "es") in words
    assert "menos de 3 participantes — no se muestra" in words
    assert "Sites at each readiness level" not in words

    _signed_in(client, english)
    reader = _pdf(client, portfolio.id)
    assert reader.trailer["/Root"]["/Lang"] == "en"
    words = _text(reader)
    assert "Sites at each readiness level" in words and "PeerReady portfolio · page 1 of" in words
    assert "Sitios en cada nivel" not in words

    # Each language is its own job, titled and reported in its language.
    jobs = {job.params["lang"]: job for job in db.exec(select(Job).where(Job.kind == "portfolio_pdf"))}
    assert set(jobs) == {"es", "en"}
    assert jobs["es"].title == "PDF de la cartera: State pilot" and jobs["es"].progress_message == "Listo"
    assert jobs["en"].title == "Portfolio PDF: State pilot" and jobs["en"].progress_message == "Ready"

    # ?lang= chooses the language too (the English funder asks for Spanish).
    assert _pdf(client, portfolio.id, lang="es").trailer["/Root"]["/Lang"] == "es"


@pytest.mark.parametrize(
    "scores",
    [
        {"a": [1.0, 2.0]},  # one site
        {"a": [1.0, 2.0], "b": [3.0, 4.0], "c": [5.0, 6.0]},  # fewer sites than the minimum
        {str(n): [float(n)] for n in range(6)},  # one respondent per site
        {str(n): [5.0, 5.0] for n in range(6)},  # no variance
        {str(n): [float(n % 2), float(n % 2 + 8)] for n in range(6)},  # equal site means
        {str(n): [10.0 * n, 10.0 * n + 1] for n in range(6)},  # sites differ: reliable
        {str(n): [float(n), float(n) + 40] for n in range(6)},  # weak site effect, unreliable
        {str(n): [float(n % 3), 40.0 - n % 3] for n in range(6)},  # no site effect
    ],
)
def test_every_icc_reading_the_statistics_write_is_translated(scores):
    result = icc(scores)
    for statistic in (result.icc1, result.icc2):
        with i18n.use_locale("en"):
            assert icc_reading(statistic.reading) == statistic.reading
        with i18n.use_locale("es"):
            spanish = icc_reading(statistic.reading)
        assert spanish != statistic.reading, f"no pattern in app/portfolio/wording.py: {statistic.reading!r}"


def test_icc_patterns_are_in_the_catalog():
    catalog = i18n.translations("es")
    assert all(catalog.gettext(msgid) != msgid for msgid in ICC_READINGS)
