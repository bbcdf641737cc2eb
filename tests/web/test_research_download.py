"""The research file from the web: off by default, switched per organization by an administrator
(audited), then downloadable by administrators and that agency's consultants only."""

from __future__ import annotations

import csv
import io
import zipfile

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import select

from app.db.models import AuditEvent, Organization, Role
from tests.helpers.auth import make_user
from tests.helpers.cycles import sign_in_fresh, store_cycle
from tests.helpers.html import parse


def _cycle(db, organization: Organization):
    return store_cycle(db, name="", count=9, seed=4, organization=organization)[1]


def test_switch_then_download(app, db):
    organization = Organization(name="Cedar Family Center")
    other = Organization(name="Dogwood Clinic")
    db.add_all([organization, other])
    db.commit()
    assessment = _cycle(db, organization)
    admin = make_user(db, role=Role.admin)
    consultant = make_user(db, role=Role.consultant, organizations=[organization])
    stranger = make_user(db, role=Role.consultant, organizations=[other])
    lead = make_user(db, role=Role.org_lead, organizations=[organization])
    url = f"/assessments/{assessment.id}/research.xlsx"

    with TestClient(app, base_url="http://testserver") as client:
        sign_in_fresh(client, consultant)
        refused = client.get(url)
        assert refused.status_code == 403
        assert "Research sharing is off" in parse(refused.text).text("main")

        token = sign_in_fresh(client, admin)
        page = parse(client.get(f"/admin/organizations/{organization.id}").text)
        assert "Research sharing is off." in page.text("#research-sharing-state")
        done = client.post(
            f"/admin/organizations/{organization.id}/research-sharing",
            data={"csrf_token": token, "enabled": "on"},
            follow_redirects=False,
        )
        assert done.status_code == 303
        page = parse(client.get(f"/admin/organizations/{organization.id}").text)
        assert "Research sharing is on." in page.text("#research-sharing-state")
        bad = client.post(
            f"/admin/organizations/{organization.id}/research-sharing",
            data={"csrf_token": token, "enabled": "maybe"},
        )
        assert bad.status_code == 400

        sign_in_fresh(client, consultant)
        results = parse(client.get(f"/assessments/{assessment.id}/results").text)
        assert results.link(url) is not None
        workbook = client.get(url)
        assert workbook.status_code == 200
        assert workbook.headers["cache-control"] == "no-store"
        book = load_workbook(io.BytesIO(workbook.content))
        assert book.sheetnames == ["responses", "codebook", "notes"]
        assert book["responses"].max_row == 10

        archive = client.get(f"/assessments/{assessment.id}/research.zip")
        assert archive.status_code == 200
        with zipfile.ZipFile(io.BytesIO(archive.content)) as opened:
            assert sorted(opened.namelist()) == ["codebook.csv", "notes.csv", "responses.csv"]
            rows = list(csv.reader(io.StringIO(opened.read("responses.csv").decode("utf-8"))))
        assert len(rows) == 10 and rows[0][0] == "respondent"

        sign_in_fresh(client, lead)
        assert client.get(url).status_code == 403
        sign_in_fresh(client, stranger)
        assert client.get(url).status_code == 404

    events = db.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.action, e.detail) for e in events if e.action == "organization.research_sharing"] == [
        ("organization.research_sharing", {"enabled": True})
    ]
    exports = [e for e in events if e.action == "research.export"]
    assert [e.actor for e in exports] == [consultant.email, consultant.email]
