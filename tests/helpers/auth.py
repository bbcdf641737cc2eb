"""Users of each role, their memberships, and signing in through the real /login form.

    from tests.helpers.auth import make_cast, login

    def test_something(client, db):
        cast = make_cast(db)  # orgs A and B, portfolios P (A) and Q (B), one user per role and side
        token = login(client, cast.lead_a.email)  # returns the CSRF token of the signed-in session
        client.post("/somewhere", data={"csrf_token": token, ...})
        # or for JSON calls: client.post(url, json=..., headers={"X-CSRF-Token": token})

Every user gets DEFAULT_PASSWORD unless told otherwise; its argon2 hash is computed once per run.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

from sqlmodel import Session

from app.db.models import Membership, Organization, Portfolio, PortfolioMembership, PortfolioSite, Role, User
from app.services.accounts import hash_password

DEFAULT_PASSWORD = "correct-horse-battery-staple"
_CSRF_INPUT = re.compile(r'name="csrf_token"\s+value="([^"]+)"|value="([^"]+)"\s+name="csrf_token"')
_user_numbers = itertools.count(1)
_CSRF_META = re.compile(r'<meta\s+name="csrf-token"\s+content="([^"]+)"')


@lru_cache(maxsize=8)
def password_hash_for(password: str) -> str:
    return hash_password(password)


def make_organization(
    db: Session, name: str, *, region: str | None = None, cohort: str | None = None
) -> Organization:
    organization = Organization(name=name, region=region, cohort=cohort)
    db.add(organization)
    db.commit()
    return organization


def make_portfolio(
    db: Session,
    name: str,
    organizations: list[Organization] | tuple[Organization, ...] = (),
    *,
    region: str | None = None,
    cohort: str | None = None,
) -> Portfolio:
    portfolio = Portfolio(name=name)
    db.add(portfolio)
    db.flush()
    for organization in organizations:
        db.add(
            PortfolioSite(
                portfolio_id=portfolio.id,
                organization_id=organization.id,
                region=region or organization.region,
                cohort=cohort or organization.cohort,
            )
        )
    db.commit()
    return portfolio


def make_user(
    db: Session,
    *,
    role: Role | str,
    email: str | None = None,
    name: str | None = None,
    password: str = DEFAULT_PASSWORD,
    organizations: list[Organization] | tuple[Organization, ...] = (),
    portfolios: list[Portfolio] | tuple[Portfolio, ...] = (),
    is_active: bool = True,
) -> User:
    role = Role(role)
    email = email or f"{role.value}-{next(_user_numbers)}@example.org"
    user = User(
        email=email.lower(),
        name=name or email.split("@")[0],
        role=role,
        password_hash=password_hash_for(password),
        is_active=is_active,
    )
    db.add(user)
    db.flush()
    for organization in organizations:
        db.add(Membership(user_id=user.id, organization_id=organization.id))
    for portfolio in portfolios:
        db.add(PortfolioMembership(user_id=user.id, portfolio_id=portfolio.id))
    db.commit()
    return user


@dataclass
class Cast:
    """Two agencies, two portfolios, and one user per role and side."""

    org_a: Organization
    org_b: Organization
    portfolio_p: Portfolio  # contains org A
    portfolio_q: Portfolio  # contains org B
    admin: User
    consultant_a: User
    lead_a: User
    funder_p: User
    lead_b: User
    consultant_b: User
    funder_q: User


def make_cast(db: Session) -> Cast:
    org_a = make_organization(db, "Alder Family Services", region="North", cohort="2027")
    org_b = make_organization(db, "Birch Behavioral Health", region="South", cohort="2026")
    portfolio_p = make_portfolio(db, "Portfolio P", [org_a])
    portfolio_q = make_portfolio(db, "Portfolio Q", [org_b])
    return Cast(
        org_a=org_a,
        org_b=org_b,
        portfolio_p=portfolio_p,
        portfolio_q=portfolio_q,
        admin=make_user(db, role=Role.admin, email="admin@example.org", name="Ada Admin"),
        consultant_a=make_user(
            db,
            role=Role.consultant,
            email="consultant-a@example.org",
            name="Cora Consultant",
            organizations=[org_a],
        ),
        lead_a=make_user(
            db, role=Role.org_lead, email="lead-a@example.org", name="Lee Lead", organizations=[org_a]
        ),
        funder_p=make_user(
            db, role=Role.funder, email="funder-p@example.org", name="Fay Funder", portfolios=[portfolio_p]
        ),
        lead_b=make_user(
            db, role=Role.org_lead, email="lead-b@example.org", name="Bo Lead", organizations=[org_b]
        ),
        consultant_b=make_user(
            db,
            role=Role.consultant,
            email="consultant-b@example.org",
            name="Ben Consultant",
            organizations=[org_b],
        ),
        funder_q=make_user(
            db, role=Role.funder, email="funder-q@example.org", name="Quinn Funder", portfolios=[portfolio_q]
        ),
    )


def csrf_from_html(html: str) -> str:
    """The CSRF token of a rendered page (hidden form field or <meta name="csrf-token">)."""
    match = _CSRF_INPUT.search(html) or _CSRF_META.search(html)
    if not match:
        raise AssertionError("No CSRF token on this page")
    return next(group for group in match.groups() if group)


def get_csrf(client, path: str = "/account/password") -> str:
    """The CSRF token of the client's current session, read from a page that shows a form."""
    response = client.get(path)
    assert response.status_code == 200, f"GET {path} answered {response.status_code}"
    return csrf_from_html(response.text)


def login(client, email: str, password: str = DEFAULT_PASSWORD, *, expect_success: bool = True):
    """Sign in through the real form; returns the CSRF token of the new (rotated) session.

    With expect_success=False it returns the raw response of the POST instead (for failure tests).
    """
    form = client.get("/login")
    assert form.status_code == 200, f"GET /login answered {form.status_code}"
    response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_from_html(form.text)},
        follow_redirects=False,
    )
    if not expect_success:
        return response
    assert response.status_code == 303, f"sign-in as {email} failed with {response.status_code}"
    return get_csrf(client)


def logout(client) -> None:
    token = get_csrf(client)
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303


def sign_in_as(client, user: User, *, secret_key: str | None = None, engine=None) -> str:
    """Put a signed session for `user` on `client` without the /login round trip (no argon2 cost);
    returns its CSRF token. Use `login()` when the sign-in itself is under test.

    Sessions are server-side (app/services/sessions.py): a session row is written through
    `engine` (default: the TestClient's app's engine) and the cookie carries its token."""
    import json
    import secrets
    from base64 import b64encode

    import itsdangerous

    from app.db.engine import session_scope
    from app.services import sessions
    from app.web.deps import SESSION_KEY

    if secret_key is None:
        secret_key = client.app.state.settings.secret_key
    if engine is None:
        engine = client.app.state.engine
    with session_scope(engine) as db:
        session_token = sessions.start(db, user=user, max_age_seconds=8 * 3600)
    token = secrets.token_urlsafe(32)
    data = {SESSION_KEY: session_token, "csrf": token}
    cookie = itsdangerous.TimestampSigner(str(secret_key)).sign(b64encode(json.dumps(data).encode()))
    client.cookies.set("peerready_session", cookie.decode())
    return token
