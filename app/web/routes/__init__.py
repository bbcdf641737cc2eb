"""All routers, in one list: the access matrix test walks every route they define."""

from app.web.routes import (
    admin,
    api,
    assessments,
    auth,
    consultant,
    evidence,
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
    respond.router,
    plan.router,
    report_downloads.router,
    evidence.router,
    consultant.router,
    portfolio.router,
    jobs.router,
    api.router,
    api.docs_router,
]
