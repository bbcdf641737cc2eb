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

# Routes are matched in this order. The respondent pages come first: they are the busiest (every
# autosave) and share no path with any other router, so nothing else could match before them.
ROUTERS = [
    respond.router,
    home.router,
    auth.router,
    admin.router,
    assessments.router,
    forms.router,
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
