"""A two-agency world for access tests, built through the same services the pages call.

Org A (in funder P's portfolio) and org B (in portfolio Q) each have a cycle with three peer-staff
respondents, answers, a comment whose text is a unique marker, a recommended action plan, an
invitation link and a respondent's personal link. Markers let a test assert that what one
person may not see never appears in a page they get.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sqlmodel import Session, select

from app.db.models import Assessment, PlanItem, PortfolioSite
from app.services import instruments_store, plan, responses
from tests.helpers.auth import Cast, make_cast
from tests.web.journey import fill, full_answers, invite, start_cycle


@dataclass
class Side:
    """Everything of one agency that a URL can point at."""

    organization_id: int
    assessment_id: int
    portfolio_id: int
    site_id: int
    invitation_id: int
    invitation_token: str
    personal_token: str  # a respondent's own link (no comment of theirs is a marker)
    response_id: int  # a response with the marker comment
    plan_item_id: int
    markers: dict[str, str] = field(default_factory=dict)  # kind -> text


@dataclass
class World:
    cast: Cast
    a: Side
    b: Side

    def side(self, name: str) -> Side:
        return self.a if name == "A" else self.b


def _build_side(db: Session, cast: Cast, *, letter: str) -> Side:
    organization = cast.org_a if letter == "A" else cast.org_b
    lead = cast.lead_a if letter == "A" else cast.lead_b
    portfolio = cast.portfolio_p if letter == "A" else cast.portfolio_q
    assessment: Assessment = start_cycle(
        db, user=lead, organization_id=organization.id, name=f"Baseline {letter}"
    )
    instrument = instruments_store.instrument_for(db, assessment)
    comment = f"SECRET-COMMENT-{letter} supervisors ignore peer staff at {letter}-site"
    response_ids = [
        fill(
            db,
            assessment=assessment,
            group="peer_staff",
            user=lead,
            submit=True,
            answers=full_answers(instrument, "peer_staff", value=str(2 + n)),
            comments={"stigma": comment} if n == 0 else None,
        )
        for n in range(3)
    ]
    invitation_token = invite(db, user=lead, assessment=assessment, group="clinical")
    personal_response, personal_token, invitation = responses.start_or_resume(
        db, token=invitation_token, remembered=None, client_ip="setup"
    )
    plan.sync_recommendations(db, assessment=assessment, actor=lead)
    db.commit()
    item = db.exec(select(PlanItem).where(PlanItem.organization_id == organization.id)).first()
    if item is None:  # the rules recommended nothing: add one action so item URLs exist
        item = PlanItem(organization_id=organization.id, assessment_id=assessment.id, title=f"Plan {letter}")
        db.add(item)
        db.commit()
    site = db.exec(select(PortfolioSite).where(PortfolioSite.portfolio_id == portfolio.id)).one()
    return Side(
        organization_id=organization.id,
        assessment_id=assessment.id,
        portfolio_id=portfolio.id,
        site_id=site.id,
        invitation_id=invitation.id,
        invitation_token=invitation_token,
        personal_token=personal_token,
        response_id=response_ids[0],
        plan_item_id=item.id,
        markers={"organization": organization.name, "comment": comment},
    )


def build_world(db: Session) -> World:
    cast = make_cast(db)
    return World(cast=cast, a=_build_side(db, cast, letter="A"), b=_build_side(db, cast, letter="B"))


@pytest.fixture
def world(db: Session) -> World:
    return build_world(db)
