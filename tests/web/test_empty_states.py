"""Pages for people with nothing yet: a lead of a brand-new agency, a lead of two agencies (one
empty), a consultant without clients, a funder without a portfolio. None may fail."""

from __future__ import annotations

import pytest

from app.db.models import Role
from tests.helpers.auth import login, make_organization, make_user

PAGES = ["/", "/assessments", "/assessments/new", "/plan", "/consultant", "/portfolio", "/api/portfolios"]


@pytest.mark.parametrize("who", ["new_lead", "two_org_lead", "lonely_consultant", "lonely_funder"])
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
    paths = PAGES + [f"/organizations/{first.id}/plan"]
    for path in paths:
        answer = client.get(path, follow_redirects=True)
        assert answer.status_code < 500, (who, path, answer.status_code)
        assert answer.status_code in (200, 403, 404), (who, path, answer.status_code)
