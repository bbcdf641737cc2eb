"""The HTML test helper itself: visible text, strict selection, tables, leaks and shown numbers."""

from __future__ import annotations

import pytest

from tests.helpers.html import parse, shows_number

PAGE = """<!doctype html><html><head><title>T</title><style>.x{}</style></head><body>
<nav aria-label="Main"><a href="/a">A</a></nav>
<main><h1>Results: <em>Spring</em></h1>
<div class="notice" role="status">Saved.</div><div role="alert">Bad &amp; wrong</div>
<p id="p">9 submitted,<br>1&nbsp;in progress<span class="visually-hidden"> (you)</span></p>
<p hidden>secret hidden</p><script>var s = "in script";</script><!-- a comment -->
<button type="button" hidden>Copy</button><input name="q" value="typed value" title="Birch &amp; Co">
<table id="t"><thead><tr><th>Condition</th><th>Score</th></tr></thead>
<tbody><tr><th scope="row">Purpose</th><td>59.5</td></tr>
<tr><th scope="row">Stigma</th><td>hidden</td></tr></tbody>
</table><a href="/x">x</a></main></body></html>"""


def test_visible_text_skips_hidden_script_and_controls_and_separates_blocks():
    page = parse(PAGE)
    assert page.heading() == "Results: Spring"
    assert page.text("#p") == "9 submitted, 1\xa0in progress (you)".replace("\xa0", " ")
    text = page.text()
    for invisible in ("secret hidden", "in script", "a comment", "Copy", "typed value", ".x{}"):
        assert invisible not in text
    assert "PurposeStigma" not in text and "Purpose 59.5 Stigma hidden" in text


def test_one_and_text_demand_exactly_one_match():
    page = parse(PAGE)
    with pytest.raises(AssertionError, match="0 elements match"):
        page.text("#missing")
    with pytest.raises(AssertionError, match="2 elements match"):
        page.one("tbody tr")


def test_tables_flashes_alerts_and_links():
    page = parse(PAGE)
    assert page.table("#t") == [["Purpose", "59.5"], ["Stigma", "hidden"]]
    assert page.records("#t")[0] == {"Condition": "Purpose", "Score": "59.5"}
    assert page.flashes() == ["Saved."] and page.alerts() == ["Bad & wrong"]
    assert page.links("main") == ["/x"] and page.links("nav") == ["/a"]


def test_assert_not_shown_looks_at_decoded_text_and_attributes():
    page = parse(PAGE)
    page.assert_not_shown("Cedar")
    with pytest.raises(AssertionError, match="attribute"):
        page.assert_not_shown("Birch & Co")  # the raw bytes say "Birch &amp; Co"
    with pytest.raises(AssertionError, match="shown on the page"):
        page.assert_not_shown("Bad & wrong")
    with pytest.raises(AssertionError, match="inside <script>"):
        page.assert_not_shown("in script")


def test_shows_number_accepts_any_rounding_of_the_value_but_no_other_number():
    assert shows_number("59.5", 59.5) and shows_number("60", 59.5) and shows_number("59", 59.5)
    assert not shows_number("61", 59.5) and not shows_number("59.4", 59.5)
    assert shows_number("Score 6.3 of 7", 6.25) and shows_number("6.2", 6.25)
    assert shows_number("+3.0", 3) and shows_number("−2.5", -2.5)
    assert not shows_number("60", 59.5, places=1) and shows_number("59.5", 59.5, places=1)
    with pytest.raises(AssertionError, match="No number"):
        shows_number("hidden", 1.0)


def test_parse_refuses_a_response_that_is_not_html(client):
    with pytest.raises(AssertionError, match="not an HTML page"):
        parse(client.get("/healthz"))
    assert parse(client.get("/login")).heading()
