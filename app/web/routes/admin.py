"""Administrator pages: organizations, portfolios and their sites, users, memberships, password
resets and the audit log. The router itself requires an administrator (one dependency for every
route); routes that record who acted also take `admin: AdminUser`, the same cached check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from app import i18n
from app.db.models import Role
from app.errors import BadInput, PeerReadyError
from app.i18n import N_, lazy_gettext
from app.services import accounts
from app.services import admin as admin_service
from app.web.deps import AdminUser, SessionDep, require_admin
from app.web.routes.auth import sign_in
from app.web.templating import page_locale, render

router = APIRouter(prefix="/admin", dependencies=[Depends(require_admin)])

Name = Annotated[str, Form(max_length=400)]
Tag = Annotated[str, Form(max_length=200)]
Email = Annotated[str, Form(max_length=400)]
Password = Annotated[str, Form(max_length=accounts.MAX_PASSWORD_LENGTH)]
ROLE_LABELS = {
    Role.admin: lazy_gettext("Administrator"),
    Role.consultant: lazy_gettext("Consultant"),
    Role.org_lead: lazy_gettext("Organization lead"),
    Role.funder: lazy_gettext("Funder"),
}
ADMIN = lazy_gettext("Admin")
ORGANIZATIONS = lazy_gettext("Organizations")
PORTFOLIOS = lazy_gettext("Portfolios")
USERS = lazy_gettext("Users")


def _flash(request: Request, message: str, kind: str = "ok", **values: object) -> None:
    """Keep a notice for the next page, written now in this page's language (`message` is the
    English msgid, marked with N_; values by name)."""
    with i18n.use_locale(page_locale(request)):
        text = i18n.gettext(message)
    text = text % values if values else text
    request.session.setdefault("flashes", [])
    request.session["flashes"] = [*request.session["flashes"], [kind, text]][-5:]


def _flashes(request: Request) -> list[tuple[str, str]]:
    return [tuple(pair) for pair in request.session.pop("flashes", [])]


def _page(request: Request, template: str, *, status_code: int = 200, **context):
    context.setdefault("flashes", _flashes(request))
    context.setdefault("role_labels", ROLE_LABELS)
    return render(request, template, status_code=status_code, **context)


def _failed(session: Session, exc: PeerReadyError) -> list[tuple[str, object]]:
    """Undo anything the failed attempt touched; the page is re-rendered with the message (in
    the page's language)."""
    session.rollback()
    return [("error", exc.lazy_message)]


def _back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# --- overview -------------------------------------------------------------------------------


@router.get("", include_in_schema=False)
def overview(request: Request, session: SessionDep):
    return _page(
        request,
        "admin/index.html",
        organizations=admin_service.list_organizations(session),
        portfolios=admin_service.list_portfolios(session),
        users=accounts.list_users(session),
        breadcrumbs=[(ADMIN, None)],
    )


# --- organizations --------------------------------------------------------------------------


def _organizations_page(request: Request, session: Session, *, status_code: int = 200, **context):
    return _page(
        request,
        "admin/organizations.html",
        status_code=status_code,
        organizations=admin_service.list_organizations(session),
        breadcrumbs=[(ADMIN, "/admin"), (ORGANIZATIONS, None)],
        **context,
    )


@router.get("/organizations", include_in_schema=False)
def organizations(request: Request, session: SessionDep):
    return _organizations_page(request, session, form={})


@router.post("/organizations", include_in_schema=False)
def create_organization(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    name: Name = "",
    region: Tag = "",
    cohort: Tag = "",
):
    try:
        organization = admin_service.create_organization(
            session, actor=admin, name=name, region=region, cohort=cohort
        )
    except PeerReadyError as exc:
        return _organizations_page(
            request,
            session,
            status_code=exc.status_code,
            flashes=_failed(session, exc),
            form={"name": name, "region": region, "cohort": cohort},
        )
    _flash(request, N_("Organization “%(name)s” created."), name=organization.name)
    return _back(f"/admin/organizations/{organization.id}")


def _organization_page(
    request: Request, session: Session, organization, *, status_code: int = 200, **context
):
    return _page(
        request,
        "admin/organization.html",
        status_code=status_code,
        organization=organization,
        members=admin_service.members_of(session, organization_id=organization.id),
        breadcrumbs=[
            (ADMIN, "/admin"),
            (ORGANIZATIONS, "/admin/organizations"),
            (organization.name, None),
        ],
        **context,
    )


@router.get("/organizations/{organization_id}", include_in_schema=False)
def organization(request: Request, session: SessionDep, organization_id: int):
    organization = admin_service.get_organization(session, organization_id=organization_id)
    return _organization_page(request, session, organization)


@router.post("/organizations/{organization_id}", include_in_schema=False)
def update_organization(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    organization_id: int,
    name: Name = "",
    region: Tag = "",
    cohort: Tag = "",
):
    organization = admin_service.get_organization(session, organization_id=organization_id)
    try:
        admin_service.update_organization(
            session, actor=admin, organization=organization, name=name, region=region, cohort=cohort
        )
    except PeerReadyError as exc:
        flashes = _failed(session, exc)
        organization = admin_service.get_organization(session, organization_id=organization_id)
        return _organization_page(
            request, session, organization, status_code=exc.status_code, flashes=flashes
        )
    _flash(request, N_("Organization saved."))
    return _back(f"/admin/organizations/{organization_id}")


@router.post("/organizations/{organization_id}/research-sharing", include_in_schema=False)
def research_sharing(
    request: Request, session: SessionDep, admin: AdminUser, organization_id: int, enabled: Name = ""
):
    organization = admin_service.get_organization(session, organization_id=organization_id)
    if enabled not in ("on", "off"):
        raise BadInput(N_("Choose on or off."))
    changed = admin_service.set_research_sharing(
        session, actor=admin, organization=organization, enabled=enabled == "on"
    )
    if changed:
        on, off = (
            N_("Research sharing is now on for “%(name)s”."),
            N_("Research sharing is now off for “%(name)s”."),
        )
        _flash(request, on if enabled == "on" else off, name=organization.name)
    return _back(f"/admin/organizations/{organization_id}")


# --- portfolios -----------------------------------------------------------------------------


def _portfolios_page(request: Request, session: Session, *, status_code: int = 200, **context):
    return _page(
        request,
        "admin/portfolios.html",
        status_code=status_code,
        portfolios=admin_service.list_portfolios(session),
        breadcrumbs=[(ADMIN, "/admin"), (PORTFOLIOS, None)],
        **context,
    )


@router.get("/portfolios", include_in_schema=False)
def portfolios(request: Request, session: SessionDep):
    return _portfolios_page(request, session, form={})


@router.post("/portfolios", include_in_schema=False)
def create_portfolio(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    name: Name = "",
    description: Annotated[str, Form(max_length=4000)] = "",
):
    try:
        portfolio = admin_service.create_portfolio(session, actor=admin, name=name, description=description)
    except PeerReadyError as exc:
        return _portfolios_page(
            request,
            session,
            status_code=exc.status_code,
            flashes=_failed(session, exc),
            form={"name": name, "description": description},
        )
    _flash(request, N_("Portfolio “%(name)s” created. Add its sites below."), name=portfolio.name)
    return _back(f"/admin/portfolios/{portfolio.id}")


def _portfolio_page(
    request: Request, session: Session, portfolio_id: int, *, status_code: int = 200, **context
):
    portfolio = admin_service.get_portfolio(session, portfolio_id=portfolio_id)
    sites = admin_service.sites_of(session, portfolio_id=portfolio.id)
    in_portfolio = {row.organization.id for row in sites}
    return _page(
        request,
        "admin/portfolio.html",
        status_code=status_code,
        portfolio=portfolio,
        sites=sites,
        candidates=[o for o in admin_service.list_organizations(session) if o.id not in in_portfolio],
        funders=admin_service.funders_of(session, portfolio_id=portfolio.id),
        breadcrumbs=[(ADMIN, "/admin"), (PORTFOLIOS, "/admin/portfolios"), (portfolio.name, None)],
        **context,
    )


@router.get("/portfolios/{portfolio_id}", include_in_schema=False)
def portfolio(request: Request, session: SessionDep, portfolio_id: int):
    return _portfolio_page(request, session, portfolio_id)


@router.post("/portfolios/{portfolio_id}", include_in_schema=False)
def update_portfolio(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    portfolio_id: int,
    name: Name = "",
    description: Annotated[str, Form(max_length=4000)] = "",
):
    portfolio = admin_service.get_portfolio(session, portfolio_id=portfolio_id)
    try:
        admin_service.update_portfolio(
            session, actor=admin, portfolio=portfolio, name=name, description=description
        )
    except PeerReadyError as exc:
        return _portfolio_page(
            request, session, portfolio_id, status_code=exc.status_code, flashes=_failed(session, exc)
        )
    _flash(request, N_("Portfolio saved."))
    return _back(f"/admin/portfolios/{portfolio_id}")


@router.post("/portfolios/{portfolio_id}/sites", include_in_schema=False)
def add_site(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    portfolio_id: int,
    organization_id: Annotated[int, Form()],
    region: Tag = "",
    cohort: Tag = "",
):
    portfolio = admin_service.get_portfolio(session, portfolio_id=portfolio_id)
    try:
        admin_service.add_site(
            session,
            actor=admin,
            portfolio=portfolio,
            organization_id=organization_id,
            region=region,
            cohort=cohort,
        )
    except PeerReadyError as exc:
        return _portfolio_page(
            request, session, portfolio_id, status_code=exc.status_code, flashes=_failed(session, exc)
        )
    _flash(request, N_("Site added."))
    return _back(f"/admin/portfolios/{portfolio_id}")


@router.post("/portfolios/{portfolio_id}/sites/{site_id}", include_in_schema=False)
def update_site(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    portfolio_id: int,
    site_id: int,
    region: Tag = "",
    cohort: Tag = "",
):
    portfolio = admin_service.get_portfolio(session, portfolio_id=portfolio_id)
    try:
        admin_service.update_site(
            session, actor=admin, portfolio=portfolio, site_id=site_id, region=region, cohort=cohort
        )
    except PeerReadyError as exc:
        return _portfolio_page(
            request, session, portfolio_id, status_code=exc.status_code, flashes=_failed(session, exc)
        )
    _flash(request, N_("Site tags saved."))
    return _back(f"/admin/portfolios/{portfolio_id}")


@router.post("/portfolios/{portfolio_id}/sites/{site_id}/remove", include_in_schema=False)
def remove_site(request: Request, session: SessionDep, admin: AdminUser, portfolio_id: int, site_id: int):
    portfolio = admin_service.get_portfolio(session, portfolio_id=portfolio_id)
    admin_service.remove_site(session, actor=admin, portfolio=portfolio, site_id=site_id)
    _flash(request, N_("Site removed from the portfolio."))
    return _back(f"/admin/portfolios/{portfolio_id}")


# --- users ----------------------------------------------------------------------------------


def _users_page(request: Request, session: Session, *, status_code: int = 200, **context):
    return _page(
        request,
        "admin/users.html",
        status_code=status_code,
        users=accounts.list_users(session),
        roles=list(Role),
        min_length=accounts.MIN_PASSWORD_LENGTH,
        breadcrumbs=[(ADMIN, "/admin"), (USERS, None)],
        **context,
    )


@router.get("/users", include_in_schema=False)
def users(request: Request, session: SessionDep):
    return _users_page(request, session, form={})


@router.post("/users", include_in_schema=False)
def create_user(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    email: Email = "",
    name: Name = "",
    role: Annotated[str, Form(max_length=40)] = "",
    temporary_password: Password = "",
):
    try:
        user = accounts.create_user(
            session,
            email=email,
            name=name,
            role=role,
            password=temporary_password,
            actor=admin,
            temporary=True,
        )
    except PeerReadyError as exc:
        return _users_page(
            request,
            session,
            status_code=exc.status_code,
            flashes=_failed(session, exc),
            form={"email": email, "name": name, "role": role},
        )
    _flash(
        request,
        N_("User %(email)s created. Give them the temporary password in person or by phone."),
        email=user.email,
    )
    return _back(f"/admin/users/{user.id}")


def _user_page(request: Request, session: Session, user_id: int, *, status_code: int = 200, **context):
    user = accounts.get_user(session, user_id=user_id)
    member_of = accounts.memberships_of(session, user=user)
    funder_of = accounts.portfolios_of(session, user=user)
    return _page(
        request,
        "admin/user.html",
        status_code=status_code,
        person=user,
        roles=list(Role),
        member_of=member_of,
        funder_of=funder_of,
        min_length=accounts.MIN_PASSWORD_LENGTH,
        open_sessions=accounts.open_sessions(session, user=user),
        organizations=[o for o in admin_service.list_organizations(session) if o not in member_of],
        portfolios=[p for p in admin_service.list_portfolios(session) if p not in funder_of],
        breadcrumbs=[(ADMIN, "/admin"), (USERS, "/admin/users"), (user.email, None)],
        **context,
    )


@router.get("/users/{user_id}", include_in_schema=False)
def user(request: Request, session: SessionDep, user_id: int):
    return _user_page(request, session, user_id)


@router.post("/users/{user_id}", include_in_schema=False)
def update_user(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    user_id: int,
    email: Email = "",
    name: Name = "",
    role: Annotated[str, Form(max_length=40)] = "",
    is_active: Annotated[bool, Form()] = False,
):
    user = accounts.get_user(session, user_id=user_id)
    if user.id == admin.id and (not is_active or role != Role.admin.value):
        return _user_page(
            request,
            session,
            user_id,
            status_code=409,
            flashes=[
                (
                    "error",
                    lazy_gettext("You cannot remove your own administrator role or deactivate yourself."),
                )
            ],
        )
    try:
        accounts.update_user(
            session, actor=admin, user=user, email=email, name=name, role=role, is_active=is_active
        )
    except PeerReadyError as exc:
        flashes = _failed(session, exc)
        return _user_page(request, session, user_id, status_code=exc.status_code, flashes=flashes)
    _flash(request, N_("User saved."))
    return _back(f"/admin/users/{user_id}")


@router.post("/users/{user_id}/password", include_in_schema=False)
def reset_password(
    request: Request, session: SessionDep, admin: AdminUser, user_id: int, temporary_password: Password = ""
):
    user = accounts.get_user(session, user_id=user_id)
    try:
        accounts.reset_password(
            session,
            actor=admin,
            user=user,
            temporary_password=temporary_password,
            temporary=user.id != admin.id,  # an administrator's own new password is not temporary
        )
    except PeerReadyError as exc:
        return _user_page(
            request, session, user_id, status_code=exc.status_code, flashes=_failed(session, exc)
        )
    if user.id == admin.id:  # every session ended: keep the administrator signed in here
        sign_in(request, session, user)
    _flash(
        request,
        N_(
            "Temporary password set for %(email)s; they are signed out everywhere and will choose "
            "their own password when they next sign in."
        ),
        email=user.email,
    )
    return _back(f"/admin/users/{user_id}")


@router.post("/users/{user_id}/sessions/end", include_in_schema=False)
def end_sessions(request: Request, session: SessionDep, admin: AdminUser, user_id: int):
    """Sign a user out everywhere (a lost laptop, a shared computer, someone leaving)."""
    user = accounts.get_user(session, user_id=user_id)
    ended = accounts.end_sessions(session, actor=admin, user=user)
    if user.id == admin.id:  # the administrator stays signed in in this browser only
        sign_in(request, session, user)
    with i18n.use_locale(page_locale(request)):
        text = i18n.ngettext(
            "%(email)s is signed out everywhere (%(num)s session ended).",
            "%(email)s is signed out everywhere (%(num)s sessions ended).",
            ended,
        ) % {"email": user.email, "num": ended}
    _flash(request, text)
    return _back(f"/admin/users/{user_id}")


@router.post("/users/{user_id}/memberships", include_in_schema=False)
def add_membership(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    user_id: int,
    organization_id: Annotated[int, Form()],
):
    user = accounts.get_user(session, user_id=user_id)
    try:
        organization = admin_service.get_organization(session, organization_id=organization_id)
        accounts.add_membership(session, actor=admin, user=user, organization=organization)
    except PeerReadyError as exc:
        return _user_page(
            request, session, user_id, status_code=exc.status_code, flashes=_failed(session, exc)
        )
    _flash(request, N_("%(email)s can now see %(name)s."), email=user.email, name=organization.name)
    return _back(f"/admin/users/{user_id}")


@router.post("/users/{user_id}/memberships/{organization_id}/remove", include_in_schema=False)
def remove_membership(
    request: Request, session: SessionDep, admin: AdminUser, user_id: int, organization_id: int
):
    user = accounts.get_user(session, user_id=user_id)
    accounts.remove_membership(session, actor=admin, user=user, organization_id=organization_id)
    _flash(request, N_("Membership removed."))
    return _back(f"/admin/users/{user_id}")


@router.post("/users/{user_id}/portfolios", include_in_schema=False)
def add_portfolio_membership(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    user_id: int,
    portfolio_id: Annotated[int, Form()],
):
    user = accounts.get_user(session, user_id=user_id)
    try:
        portfolio = admin_service.get_portfolio(session, portfolio_id=portfolio_id)
        accounts.add_portfolio_membership(session, actor=admin, user=user, portfolio=portfolio)
    except PeerReadyError as exc:
        return _user_page(
            request, session, user_id, status_code=exc.status_code, flashes=_failed(session, exc)
        )
    _flash(
        request,
        N_("%(email)s can now see the aggregates of %(name)s."),
        email=user.email,
        name=portfolio.name,
    )
    return _back(f"/admin/users/{user_id}")


@router.post("/users/{user_id}/portfolios/{portfolio_id}/remove", include_in_schema=False)
def remove_portfolio_membership(
    request: Request, session: SessionDep, admin: AdminUser, user_id: int, portfolio_id: int
):
    user = accounts.get_user(session, user_id=user_id)
    accounts.remove_portfolio_membership(session, actor=admin, user=user, portfolio_id=portfolio_id)
    _flash(request, N_("Portfolio access removed."))
    return _back(f"/admin/users/{user_id}")


# --- audit log ------------------------------------------------------------------------------


@router.get("/audit", include_in_schema=False)
def audit_log(
    request: Request,
    session: SessionDep,
    action: Annotated[str, Query(max_length=100)] = "",
    actor: Annotated[str, Query(max_length=300)] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
):
    result = admin_service.audit_page(session, action=action, actor=actor, page=page)
    return _page(
        request,
        "admin/audit.html",
        result=result,
        action=action,
        actor=actor,
        breadcrumbs=[(ADMIN, "/admin"), (lazy_gettext("Audit log"), None)],
    )
