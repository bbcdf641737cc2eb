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
