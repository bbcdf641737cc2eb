"""A small agency for the attack tests: one quick-check cycle of Alder Family Services (in the
funder's Portfolio P), respondents answered through the services (fast), and the attackers'
clients signed in through the real session cookie. Every figure the tests read comes through
the real routes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.db.models import Assessment
from app.services import instruments_store
from tests.helpers.auth import Cast, make_cast, sign_in_as
from tests.helpers.html import parse
from tests.web.journey import fill, full_answers, start_cycle

INSTRUMENT = "quick_check"


@dataclass
class Agency:
    db: Session
    app: object
    cast: Cast
    assessment: Assessment
    personal: dict[int, str] = field(default_factory=dict)

    @property
    def instrument(self):
        return instruments_store.instrument_for(self.db, self.assessment)

    def answer(
        self, group: str, value: str, *, comment: str | None = None, language: str | None = None
    ) -> int:
        """One respondent of `group` answering every question with `value`, submitted (in
        `language`, when given, as the form records it)."""
        answers = full_answers(self.instrument, group, value=value)
        return fill(
            self.db,
            assessment=self.assessment,
            group=group,
            answers=answers,
            comments={"purpose": comment} if comment else None,
            submit=True,
            user=self.cast.lead_a,
            language=language,
        )

    def client(self, user) -> tuple[TestClient, str]:
        client = TestClient(self.app, base_url="http://testserver")
        csrf = sign_in_as(client, user)
        return client, csrf

    def set_status(self, status: str) -> None:
        lead, csrf = self.client(self.cast.lead_a)
        done = lead.post(
            f"/assessments/{self.assessment.id}/status",
            data={"csrf_token": csrf, "status": status, "confirm": "yes"},
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
        self.db.expire_all()

    def results(self, user=None):
        client, _ = self.client(user or self.cast.lead_a)
        page = client.get(f"/assessments/{self.assessment.id}/results")
        assert page.status_code == 200, page.text
        return page

    def funder_sites(self, **query: str) -> dict:
        client, _ = self.client(self.cast.funder_p)
        got = client.get(f"/api/v1/portfolios/{self.cast.portfolio_p.id}/sites", params=query)
        assert got.status_code == 200, got.text
        return next(s for s in got.json()["sites"] if s["organization_id"] == self.cast.org_a.id)


def make_agency(db: Session, app) -> Agency:
    cast = make_cast(db)
    assessment = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id, instrument_id=INSTRUMENT)
    return Agency(db=db, app=app, cast=cast, assessment=assessment)


def condition_rows(page) -> dict[str, dict[str, str]]:
    """The results page's "Scores per condition" table, by condition title."""
    return {r["Condition"]: r for r in parse(page).records("#scores-table")}


def group_rows(page, domain_id: str) -> list[dict[str, str]]:
    doc = parse(page)
    return doc.records(f"#domain-{domain_id} table")


def numbers_in(text: str) -> list[str]:
    return re.findall(r"\b\d+\.\d\b", text)
