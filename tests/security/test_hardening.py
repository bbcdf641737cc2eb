"""Headers on every kind of response, body size limit, calm errors without tracebacks."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import select

from app.db.models import Assessment, AssessmentScore, AssessmentStatus, Organization, Release, Role
from app.services import releases as release_service
from tests.helpers.auth import make_user, sign_in_as
from tests.helpers.html import parse

FIVE_MB = 5 * 1024 * 1024


def _assert_security_headers(response) -> None:
    csp = response.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert response.headers.get("referrer-policy") == "no-referrer"


def test_headers_on_pages_errors_static_and_api(client, db):
    admin = make_user(db, role=Role.admin, email="admin@example.org")
    responses = [
        client.get("/login"),
        client.get("/static/app.css"),
        client.get("/static/no-such-file.js"),
        client.get("/no-such-page"),
        client.get("/api/v1/no-such-thing"),
        client.get("/api/openapi.json"),
        client.post("/login", data={}),  # 403: no CSRF token
        client.put("/login"),  # 405
        client.post("/login", content=b"x" * FIVE_MB, headers={"content-type": "application/octet-stream"}),
    ]
    sign_in_as(client, admin)
    responses += [client.get("/admin"), client.get("/admin/users/999999")]
    statuses = sorted({r.status_code for r in responses})
    assert statuses == [200, 403, 404, 405, 413]
    for response in responses:
        _assert_security_headers(response)


def test_session_cookie_is_httponly_and_samesite(client):
    response = client.get("/login")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_session_cookie_is_secure_when_served_over_https(engine, tmp_path):
    from app.config import Settings
    from app.web.main import create_app

    settings = Settings(
        PEERREADY_ENV="test", PEERREADY_DATA_DIR=tmp_path, PEERREADY_BASE_URL="https://peerready.example"
    )
    with TestClient(
        create_app(settings=settings, engine=engine), base_url="https://peerready.example"
    ) as client:
        response = client.get("/login")
    assert "secure" in response.headers["set-cookie"].lower()
    assert "max-age=31536000" in response.headers["strict-transport-security"]


def test_five_megabyte_body_is_refused_and_nothing_saved(client, db):
    admin = make_user(db, role=Role.admin, email="admin@example.org")
    token = sign_in_as(client, admin)
    response = client.post("/admin/organizations", data={"name": "Big" + "x" * FIVE_MB, "csrf_token": token})
    assert response.status_code == 413
    db.expire_all()
    assert db.exec(select(Organization)).all() == []


def test_chunked_body_without_length_is_cut_off_too(client, db):
    admin = make_user(db, role=Role.admin, email="admin@example.org")
    token = sign_in_as(client, admin)
    body = f"csrf_token={token}&name=Big".encode() + b"x" * FIVE_MB

    def chunks():
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    response = client.post(
        "/admin/organizations",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    db.expire_all()
    assert db.exec(select(Organization)).all() == []


def test_an_internal_error_shows_a_calm_page_without_traceback(app, db):
    """Corrupt a stored scorecard so the results page fails deep inside: the visitor gets a calm 500."""
    from tests.security.conftest import build_world

    world = build_world(db)
    stored = db.get(AssessmentScore, world.a.assessment_id)
    stored.scorecard = {"not": "a scorecard"}
    db.add(stored)
    # The results page reads the latest release (docs/privacy.md): corrupt that too.
    assessment = db.get(Assessment, world.a.assessment_id)
    assessment.status = AssessmentStatus.closed
    db.add(assessment)
    db.commit()
    release_service.ensure_released(db, assessment=assessment, privacy_threshold=3)
    db.commit()
    for release in db.exec(select(Release).where(Release.assessment_id == assessment.id)):
        release.scorecard = {"not": "a scorecard"}
        db.add(release)
    db.commit()
    with TestClient(app, raise_server_exceptions=False) as client:
        sign_in_as(client, world.cast.lead_a)
        response = client.get(f"/assessments/{world.a.assessment_id}/results")
        assert response.status_code == 500
        assert "Traceback" not in response.text and 'File "/' not in response.text
        assert parse(response).error() == (
            "Something went wrong",
            "Something went wrong on our side. Nothing was half-saved.",
        )
        _assert_security_headers(response)


def test_unexpected_exception_gives_500_without_details_in_html_and_json(app):
    def explode():
        raise RuntimeError("secret internal detail /etc/passwd")

    app.add_api_route("/test-only/explode", explode)
    app.add_api_route("/api/test-only/explode", explode)
    with TestClient(app, raise_server_exceptions=False) as client:
        page = client.get("/test-only/explode")
        api = client.get("/api/test-only/explode")
    assert page.status_code == api.status_code == 500
    assert parse(page).error() == (
        "Something went wrong",
        "Something went wrong on our side. Nothing was half-saved.",
    )
    for response in (page, api):
        assert "secret internal detail" not in response.text
        assert "Traceback" not in response.text
        _assert_security_headers(response)
    assert api.json() == {"detail": "Something went wrong on our side. Nothing was half-saved."}


def test_ids_too_large_for_the_database_are_404_not_500(app, db):
    """Every route with an id in its path, as an administrator, with an id past PostgreSQL's integer."""
    import re

    from tests.security.conftest import build_world
    from tests.security.test_route_matrix import app_routes

    world = build_world(db)
    huge = str(2**31)
    problems = []
    with TestClient(app, raise_server_exceptions=False) as client:
        csrf = sign_in_as(client, world.cast.admin)
        for key in sorted(app_routes(app)):
            method, path = key.split(" ", 1)
            if "_id}" not in path:
                continue
            real = {
                "organization_id": world.a.organization_id,
                "assessment_id": world.a.assessment_id,
                "portfolio_id": world.a.portfolio_id,
            }
            for keep_real in (False, True):
                values = real if keep_real else {}
                url = re.sub(r"{(\w+_id)}", lambda m, v=values: str(v.get(m.group(1), huge)), path)
                url = url.replace("{token}", world.a.personal_token).replace("{number}", "1")
                response = client.request(
                    method,
                    url,
                    data={"csrf_token": csrf} if method != "GET" else None,
                    follow_redirects=False,
                )
                if response.status_code >= 500:
                    problems.append(f"{method} {url}: {response.status_code}")
    assert not problems, "Huge ids crash these routes:\n" + "\n".join(problems)
