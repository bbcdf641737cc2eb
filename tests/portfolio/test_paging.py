"""The site table a page at a time, searched by name, on the page and in the JSON API; the
summary and the downloads still cover every site that passes the filters."""

from __future__ import annotations

import csv
import io

from tests.helpers.auth import login, make_organization, make_portfolio, make_user
from tests.helpers.html import parse
from tests.portfolio.conftest import make_cycle, responses


def _portfolio(db, versions, n: int = 7):
    sites = [make_organization(db, f"Site {i:02d}", region="North" if i % 2 else "South") for i in range(n)]
    portfolio = make_portfolio(db, "Paged program", sites)
    funder = make_user(db, role="funder", portfolios=[portfolio])
    for index, site in enumerate(sites[:4]):
        make_cycle(
            db,
            organization=site,
            version=versions.full,
            responses=responses(versions.full_instrument, 4, seed=index, lean=2.0 + index),
        )
    return portfolio, funder, sites


def test_api_pages_and_search(client, db, versions):
    portfolio, funder, _ = _portfolio(db, versions)
    login(client, funder.email)
    url = f"/api/v1/portfolios/{portfolio.id}/sites"

    first = client.get(url, params={"per_page": 3}).json()
    assert [s["name"] for s in first["sites"]] == ["Site 00", "Site 01", "Site 02"]
    assert (first["total_sites"], first["page"], first["per_page"], first["pages"]) == (7, 1, 3, 3)
    last = client.get(url, params={"per_page": 3, "page": 3}).json()
    assert [s["name"] for s in last["sites"]] == ["Site 06"]
    beyond = client.get(url, params={"per_page": 3, "page": 9}).json()
    assert beyond["sites"] == [] and beyond["total_sites"] == 7

    # Sorted by a condition across every page: the scored sites first, highest first.
    ordered = client.get(url, params={"per_page": 2, "sort": "-score_purpose"}).json()
    everything = client.get(url, params={"per_page": 500, "sort": "-score_purpose"}).json()
    assert [s["name"] for s in ordered["sites"]] == [s["name"] for s in everything["sites"][:2]]
    scores = [s["scores"][0]["score"] for s in everything["sites"] if s["status"] == "scored"]
    assert scores == sorted(scores, reverse=True) and len(scores) == 4

    found = client.get(url, params={"q": "site 0", "region": "North"}).json()
    assert [s["name"] for s in found["sites"]] == ["Site 01", "Site 03", "Site 05"]
    assert client.get(url, params={"q": "nowhere"}).json()["total_sites"] == 0

    # The summary is the whole filtered portfolio, whatever the page.
    summary = client.get(f"/api/v1/portfolios/{portfolio.id}/summary").json()
    assert summary["n_sites"] == 7 and summary["n_scored"] == 4

    for bad in ({"page": 0}, {"per_page": 501}, {"q": "x" * 101}):
        response = client.get(url, params=bad)
        assert response.status_code == 422, bad


def test_page_shows_one_page_with_links_and_the_csv_has_every_site(client, db, versions):
    portfolio, funder, _ = _portfolio(db, versions)
    login(client, funder.email)
    base = f"/portfolio/{portfolio.id}"

    page = parse(client.get(base, params={"per_page": 3, "page": 2}).text)
    assert [row.get("data-site") is not None for row in page.select("#sites-table tbody tr")] == [True] * 3
    assert page.text("#sites-range") == "Sites 4–6 of 7."
    assert page.one("#site-pages a[aria-current=page]").text_content().strip() == "2"
    assert page.has("#site-pages a[rel=prev]") and page.has("#site-pages a[rel=next]")
    assert page.definitions("#portfolio-counts")["Sites shown"] == "7"
    assert page.label_for("site-q") == "Site name contains"

    searched = parse(client.get(base, params={"q": "Site 05"}).text)
    assert searched.texts("#sites-table tbody th") == ["Site 05"]
    assert "whose name contains" in searched.text("#sites-range")
    assert not searched.has("#site-pages")

    exported = client.get(f"{base}/export.csv", params={"q": "Site 05", "page": "2"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    names = {row["site_name"] for row in csv.DictReader(io.StringIO(exported.text))}
    assert names == {f"Site {i:02d}" for i in range(7)}  # downloads are the whole portfolio
