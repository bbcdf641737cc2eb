"""GET /assessments/{id}/report.pdf: who may download it, what comes back, and the audit trail."""

from __future__ import annotations

from sqlmodel import Session, select

from app.db.models import AuditEvent
from app.services.report_samples import create_sample_report_data
from tests.helpers.auth import make_cast, sign_in_as
from tests.helpers.html import parse


def test_report_download_for_the_org_lead_only(client, db: Session, settings):
    cast = make_cast(db)
    assessment = create_sample_report_data(db, organization=cast.org_a, plan_actions=4)
    db.commit()
    url = f"/assessments/{assessment.id}/report.pdf"

    anonymous = client.get(url, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")

    sign_in_as(client, cast.lead_a)
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert response.headers["content-disposition"] == (
        'attachment; filename="peerready-alder-family-services-follow-up-fall-2027.pdf"'
    )
    # A repeat download of the unchanged report is the cached file, byte for byte.
    assert client.get(url).content == response.content
    # The first download ran the report job (immediate queue in tests): both paper sizes.
    assert len(list((settings.data_dir / "report-cache").glob("*.pdf"))) == 2
    a4 = client.get(url + "?paper=a4")
    assert a4.status_code == 200 and a4.content != response.content
    assert client.get(url + "?paper=legal").status_code == 422

    events = list(db.exec(select(AuditEvent).where(AuditEvent.action == "report.export")))
    assert len(events) == 3
    assert {e.actor for e in events} == {cast.lead_a.email}
    assert {e.organization_id for e in events} == {cast.org_a.id}
    assert sorted(e.detail["paper"] for e in events) == ["a4", "letter", "letter"]

    sign_in_as(client, cast.consultant_a)
    assert client.get(url).status_code == 200

    # Another organization's lead and consultant: as if it did not exist.
    sign_in_as(client, cast.lead_b)
    assert client.get(url).status_code == 404
    sign_in_as(client, cast.consultant_b)
    assert client.get(url).status_code == 404
    assert client.get("/assessments/987654/report.pdf").status_code == 404

    # Funders never get an agency's report, not even for a site of their own portfolio.
    sign_in_as(client, cast.funder_p)
    assert client.get(url).status_code == 403
    exports = db.exec(select(AuditEvent).where(AuditEvent.action == "report.export")).all()
    assert len(exports) == 4  # the consultant's download only; refusals export nothing


def test_download_include_links_both_paper_sizes():
    from app.web.templating import build_environment

    # the pages' own environment: the include's words go through gettext (English here)
    env = build_environment()
    html = env.get_template("reports/_download.html").render(assessment={"id": 42})
    links = parse(html).select("p.report-download a[download]")
    assert [a.get("href") for a in links] == [
        "/assessments/42/report.pdf",
        "/assessments/42/report.pdf?paper=a4",
    ]
    assert [a.text_content() for a in links] == [
        "Download the report and action plan (PDF, Letter)",
        "A4 paper",
    ]
