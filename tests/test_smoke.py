"""The app starts, answers its health check and shows a calm page for an unknown address."""

from tests.helpers.html import parse


def test_health_and_security_headers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_unknown_page_is_a_calm_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Traceback" not in response.text
    assert parse(response).error() == ("Not found", "This page does not exist.")
