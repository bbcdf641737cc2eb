"""What the administrator pages change: organizations, portfolios and their sites, and the audit log.

Callers must already have checked that the actor is an administrator (the /admin routes depend on
AdminUser). Every change is written to the audit log in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from app.db.models import (
    AuditEvent,
    Membership,
    Organization,
    Portfolio,
    PortfolioMembership,
    PortfolioSite,
    User,
)
from app.errors import BadInput, Conflict, NotFound
from app.i18n import N_
from app.services import access, audit

AUDIT_PAGE_SIZE = 50


# Whole sentences per field, so that each language can write them its own way.
_TOO_LONG = {
    "organization name": N_("The organization name can have at most %(limit)s characters."),
    "portfolio name": N_("The portfolio name can have at most %(limit)s characters."),
    "region": N_("The region can have at most %(limit)s characters."),
    "cohort": N_("The cohort can have at most %(limit)s characters."),
    "description": N_("The description can have at most %(limit)s characters."),
}
_MISSING = {
    "organization name": N_("Enter the organization name."),
    "portfolio name": N_("Enter the portfolio name."),
}


def _text(value: str | None, *, what: str, limit: int) -> str | None:
    """The trimmed text, or None when blank."""
    value = (value or "").strip()
    if not value:
        return None
    if len(value) > limit:
        raise BadInput(_TOO_LONG[what], params={"limit": limit})
    return value


def _required_text(value: str | None, *, what: str, limit: int) -> str:
    text = _text(value, what=what, limit=limit)
    if text is None:
        raise BadInput(_MISSING[what])
    return text


# --- organizations --------------------------------------------------------------------------


def list_organizations(session: Session) -> list[Organization]:
    return list(session.exec(select(Organization).order_by(Organization.name)))


def get_organization(session: Session, *, organization_id: int) -> Organization:
    return access.get_row(session, Organization, organization_id, missing=N_("No such organization."))


def _unique_org_name(session: Session, name: str, *, except_id: int | None = None) -> None:
    query = select(Organization.id).where(func.lower(Organization.name) == name.lower())
    if except_id is not None:
        query = query.where(Organization.id != except_id)
    if session.exec(query).first() is not None:
        raise Conflict(N_("An organization called “%(name)s” already exists."), params={"name": name})


def create_organization(
    session: Session, *, actor: User, name: str, region: str | None, cohort: str | None
) -> Organization:
    name = _required_text(name, what="organization name", limit=200)
    region = _text(region, what="region", limit=100)
    cohort = _text(cohort, what="cohort", limit=100)
    _unique_org_name(session, name)
    organization = Organization(name=name, region=region, cohort=cohort)
    session.add(organization)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="organization.created",
        target=f"organization:{organization.id}",
        organization_id=organization.id,
        detail={"name": name, "region": region, "cohort": cohort},
    )
    return organization


def update_organization(
    session: Session,
    *,
    actor: User,
    organization: Organization,
    name: str,
    region: str | None,
    cohort: str | None,
) -> Organization:
    name = _required_text(name, what="organization name", limit=200)
    region = _text(region, what="region", limit=100)
    cohort = _text(cohort, what="cohort", limit=100)
    _unique_org_name(session, name, except_id=organization.id)
    before = {"name": organization.name, "region": organization.region, "cohort": organization.cohort}
    after = {"name": name, "region": region, "cohort": cohort}
    organization.name, organization.region, organization.cohort = name, region, cohort
    session.add(organization)
    changes = {key: [before[key], after[key]] for key in before if before[key] != after[key]}
    if changes:
        audit.record(
            session,
            actor=actor,
            action="organization.updated",
            target=f"organization:{organization.id}",
            organization_id=organization.id,
            detail=changes,
        )
    return organization


def set_research_sharing(session: Session, *, actor: User, organization: Organization, enabled: bool) -> bool:
    """Switch the research download on or off for `organization` (docs/privacy.md), audited.
    Returns whether anything changed (a repeated click records nothing)."""
    if organization.research_sharing == enabled:
        return False
    organization.research_sharing = enabled
    session.add(organization)
    audit.record(
        session,
        actor=actor,
        action="organization.research_sharing",
        target=f"organization:{organization.id}",
        organization_id=organization.id,
        detail={"enabled": enabled},
    )
    return True


def members_of(session: Session, *, organization_id: int) -> list[User]:
    return list(
        session.exec(
            select(User)
            .join(Membership, col(Membership.user_id) == User.id)
            .where(Membership.organization_id == organization_id)
            .order_by(User.email)
        )
    )


# --- portfolios -----------------------------------------------------------------------------


def list_portfolios(session: Session) -> list[Portfolio]:
    return list(session.exec(select(Portfolio).order_by(Portfolio.name)))


def get_portfolio(session: Session, *, portfolio_id: int) -> Portfolio:
    return access.get_row(session, Portfolio, portfolio_id, missing=N_("No such portfolio."))


def _unique_portfolio_name(session: Session, name: str, *, except_id: int | None = None) -> None:
    query = select(Portfolio.id).where(func.lower(Portfolio.name) == name.lower())
    if except_id is not None:
        query = query.where(Portfolio.id != except_id)
    if session.exec(query).first() is not None:
        raise Conflict(N_("A portfolio called “%(name)s” already exists."), params={"name": name})


def create_portfolio(session: Session, *, actor: User, name: str, description: str | None) -> Portfolio:
    name = _required_text(name, what="portfolio name", limit=200)
    description = _text(description, what="description", limit=2000)
    _unique_portfolio_name(session, name)
    portfolio = Portfolio(name=name, description=description)
    session.add(portfolio)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="portfolio.created",
        target=f"portfolio:{portfolio.id}",
        detail={"name": name},
    )
    return portfolio


def update_portfolio(
    session: Session, *, actor: User, portfolio: Portfolio, name: str, description: str | None
) -> Portfolio:
    name = _required_text(name, what="portfolio name", limit=200)
    description = _text(description, what="description", limit=2000)
    _unique_portfolio_name(session, name, except_id=portfolio.id)
    changes: dict[str, list[str] | str] = {}
    if portfolio.name != name:
        changes["name"] = [portfolio.name, name]
    if portfolio.description != description:
        changes["description"] = "changed"
    portfolio.name, portfolio.description = name, description
    session.add(portfolio)
    if changes:
        audit.record(
            session,
            actor=actor,
            action="portfolio.updated",
            target=f"portfolio:{portfolio.id}",
            detail=changes,
        )
    return portfolio


@dataclass(frozen=True)
class SiteRow:
    site: PortfolioSite
    organization: Organization


def sites_of(session: Session, *, portfolio_id: int) -> list[SiteRow]:
    rows = session.exec(
        select(PortfolioSite, Organization)
        .join(Organization, col(Organization.id) == PortfolioSite.organization_id)
        .where(PortfolioSite.portfolio_id == portfolio_id)
        .order_by(Organization.name)
    )
    return [SiteRow(site, organization) for site, organization in rows]


def add_site(
    session: Session,
    *,
    actor: User,
    portfolio: Portfolio,
    organization_id: int,
    region: str | None,
    cohort: str | None,
) -> PortfolioSite:
    organization = get_organization(session, organization_id=organization_id)
    region = _text(region, what="region", limit=100)
    cohort = _text(cohort, what="cohort", limit=100)
    exists = session.exec(
        select(PortfolioSite.id).where(
            PortfolioSite.portfolio_id == portfolio.id, PortfolioSite.organization_id == organization.id
        )
    ).first()
    if exists is not None:
        raise Conflict(
            N_("%(organization)s is already a site of %(portfolio)s."),
            params={"organization": organization.name, "portfolio": portfolio.name},
        )
    site = PortfolioSite(
        portfolio_id=portfolio.id,
        organization_id=organization.id,
        region=region or organization.region,
        cohort=cohort or organization.cohort,
    )
    session.add(site)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="portfolio.site_added",
        target=f"portfolio:{portfolio.id}",
        organization_id=organization.id,
        detail={"organization": organization.name, "region": site.region, "cohort": site.cohort},
    )
    return site


def update_site(
    session: Session,
    *,
    actor: User,
    portfolio: Portfolio,
    site_id: int,
    region: str | None,
    cohort: str | None,
) -> PortfolioSite:
    site = _site(session, portfolio=portfolio, site_id=site_id)
    region = _text(region, what="region", limit=100)
    cohort = _text(cohort, what="cohort", limit=100)
    detail = {"region": [site.region, region], "cohort": [site.cohort, cohort]}
    site.region, site.cohort = region, cohort
    session.add(site)
    audit.record(
        session,
        actor=actor,
        action="portfolio.site_updated",
        target=f"portfolio:{portfolio.id}",
        organization_id=site.organization_id,
        detail=detail,
    )
    return site


def remove_site(session: Session, *, actor: User, portfolio: Portfolio, site_id: int) -> None:
    site = _site(session, portfolio=portfolio, site_id=site_id)
    session.delete(site)
    audit.record(
        session,
        actor=actor,
        action="portfolio.site_removed",
        target=f"portfolio:{portfolio.id}",
        organization_id=site.organization_id,
    )


def _site(session: Session, *, portfolio: Portfolio, site_id: int) -> PortfolioSite:
    site = session.get(PortfolioSite, site_id) if access.is_valid_id(site_id) else None
    if site is None or site.portfolio_id != portfolio.id:
        raise NotFound(N_("No such site in this portfolio."))
    return site


def funders_of(session: Session, *, portfolio_id: int) -> list[User]:
    return list(
        session.exec(
            select(User)
            .join(PortfolioMembership, col(PortfolioMembership.user_id) == User.id)
            .where(PortfolioMembership.portfolio_id == portfolio_id)
            .order_by(User.email)
        )
    )


# --- audit log ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    page: int
    pages: int
    total: int
    actions: list[str]


def audit_page(
    session: Session, *, action: str | None = None, actor: str | None = None, page: int = 1
) -> AuditPage:
    """Newest first. `action` matches exactly or as a prefix ("login" finds login.failed too);
    `actor` matches part of the actor's email or label."""
    conditions = []
    action = (action or "").strip()[:100]
    actor = (actor or "").strip()[:300]
    if action:
        conditions.append(
            or_(col(AuditEvent.action) == action, col(AuditEvent.action).startswith(action + "."))
        )
    if actor:
        escaped = actor.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(func.lower(AuditEvent.actor).like(f"%{escaped.lower()}%", escape="\\"))
    total = session.exec(select(func.count()).select_from(AuditEvent).where(*conditions)).one()
    pages = max(1, -(-total // AUDIT_PAGE_SIZE))
    page = min(max(1, page), pages)
    events = list(
        session.exec(
            select(AuditEvent)
            .where(*conditions)
            .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
            .offset((page - 1) * AUDIT_PAGE_SIZE)
            .limit(AUDIT_PAGE_SIZE)
        )
    )
    actions = list(session.exec(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))
    return AuditPage(events=events, page=page, pages=pages, total=total, actions=actions)
