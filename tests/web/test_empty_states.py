"""Pages for people with nothing yet: a lead of a brand-new agency, a lead of two agencies (one
empty), a consultant without clients, a funder without a portfolio. Each page answers its one
expected status, lands where it should and says something useful (an empty-state message, or a
refusal that names why), never an empty table or a form that can only fail."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.db.models import Role
from tests.helpers.auth import login, make_organization, make_user
from tests.helpers.html import parse

NO_CYCLES = "No cycles yet."
NO_RESULTS = "No finished cycle yet. When a cycle closes, its recommended actions appear"
NOT_LINKED = "You are not linked to an organization yet."
NO_CLIENTS = "You have no client agencies yet."
NO_PORTFOLIO = "You are not a member of any portfolio yet."
NOT_CONSULTANT = "The consultant workspace is for consultants and administrators."
NOT_PORTFOLIO_ROLE = "Your role does not give access to this page."
NOT_ORG_ROLE = "Your role does not give access to organization results."


@dataclass(frozen=True)
class Expect:
    status: int
    lands_on: str  # the path after redirects ({first} = the brand-new agency's id)
    heading: str  # the page's <h1> (JSON answers: "")
    says: str  # text that must be in <main> (JSON answers: the body, compared exactly)


def _page(path: str, heading: str, says: str) -> Expect:
    return Expect(200, path, heading, says)


def _refused(path: str, says: str) -> Expect:
    return Expect(403, path, "Not allowed", says)


PLAN = "/organizations/{first}/plan"
EXPECTED: dict[str, dict[str, Expect]] = {
    "new_lead": {
        "/": _page("/assessments", "Assessments", NO_CYCLES),
        "/assessments": _page("/assessments", "Assessments", NO_CYCLES),
        "/assessments/new": _page("/assessments/new", "Start an assessment cycle", "Brand-new agency"),
        "/plan": _page(PLAN, "Action plan: Brand-new agency", NO_RESULTS),  # one agency: straight there
        "/consultant": _refused("/consultant", NOT_CONSULTANT),
        "/portfolio": _refused("/portfolio", NOT_PORTFOLIO_ROLE),
        "/api/v1/portfolios": Expect(403, "/api/v1/portfolios", "", ""),
        PLAN: _page(PLAN, "Action plan: Brand-new agency", NO_RESULTS),
    },
    "two_org_lead": {
        "/": _page("/assessments", "Assessments", NO_CYCLES),
        "/assessments": _page("/assessments", "Assessments", NO_CYCLES),
        "/assessments/new": _page("/assessments/new", "Start an assessment cycle", "Second agency"),
        "/plan": _page("/plan", "Action plans", "Second agency"),  # two agencies: choose one
        "/consultant": _refused("/consultant", NOT_CONSULTANT),
        "/portfolio": _refused("/portfolio", NOT_PORTFOLIO_ROLE),
        "/api/v1/portfolios": Expect(403, "/api/v1/portfolios", "", ""),
        PLAN: _page(PLAN, "Action plan: Brand-new agency", NO_RESULTS),
    },
    "lonely_consultant": {
        "/": _page("/consultant", "Your client agencies", NO_CLIENTS),
        "/assessments": _page("/assessments", "Assessments", NOT_LINKED),
        "/assessments/new": _page("/assessments/new", "Start an assessment cycle", NOT_LINKED),
        "/plan": _page("/plan", "Action plans", NOT_LINKED),
        "/consultant": _page("/consultant", "Your client agencies", NO_CLIENTS),
        "/portfolio": _refused("/portfolio", NOT_PORTFOLIO_ROLE),
        "/api/v1/portfolios": Expect(403, "/api/v1/portfolios", "", ""),
        PLAN: Expect(404, PLAN, "Not found", "No such organization."),  # not a client of theirs
    },
    "lonely_funder": {
        "/": _page("/portfolio", "Portfolios", NO_PORTFOLIO),
        "/assessments": _refused("/assessments", NOT_ORG_ROLE),
        "/assessments/new": _refused("/assessments/new", NOT_ORG_ROLE),
        "/plan": _refused("/plan", NOT_ORG_ROLE),
        "/consultant": _refused("/consultant", NOT_CONSULTANT),
        "/portfolio": _page("/portfolio", "Portfolios", NO_PORTFOLIO),
        "/api/v1/portfolios": Expect(200, "/api/v1/portfolios", "", "[]"),
        PLAN: _refused(PLAN, NOT_ORG_ROLE),
    },
}


@pytest.mark.parametrize("who", list(EXPECTED))
def test_pages_work_for_people_with_nothing_yet(client, db, who):
    first = make_organization(db, "Brand-new agency")
    second = make_organization(db, "Second agency")
    users = {
        "new_lead": make_user(db, role=Role.org_lead, organizations=[first]),
        "two_org_lead": make_user(db, role=Role.org_lead, organizations=[first, second]),
        "lonely_consultant": make_user(db, role=Role.consultant),
        "lonely_funder": make_user(db, role=Role.funder),
    }
    login(client, users[who].email)
    for path, expect in EXPECTED[who].items():
        url = path.format(first=first.id)
        answer = client.get(url, follow_redirects=True)
        where = f"{who} GET {url}"
        assert answer.status_code == expect.status, f"{where}: {answer.status_code}"
        assert answer.url.path == expect.lands_on.format(first=first.id), f"{where} landed on {answer.url}"
        if url.startswith("/api/"):
            if expect.status == 200:
                assert answer.text == expect.says, where
            else:
                assert set(answer.json()) == {"detail"} and answer.json()["detail"], where
            continue
        page = parse(answer)
        assert page.heading() == expect.heading, where
        assert expect.says in page.text("main"), f"{where} does not say {expect.says!r}"
        if expect.status == 200:
            # An empty state is a sentence, never an empty table.
            for table in page.select("main table"):
                assert page.texts("tbody tr", within=table), f"{where} shows an empty table"
        if who == "lonely_consultant" and expect.status == 200:
            assert not page.select("main form[method=post]"), f"{where} offers a form that can only fail"
