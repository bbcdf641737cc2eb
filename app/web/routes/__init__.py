"""All routers, in one list: the access matrix test walks every route they define."""

from app.web.routes import (
    admin,
    api,
    assessments,
    auth,
    consultant,
    email,
    evidence,
    forms,
    home,
    jobs,
    plan,
    portfolio,
    report_downloads,
    respond,
)

ROUTERS = [
    home.router,
    auth.router,
    admin.router,
    assessments.router,
    forms.router,
    respond.router,
    plan.router,
    report_downloads.router,
    evidence.router,
    consultant.router,
    portfolio.router,
    jobs.router,
    email.router,
    email.admin_router,
    api.router,
    api.docs_router,
]
