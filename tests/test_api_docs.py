def test_api_reference_page_lists_every_operation_without_external_assets(client):
    schema = client.get("/api/openapi.json").json()
    page = client.get("/api/docs")
    assert page.status_code == 200
    for path in schema["paths"]:
        assert f"<code>{path}</code>" in page.text
    # Everything the page needs is served by the app itself (no CDN, no inline script).
    assert "cdn." not in page.text and "<script>" not in page.text
