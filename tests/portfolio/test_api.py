"""The read-only JSON API: schema, values, and who may call it."""

from __future__ import annotations

from app.scoring import score_responses
from tests.helpers.auth import login, make_organization, make_portfolio, make_user
from tests.portfolio.conftest import THRESHOLD, make_cycle, responses


def _setup(db, versions):
    alder = make_organization(db, "Alder Family Services", region="North", cohort="2027")
    birch = make_organization(db, "Birch Behavioral Health", region="South", cohort="2026")
    tiny = make_organization(db, "Tiny Site", region="South", cohort="2026")
    portfolio = make_portfolio(db, "State peer program", [alder, birch, tiny])
    other = make_portfolio(db, "Other program", [birch])
    funder = make_user(db, role="funder", portfolios=[portfolio])
    other_funder = make_user(db, role="funder", portfolios=[other])
    data = responses(versions.full_instrument, 7, seed=11)
    make_cycle(db, organization=alder, version=versions.full, responses=data, expected=14)
    make_cycle(
        db, organization=tiny, version=versions.full, responses=responses(versions.full_instrument, 2, seed=3)
    )
    return portfolio, other, funder, other_funder, data


def test_sites_and_summary_values(client, db, versions):
    portfolio, other, funder, _, data = _setup(db, versions)
    login(client, funder.email)

    listed = client.get("/api/v1/portfolios")
    assert listed.status_code == 200
    assert listed.json() == [
        {"id": portfolio.id, "name": "State peer program", "description": None, "n_sites": 3}
    ]

    body = client.get(f"/api/v1/portfolios/{portfolio.id}/sites").json()
    assert body["privacy_threshold"] == THRESHOLD
    assert [c["id"] for c in body["shared_conditions"]] == ["purpose", "integration", "stigma", "valuing"]
    sites = {s["name"]: s for s in body["sites"]}
    assert sites["Birch Behavioral Health"]["status"] == "no_completed_cycle"
    assert sites["Birch Behavioral Health"]["status_text"] == "No completed cycle yet"
    tiny = sites["Tiny Site"]
    assert tiny["status"] == "below_threshold" and tiny["scores"] == []
    assert tiny["latest"]["n_respondents"] is None and tiny["latest"]["response_rate"] is None
    alder = sites["Alder Family Services"]
    assert alder["latest"]["n_respondents"] == 7 and alder["latest"]["response_rate"] == 0.5
    expected = score_responses(versions.full_instrument, data, privacy_threshold=THRESHOLD)
    for cell in alder["scores"]:
        domain = expected.domain(cell["condition_id"])
        assert cell["score"] == round(domain.score, 1)
        assert cell["level_id"] == domain.level_id and cell["n"] == domain.n
    text = client.get(f"/api/v1/portfolios/{portfolio.id}/sites").text
    for leak in ('"groups"', '"items"', '"answers"', '"comments"', "respondents_by_group"):
        assert leak not in text

    summary = client.get(f"/api/v1/portfolios/{portfolio.id}/summary").json()
    assert (summary["n_sites"], summary["n_scored"], summary["n_below_threshold"]) == (3, 1, 1)
    assert summary["n_no_completed_cycle"] == 1
    purpose = summary["distributions"][0]
    assert purpose["condition_id"] == "purpose" and purpose["n_sites_scored"] == 1
    assert purpose["median"] == round(expected.domain("purpose").score, 1)
    assert sum(lc["count"] for lc in purpose["levels"]) == 1

    south = client.get(f"/api/v1/portfolios/{portfolio.id}/sites", params={"region": "South"}).json()
    assert {s["name"] for s in south["sites"]} == {"Birch Behavioral Health", "Tiny Site"}
    assert client.get(f"/api/v1/portfolios/{portfolio.id}/sites", params={"sort": "bogus"}).status_code == 400


def test_access_rules(client, db, versions):
    portfolio, other, funder, other_funder, _ = _setup(db, versions)
    anonymous = client.get(f"/api/v1/portfolios/{portfolio.id}/sites")
    assert anonymous.status_code == 401 and anonymous.headers["content-type"].startswith("application/json")

    login(client, other_funder.email)
    assert client.get(f"/api/v1/portfolios/{portfolio.id}/sites").status_code == 404
    assert client.get(f"/api/v1/portfolios/{portfolio.id}/summary").status_code == 404
    assert client.get("/api/v1/portfolios/999999/sites").status_code == 404
    assert [p["name"] for p in client.get("/api/v1/portfolios").json()] == ["Other program"]

    client.cookies.clear()
    consultant = make_user(db, role="consultant")
    login(client, consultant.email)
    assert client.get("/api/v1/portfolios").status_code == 403
    assert client.get(f"/api/v1/portfolios/{portfolio.id}/sites").status_code == 403


def test_openapi_documents_response_models(client):
    schema = client.get("/api/openapi.json").json()
    for path in (
        "/api/v1/portfolios",
        "/api/v1/portfolios/{portfolio_id}/sites",
        "/api/v1/portfolios/{portfolio_id}/summary",
    ):
        operation = schema["paths"][path]["get"]
        assert "$ref" in str(operation["responses"]["200"]["content"]["application/json"]["schema"])
    components = schema["components"]["schemas"]
    assert {"SitesPage", "SiteOut", "PortfolioSummary", "ConditionScore"} <= set(components)
    # The API has nowhere to put group, item or comment data.
    assert not {"groups", "items", "comments"} & set(components["SiteOut"]["properties"])
    assert "/portfolio/{portfolio_id}" not in schema["paths"]
