"""The shared browser fixtures work: the live server answers and Chromium renders its pages."""

import pytest


@pytest.mark.browser
def test_live_server_serves_pages_to_chromium(live_server, browser_page):
    response = browser_page.goto(f"{live_server.url}/no-such-page")
    assert response.status == 404
    assert browser_page.locator("main h1").inner_text() == "Not found"
    assert browser_page.locator("main p.lead").inner_text() == "This page does not exist."
