"""Landing page: sends each signed-in person to the view their role starts from."""

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, RedirectResponse

from app.db.models import Role
from app.web.deps import OptionalUser

router = APIRouter()

START_PAGE = {
    Role.admin: "/admin",
    Role.consultant: "/consultant",
    Role.org_lead: "/assessments",
    Role.funder: "/portfolio",
}


@router.get("/", include_in_schema=False)
def home(user: OptionalUser):
    if user is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(START_PAGE[user.role], status_code=303)


@router.get("/healthz", include_in_schema=False)
def healthz():
    return PlainTextResponse("ok")
