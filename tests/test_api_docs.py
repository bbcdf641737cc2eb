"""The API reference page lists what the OpenAPI schema lists and needs nothing from elsewhere."""

from tests.helpers.html import parse


def test_api_reference_page_lists_every_operation_without_external_assets(client):
    schema = client.get("/api/openapi.json").json()
    page = client.get("/api/docs")
    assert page.status_code == 200
    operations = [(method.upper(), path) for path, methods in schema["paths"].items() for method in methods]
    shown = [tuple(title.split(" ", 1)) for title in parse(page).texts("main section h2")]
    assert shown == operations
    # Everything the page needs is served by the app itself (no CDN, no inline script).
    assert "cdn." not in page.text and "<script>" not in page.text


def test_docs_api_md_lists_every_operation_and_its_query_parameters(client):
    """docs/api.md's endpoint headings are exactly the schema's operations, it names every query
    parameter of the sites (the summary takes the filters only), and the page size limits are
    the real ones."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text(encoding="utf-8")
    schema = client.get("/api/openapi.json").json()
    operations = {
        (method.upper(), path.replace("{portfolio_id}", "{id}"))
        for path, methods in schema["paths"].items()
        for method in methods
    }
    documented = set(re.findall(r"^### `(GET|POST|PUT|PATCH|DELETE) (/\S+)`$", doc, re.M))
    assert documented == operations

    sites = schema["paths"]["/api/v1/portfolios/{portfolio_id}/sites"]["get"]["parameters"]
    query = {p["name"]: p for p in sites if p["in"] == "query"}
    section = doc.split("### `GET /api/v1/portfolios/{id}/sites`", 1)[1].split("```", 1)[0]
    named = set(re.findall(r"`([a-z_]+)`", section))
    assert set(query) <= named, f"docs/api.md does not name {sorted(set(query) - named)}"
    summary = schema["paths"]["/api/v1/portfolios/{portfolio_id}/summary"]["get"]["parameters"]
    assert {p["name"] for p in summary if p["in"] == "query"} == {"region", "cohort", "instrument"}
    per_page = query["per_page"]["schema"]
    limits = re.search(r"`per_page` \((\d+)–(\d+), default (\d+)\)", section)
    assert limits, "docs/api.md does not give per_page's range and default"
    assert (int(limits[1]), int(limits[2]), int(limits[3])) == (
        per_page["minimum"],
        per_page["maximum"],
        per_page["default"],
    )
