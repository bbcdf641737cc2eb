"""Administrator pages: organizations, portfolios, users, memberships, resets, and the audit log."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import select

from app.db.models import AuditEvent, Membership, Organization, PortfolioSite, Role, User
from app.services.accounts import verify_password
from tests.helpers.auth import make_cast, make_user, sign_in_as
from tests.helpers.html import parse


def _actions(db) -> list[str]:
    db.expire_all()
    return [e.action for e in db.exec(select(AuditEvent).order_by(AuditEvent.id))]


def test_organization_create_edit_and_duplicate_name(client, db):
    token = sign_in_as(client, make_user(db, role=Role.admin, email="admin@example.org"))
    created = client.post(
        "/admin/organizations",
        data={"name": "Cedar House", "region": "East", "csrf_token": token},
        follow_redirects=False,
    )
    assert created.status_code == 303
    org = db.exec(select(Organization)).one()
    duplicate = client.post("/admin/organizations", data={"name": "cedar house", "csrf_token": token})
    assert duplicate.status_code == 409
    refused = parse(duplicate)
    assert refused.flashes() == ["An organization called “cedar house” already exists."]
    assert refused.form("form[action='/admin/organizations']").fields["name"] == "cedar house"  # kept
    assert [row[0] for row in refused.table("main table")] == ["Cedar House"]
    edited = client.post(
        f"/admin/organizations/{org.id}",
        data={"name": "Cedar House", "region": "West", "cohort": "2028", "csrf_token": token},
    )
    assert edited.status_code == 200  # followed the redirect
    saved = parse(edited)
    assert saved.flashes() == ["Organization saved."]
    assert saved.form(f"form[action='/admin/organizations/{org.id}']").fields["region"] == "West"
    db.refresh(org)
    assert (org.region, org.cohort) == ("West", "2028")
    assert _actions(db)[-2:] == ["organization.created", "organization.updated"]


def test_portfolio_sites_with_tags(client, db):
    cast = make_cast(db)
    token = sign_in_as(client, cast.admin)
    client.post("/admin/portfolios", data={"name": "State pilot", "csrf_token": token})
    link = parse(client.get("/admin/portfolios")).one("main a:contains('State pilot')")
    portfolio_id = link.get("href").removeprefix("/admin/portfolios/")
    added = client.post(
        f"/admin/portfolios/{portfolio_id}/sites",
        data={"organization_id": cast.org_b.id, "region": "Coast", "cohort": "A", "csrf_token": token},
    )
    assert added.status_code == 200
    portfolio_page = parse(added)
    assert portfolio_page.flashes() == ["Site added."]
    (row,) = portfolio_page.select("main table tbody tr")
    assert portfolio_page.text("th", within=row) == "Birch Behavioral Health"
    tags = [field.get("value") for field in row.cssselect("input[name=region], input[name=cohort]")]
    assert tags == ["Coast", "A"]
    site = db.exec(select(PortfolioSite).where(PortfolioSite.portfolio_id == int(portfolio_id))).one()
    assert (site.organization_id, site.region, site.cohort) == (cast.org_b.id, "Coast", "A")
    assert "portfolio.site_added" in _actions(db)


def test_user_lifecycle_membership_role_change_and_reset(app, client, db):
    cast = make_cast(db)
    token = sign_in_as(client, cast.admin)
    response = client.post(
        "/admin/users",
        data={
            "email": "New.Lead@Example.org",
            "name": "New Lead",
            "role": "org_lead",
            "temporary_password": "temporary-pass-1",
            "csrf_token": token,
        },
    )
    assert response.status_code == 200
    user = db.exec(select(User).where(User.email == "new.lead@example.org")).one()
    client.post(
        f"/admin/users/{user.id}/memberships", data={"organization_id": cast.org_a.id, "csrf_token": token}
    )
    db.expire_all()
    assert db.exec(select(Membership.organization_id).where(Membership.user_id == user.id)).all() == [
        cast.org_a.id
    ]

    with TestClient(app) as their_browser:
        sign_in_as(their_browser, user)
        assert their_browser.get("/account/password").status_code == 200
        # An admin reset ends their session and sets the temporary password.
        client.post(
            f"/admin/users/{user.id}/password",
            data={"temporary_password": "temporary-pass-2", "csrf_token": token},
        )
        assert their_browser.get("/account/password", follow_redirects=False).status_code == 303
    db.refresh(user)
    assert verify_password("temporary-pass-2", user.password_hash)

    # Changing the role to funder drops the organization membership.
    client.post(
        f"/admin/users/{user.id}",
        data={
            "email": user.email,
            "name": "New Lead",
            "role": "funder",
            "is_active": "true",
            "csrf_token": token,
        },
    )
    db.expire_all()
    assert db.get(User, user.id).role == Role.funder
    assert db.exec(select(Membership).where(Membership.user_id == user.id)).all() == []
    assert {"user.created", "membership.added", "password.reset", "user.updated"} <= set(_actions(db))


def test_admin_cannot_demote_or_deactivate_themselves(client, db):
    admin = make_user(db, role=Role.admin, email="admin@example.org")
    token = sign_in_as(client, admin)
    response = client.post(
        f"/admin/users/{admin.id}",
        data={"email": admin.email, "name": "A", "role": "funder", "is_active": "true", "csrf_token": token},
    )
    assert response.status_code == 409
    db.refresh(admin)
    assert admin.role == Role.admin


def test_audit_log_filters_and_pages(client, db):
    admin = make_user(db, role=Role.admin, email="admin@example.org")
    for n in range(60):
        db.add(AuditEvent(actor=f"person{n % 2}@example.org", action="login.failed" if n % 2 else "logout"))
    db.commit()
    sign_in_as(client, admin)
    page = parse(client.get("/admin/audit"))
    assert page.text("main > p[role=status]") == "60 events, page 1 of 2."
    assert len(page.table("main table")) == 50 and page.links("nav[aria-label='Audit log pages']") == [
        "/admin/audit?action=&actor=&page=2"
    ]
    filtered = parse(client.get("/admin/audit", params={"action": "login"}))
    assert filtered.text("main > p[role=status]") == "30 events."
    assert {r["Action"] for r in filtered.records("main table")} == {"login.failed"}
    by_actor = parse(client.get("/admin/audit", params={"actor": "PERSON0"}))
    assert by_actor.text("main > p[role=status]") == "30 events."
    assert {r["Actor"] for r in by_actor.records("main table")} == {"person0@example.org"}
    assert client.get("/admin/audit", params={"page": "0"}).status_code == 422
