"""Portfolio pages, CSV/XLSX/PDF downloads: HTML asserted, files parsed, exports audited."""

from __future__ import annotations

import csv
import io

import pypdf
from openpyxl import load_workbook
from sqlmodel import select

from app.db.models import AuditEvent, Comment, Response
from app.portfolio.exports import COLUMN_NAMES
from app.scoring import score_responses
from tests.helpers.auth import login, make_organization, make_portfolio, make_user
from tests.helpers.html import parse, shows_number
from tests.portfolio.conftest import THRESHOLD, make_cycle, responses


def _setup(db, versions):
    alder = make_organization(db, "Alder Family Services", region="North", cohort="2027")
    birch = make_organization(db, "=Birch Behavioral Health", region="South", cohort="2026")
    cedar = make_organization(db, "Cedar Counseling", region="North", cohort="2026")
    tiny = make_organization(db, "Tiny Site", region="South", cohort="2027")
    portfolio = make_portfolio(db, "State peer program", [alder, birch, cedar, tiny])
    funder = make_user(db, role="funder", portfolios=[portfolio])
    base = responses(versions.full_instrument, 5, seed=1, lean=2.5)
    follow = responses(versions.full_instrument, 6, seed=2, lean=4.0)
    make_cycle(db, organization=alder, version=versions.full, responses=base, name="Baseline 2027")
    make_cycle(
        db, organization=alder, version=versions.full, responses=follow, name="Follow-up 2028", expected=12
    )
    make_cycle(
        db,
        organization=birch,
        version=versions.quick,
        responses=responses(versions.quick_instrument, 4, seed=3),
    )
    make_cycle(
        db, organization=tiny, version=versions.full, responses=responses(versions.full_instrument, 2, seed=4)
    )
    # A comment that must never reach a funder.
    response_id = db.exec(select(Response.id)).first()
    db.add(Comment(response_id=response_id, domain_id="purpose", text="SECRET-COMMENT-TEXT"))
    db.commit()
    return portfolio, funder, base, follow


def _site_rows(page) -> dict[str, list]:
    """The sites table: site name -> its cells (elements), in table order."""
    rows = {}
    for row in page.select("#sites-table tbody tr[data-site]"):
        rows[page.text("th[scope=row]", within=row)] = row.cssselect("td")
    return rows


def test_portfolio_page(client, db, versions):
    portfolio, funder, base, follow = _setup(db, versions)
    login(client, funder.email)
    index = client.get("/portfolio", follow_redirects=False)
    assert index.status_code == 303 and index.headers["location"] == f"/portfolio/{portfolio.id}"

    compact = parse(client.get(f"/portfolio/{portfolio.id}", params={"sort": "-score_purpose"}))
    # The default table is compact: one cell per condition with score, level and change (below,
    # spelled out for screen readers); "Show every column" links to the full table.
    cells = compact.select('#sites-table tr[data-site] td[data-condition="purpose"]')
    changes = [compact.text(".change", within=cell) for cell in cells]
    assert len(changes) == 2 and any(c.startswith("Change: +") for c in changes), changes
    assert compact.one("#layout-choice a").get("href").endswith("sort=-score_purpose&layout=full")
    response = client.get(f"/portfolio/{portfolio.id}", params={"sort": "-score_purpose", "layout": "full"})
    assert response.status_code == 200
    assert "SECRET-COMMENT-TEXT" not in response.text  # raw bytes: not in any attribute either
    page = parse(response)
    assert page.heading() == "State peer program"
    assert page.definitions("#portfolio-counts") == {
        "Sites shown": "4",
        "With scores": "2",
        "Too few respondents to show": "1",
        "No completed cycle yet": "1",
    }
    sites = _site_rows(page)
    assert [page.text(within=cell) for cell in sites["Cedar Counseling"]][2:] == ["No completed cycle yet"]
    assert page.text(within=sites["Tiny Site"][-1]) == f"fewer than {THRESHOLD} respondents — not shown"
    assert page.text("#comparability-note").startswith("Comparing different instrument versions.")
    assert "share" in page.text("#comparability-note")
    # Sort state announced on the current column only; its header link reverses it.
    (current,) = page.select("#sites-table thead th[aria-sort]")
    assert current.get("aria-sort") == "descending"
    link = page.one("a[data-sort=score_purpose]", within=current)
    assert "sort=score_purpose" in link.get("href") and "sort=-score_purpose" not in link.get("href")
    # Level shown as text with its colour class, and change from baseline.
    latest = score_responses(versions.full_instrument, follow, privacy_threshold=THRESHOLD).domain("purpose")
    earlier = score_responses(versions.full_instrument, base, privacy_threshold=THRESHOLD).domain("purpose")
    headers = [page.text(within=th) for th in page.select("#sites-table thead th")]
    score_column = next(i for i, h in enumerate(headers) if h.startswith(latest.title)) - 1  # minus <th> Site
    change_column = headers.index(f"Change: {latest.title}") - 1
    score_cell = sites["Alder Family Services"][score_column]
    assert shows_number(page.text("strong", within=score_cell), latest.score, places=1)
    level = page.one("span.level", within=score_cell)
    assert f"level-{latest.level_id}" in level.get("class").split()
    assert page.text(within=level) == latest.level_label
    change_text = page.text(within=sites["Alder Family Services"][change_column])
    assert change_text.startswith("+")  # latest minus the first completed cycle, of shown scores
    assert shows_number(change_text, latest.score - earlier.score, places=1, slack=0.1)
    # Every shared condition has its chart, the chart's table and a level-count row.
    conditions = page.records("#level-counts")
    assert len(conditions) == len(page.select("figure.distribution svg.histogram[role=img]")) > 0
    assert page.texts("figure.distribution details > summary") == ["Table of this chart"] * len(conditions)
    # Rows in the requested order: the scored sites by purpose score, then the rest by name.
    assert list(sites)[-2:] == ["Cedar Counseling", "Tiny Site"]

    filtered = parse(
        client.get(f"/portfolio/{portfolio.id}", params={"region": "South", "instrument": "quick_check"})
    )
    assert list(_site_rows(filtered)) == ["=Birch Behavioral Health", "Tiny Site"]
    assert filtered.select("#comparability-note") == []
    assert client.get(f"/portfolio/{portfolio.id}", params={"sort": "nope"}).status_code == 400
    assert client.get(f"/portfolio/{portfolio.id}", params={"layout": "wide"}).status_code in (400, 422)


def test_other_roles_and_funders_are_refused(client, db, versions):
    portfolio, _, _, _ = _setup(db, versions)
    stranger = make_user(db, role="funder", portfolios=[make_portfolio(db, "Elsewhere", [])])
    login(client, stranger.email)
    assert client.get(f"/portfolio/{portfolio.id}").status_code == 404
    assert client.get(f"/portfolio/{portfolio.id}/export.csv").status_code == 404
    client.cookies.clear()
    lead = make_user(db, role="org_lead")
    login(client, lead.email)
    assert client.get(f"/portfolio/{portfolio.id}").status_code == 403
    assert client.get("/portfolio").status_code == 403


def test_csv_export(client, db, versions):
    portfolio, funder, _, follow = _setup(db, versions)
    login(client, funder.email)
    response = client.get(f"/portfolio/{portfolio.id}/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert "SECRET-COMMENT-TEXT" not in response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0].keys()) == COLUMN_NAMES
    by_site = {}
    for row in rows:
        by_site.setdefault(row["site_name"], []).append(row)
    assert set(by_site) == {
        "Alder Family Services",
        "'=Birch Behavioral Health",
        "Cedar Counseling",
        "Tiny Site",
    }
    assert len(by_site["Alder Family Services"]) == 4  # one per compared condition
    expected = score_responses(versions.full_instrument, follow, privacy_threshold=THRESHOLD)
    for row in by_site["Alder Family Services"]:
        domain = expected.domain(row["condition_id"])
        assert float(row["score"]) == round(domain.score, 1)
        assert row["level_id"] == domain.level_id and int(row["condition_n"]) == domain.n
        assert row["n_respondents"] == "6" and row["response_rate"] == "0.500"
        assert row["baseline_cycle_name"] == "Baseline 2027" and float(row["change_from_baseline"]) > 0
    tiny = by_site["Tiny Site"]
    assert all(
        r["site_status"] == "below_threshold" and r["score"] == "" and r["n_respondents"] == "" for r in tiny
    )
    assert {r["score_status"] for r in by_site["Cedar Counseling"]} == {"no_completed_cycle"}

    events = db.exec(select(AuditEvent).where(AuditEvent.action == "portfolio.export_csv")).all()
    assert len(events) == 1 and events[0].actor == funder.email


def test_xlsx_export_with_data_dictionary(client, db, versions):
    portfolio, funder, _, _ = _setup(db, versions)
    login(client, funder.email)
    response = client.get(f"/portfolio/{portfolio.id}/export.xlsx", params={"region": "North"})
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.content), read_only=True)
    assert workbook.sheetnames == ["Sites", "Data dictionary", "About"]
    sites = list(workbook["Sites"].iter_rows(values_only=True))
    assert list(sites[0]) == COLUMN_NAMES
    assert {r[COLUMN_NAMES.index("site_name")] for r in sites[1:]} == {
        "Alder Family Services",
        "Cedar Counseling",
    }
    scores = [r[COLUMN_NAMES.index("score")] for r in sites[1:] if r[COLUMN_NAMES.index("score")] is not None]
    # Numbers, not text. openpyxl reads a whole-number score such as 71.0 back as the int 71.
    assert scores and all(isinstance(s, int | float) and not isinstance(s, bool) for s in scores)
    dictionary = list(workbook["Data dictionary"].iter_rows(values_only=True))
    assert dictionary[0] == ("column", "meaning")
    assert [r[0] for r in dictionary[1:]] == COLUMN_NAMES and all(r[1] for r in dictionary[1:])
    about = dict(workbook["About"].iter_rows(values_only=True))
    assert about["Filters"] == "region=North" and about["Privacy threshold"] == THRESHOLD
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "portfolio.export_xlsx")).first()


def test_downloads_page_lists_columns(client, db, versions):
    portfolio, funder, _, _ = _setup(db, versions)
    login(client, funder.email)
    page = parse(client.get(f"/portfolio/{portfolio.id}/exports"))
    columns = page.records("table#columns")
    assert [c["Column"] for c in columns] == COLUMN_NAMES
    assert all(c["Meaning"] for c in columns)


def test_pdf_export(client, db, versions):
    portfolio, funder, _, _ = _setup(db, versions)
    login(client, funder.email)
    response = client.get(f"/portfolio/{portfolio.id}/report.pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(response.content)).pages)
    assert "State peer program" in text and "Alder Family Services" in text
    assert "No completed cycle yet" in text and "SECRET-COMMENT-TEXT" not in text
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "portfolio.export_pdf")).first()
    # Like the page: sites per level and the distribution of site scores per condition, each
    # chart with its numbers in a table; the summary's labels and values stay on their rows.
    lines = [" ".join(line.split()) for line in text.splitlines()]
    assert "Sites at each readiness level" in text and "Distribution of site scores" in text
    assert any(line.startswith("No completed cycle yet ") and line.split()[-1].isdigit() for line in lines)
    assert " ".join(text.split()).count("Score band") == 4  # one table per condition


def test_docs_list_every_export_column():
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "portfolio-exports.md").read_text(encoding="utf-8")
    for name in COLUMN_NAMES:
        assert f"| `{name}` |" in docs, f"docs/portfolio-exports.md does not document {name}"
