"""Consultant workspace: client overview, commentary (and that the report reads it), and the CSV
import of paper responses (preview first; bad rows save nothing; confirm saves all and refreshes
the stored scores)."""

from __future__ import annotations

import csv
import io

from sqlmodel import func, select

from app.db.models import (
    Answer,
    AssessmentScore,
    AuditEvent,
    Commentary,
    ImportBatch,
    Response,
    ResponseStatus,
)
from app.instruments.models import text
from app.portfolio.privacy import shown_response_rate
from app.reports.pdf import render_report_html
from app.scoring import Scorecard, score_responses
from app.scoring.numbers import format_percent
from app.services import imports
from app.services.reports import build_report_context
from tests.helpers.auth import login, make_organization, make_user
from tests.helpers.html import parse
from tests.portfolio.conftest import THRESHOLD, make_cycle, responses


def _csv_text(instrument, rows) -> str:
    items = [i.id for i in instrument.items]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["respondent", "group", *items])
    for row in rows:
        writer.writerow([row.respondent_id, row.group, *(row.answers.get(i, "") for i in items)])
    return buffer.getvalue()


def _setup(db, versions):
    alder = make_organization(db, "Alder Family Services", region="North")
    birch = make_organization(db, "Birch Behavioral Health", region="South")
    consultant = make_user(db, role="consultant", organizations=[alder])
    done = make_cycle(
        db,
        organization=alder,
        version=versions.full,
        expected=10,
        name="Baseline 2027",
        responses=responses(versions.full_instrument, 4, seed=1),
    )
    open_cycle = make_cycle(
        db, organization=alder, version=versions.full, closed=False, name="Follow-up 2028", responses=[]
    )
    other = make_cycle(
        db, organization=birch, version=versions.full, closed=False, name="Birch cycle", responses=[]
    )
    return consultant, done, open_cycle, other


def _count(db, model, **where):
    query = select(func.count()).select_from(model)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return db.exec(query).one()


def test_workspace_lists_only_client_organizations(client, db, versions):
    consultant, done, open_cycle, other = _setup(db, versions)
    login(client, consultant.email)
    page = parse(client.get("/consultant"))
    assert page.texts("section.client h2") == ["Alder Family Services"]
    page.assert_not_shown("Birch")
    cycles = {row.cssselect("th")[0].text: row for row in page.select("section.client table tbody tr")}
    assert set(cycles) == {"Baseline 2027", "Follow-up 2028"}
    baseline, follow_up = cycles["Baseline 2027"], cycles["Follow-up 2028"]
    baseline_cells = page.texts("td", within=baseline)
    assert baseline_cells[:4] == ["Closed", "4", "0", "40.0% of 10"]  # 4 submitted of 10 expected
    done_links = [a.get("href") for a in baseline.iter("a")]
    assert done_links == [
        f"/assessments/{done.id}/results",
        f"/assessments/{done.id}/report.pdf",
        f"/consultant/assessments/{done.id}/commentary",
    ]  # closed: no import
    assert f"/consultant/assessments/{open_cycle.id}/import" in [a.get("href") for a in follow_up.iter("a")]
    assert page.texts("td", within=follow_up)[0] == "Open"
    client.cookies.clear()
    funder = make_user(db, role="funder")
    login(client, funder.email)
    assert client.get("/consultant").status_code == 403


def test_commentary_is_saved_and_reaches_the_report(client, db, versions):
    consultant, done, _, other = _setup(db, versions)
    token = login(client, consultant.email)
    form = client.get(f"/consultant/assessments/{done.id}/commentary")
    assert form.status_code == 200
    commentary_form = parse(form)
    assert commentary_form.label_for("commentary-text") == "Commentary"
    assert commentary_form.one("textarea#commentary-text").get("name") == "text"
    text = "Strong leadership support.\n\nNext: <b>budget</b> peer supervision time."
    saved = client.post(
        f"/consultant/assessments/{done.id}/commentary",
        data={"text": text, "csrf_token": token},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    after = client.get(saved.headers["location"])
    page = parse(after)
    assert page.flashes() == [
        "Commentary saved. It will appear on the results page and in this cycle's PDF report."
    ]
    assert page.form("form[action$='/commentary']").fields["text"] == text  # shown back for editing
    # Markup in the commentary is escaped (raw bytes on purpose: this is about the HTML source).
    assert "&lt;b&gt;budget&lt;/b&gt;" in after.text and "<b>budget</b>" not in after.text
    row = db.get(Commentary, done.id)
    db.refresh(row)
    assert row.text == text and row.author_id == consultant.id

    edited = client.post(
        f"/consultant/assessments/{done.id}/commentary",
        data={"text": "Revised view.", "csrf_token": token},
        follow_redirects=False,
    )
    assert edited.status_code == 303
    db.expire_all()
    assert db.get(Commentary, done.id).text == "Revised view."
    context = build_report_context(db, assessment_id=done.id)
    assert context.commentary is not None and context.commentary.text == "Revised view."
    report = parse(render_report_html(context))
    assert report.texts("section.commentary .free-text p") == ["Revised view."]
    # ... and the results page shows the same commentary, so the web and the PDF agree.
    results = parse(client.get(f"/assessments/{done.id}/results"))
    assert results.texts("#commentary p")[0] == "Revised view."
    assert results.text("#commentary .hint").startswith(f"{consultant.name}, last edited ")
    actions = [e.action for e in db.exec(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions.count("commentary.create") == 1 and actions.count("commentary.update") == 1

    # Another agency's cycle: 404, and nothing written.
    assert client.get(f"/consultant/assessments/{other.id}/commentary").status_code == 404
    refused = client.post(
        f"/consultant/assessments/{other.id}/commentary", data={"text": "x", "csrf_token": token}
    )
    assert refused.status_code == 404 and db.get(Commentary, other.id) is None
    assert client.post(f"/consultant/assessments/{done.id}/commentary", data={"text": "x"}).status_code == 403


def test_import_with_bad_rows_saves_nothing(client, db, versions):
    consultant, _, open_cycle, _ = _setup(db, versions)
    token = login(client, consultant.email)
    rows = responses(versions.full_instrument, 4, seed=2)
    text = _csv_text(versions.full_instrument, rows)
    lines = text.splitlines()
    header = lines[0].split(",")
    bad = lines[2].split(",")
    bad[header.index("group")] = "board"
    broken_value = lines[3].split(",")
    column = next(i for i, h in enumerate(header) if h == "purpose_clear_goal")
    broken_value[column] = "7"
    content = "\n".join([lines[0], lines[1], ",".join(bad), ",".join(broken_value), lines[4]]) + "\n"

    response = client.post(
        f"/consultant/assessments/{open_cycle.id}/import/preview",
        data={"csrf_token": token},
        files={"file": ("paper.csv", content, "text/csv")},
    )
    assert response.status_code == 422
    page = parse(response)
    (alert,) = page.alerts()
    assert alert.startswith("paper.csv was not imported. Nothing was saved.")
    errors = page.records("table#import-errors")
    assert {int(e["Row"]) for e in errors} == {3, 4}
    by_column = {e["Column"].split(" (")[0]: e["Problem"] for e in errors}  # "group (B)": name and letter
    assert by_column["group"].startswith("group 'board' is not a respondent group")
    assert by_column["purpose_clear_goal"].startswith("'7' is not an answer to purpose_clear_goal")
    assert page.select("input[name=import_id]") == []  # nothing to confirm
    assert page.select("form[action$='/import/preview'] input[type=file]")  # upload again
    assert _count(db, Response, assessment_id=open_cycle.id) == 0 and _count(db, Answer) > 0  # only setup's
    assert list((client.app.state.settings.data_dir / "pending-imports").glob("*.json")) == []


def test_good_import_previews_then_saves_everything(client, db, versions):
    consultant, _, open_cycle, _ = _setup(db, versions)
    token = login(client, consultant.email)
    rows = responses(versions.full_instrument, 7, seed=3)
    content = _csv_text(versions.full_instrument, rows).encode("utf-8")

    preview = client.post(
        f"/consultant/assessments/{open_cycle.id}/import/preview",
        data={"csrf_token": token},
        files={"file": ("paper.csv", content, "text/csv")},
    )
    assert preview.status_code == 200
    checked = parse(preview)
    assert checked.text("#import-preview").startswith("paper.csv passed every check. Nothing is saved yet")
    groups = {g["Respondent group"]: int(g["Responses"]) for g in checked.records("#import-groups")}
    expected_groups = {}
    for row in rows:
        label = text(versions.full_instrument.group_by_id(row.group).label)
        expected_groups[label] = expected_groups.get(label, 0) + 1
    assert groups == expected_groups and "Leadership" in groups
    first_rows = checked.table("#import-rows")
    assert first_rows and [r[0] for r in first_rows] == [r.respondent_id for r in rows[: len(first_rows)]]
    assert _count(db, Response, assessment_id=open_cycle.id) == 0  # preview saves nothing
    confirm = checked.form("form[action$='/import/confirm']")
    assert checked.texts("button", within=confirm) == ["Save 7 responses"]
    import_id = confirm.fields["import_id"]

    # Another consultant cannot use this import id, even on a cycle they may see.
    client.cookies.clear()
    intruder = make_user(db, role="consultant", organizations=[_org(db, open_cycle)])
    intruder_token = login(client, intruder.email)
    stolen = client.post(
        f"/consultant/assessments/{open_cycle.id}/import/confirm",
        data={"csrf_token": intruder_token, "import_id": import_id},
    )
    assert stolen.status_code == 410
    assert _count(db, Response, assessment_id=open_cycle.id) == 0

    client.cookies.clear()
    token = login(client, consultant.email)
    done = client.post(
        f"/consultant/assessments/{open_cycle.id}/import/confirm",
        data={"csrf_token": token, "import_id": import_id},
    )
    assert done.status_code == 200
    assert parse(done).text("#import-done").startswith("7 responses saved, waiting for approval.")
    saved = db.exec(select(Response).where(Response.assessment_id == open_cycle.id)).all()
    assert (
        len(saved) == 7
        and {r.source for r in saved} == {"import"}
        and {r.status for r in saved} == {"submitted"}
    )
    assert sorted(r.group for r in saved) == sorted(r.group for r in rows)
    # Pending until the agency's lead approves; then the live scores equal the rules module.
    db.expire_all()
    assert db.get(AssessmentScore, open_cycle.id).n_respondents == 0
    lead = make_user(db, role="org_lead", organizations=[_org(db, open_cycle)])
    batch = db.exec(select(ImportBatch).where(ImportBatch.assessment_id == open_cycle.id)).one()
    imports.decide_import(
        db, user=lead, assessment=open_cycle, batch_id=batch.id, approve=True, privacy_threshold=THRESHOLD
    )
    db.commit()
    db.expire_all()
    stored = db.get(AssessmentScore, open_cycle.id)
    assert stored.n_respondents == 7
    expected = score_responses(versions.full_instrument, rows, privacy_threshold=THRESHOLD)
    live = Scorecard.model_validate(stored.scorecard)
    for domain in expected.domains:
        assert (
            live.domain(domain.domain_id).score == domain.score
            and live.domain(domain.domain_id).n == domain.n
        )
    assert (
        db.exec(select(AuditEvent).where(AuditEvent.action == "responses.import")).one().detail["rows"] == 7
    )

    again = client.post(
        f"/consultant/assessments/{open_cycle.id}/import/confirm",
        data={"csrf_token": token, "import_id": import_id},
    )
    assert again.status_code == 410
    assert _count(db, Response, assessment_id=open_cycle.id) == 7


def test_import_refused_for_closed_cycles_and_other_agencies(client, db, versions):
    consultant, done, _, other = _setup(db, versions)
    token = login(client, consultant.email)
    content = _csv_text(versions.full_instrument, responses(versions.full_instrument, 3, seed=4))
    closed = client.post(
        f"/consultant/assessments/{done.id}/import/preview",
        data={"csrf_token": token},
        files={"file": ("paper.csv", content, "text/csv")},
    )
    assert closed.status_code == 409
    foreign = client.post(
        f"/consultant/assessments/{other.id}/import/preview",
        data={"csrf_token": token},
        files={"file": ("paper.csv", content, "text/csv")},
    )
    assert foreign.status_code == 404
    traversal = client.post(
        f"/consultant/assessments/{_open_id(db, done)}/import/confirm",
        data={"csrf_token": token, "import_id": "../../etc/passwd"},
    )
    assert traversal.status_code == 410
    assert _count(db, Response, assessment_id=other.id) == 0


def _org(db, assessment):
    from app.db.models import Organization

    return db.get(Organization, assessment.organization_id)


def _open_id(db, assessment):
    from app.db.models import Assessment, AssessmentStatus

    return db.exec(
        select(Assessment.id).where(
            Assessment.organization_id == assessment.organization_id,
            Assessment.status == AssessmentStatus.open,
        )
    ).first()


def test_consultant_and_portfolio_give_one_response_rate(client, db, versions):
    """An in-progress response the cycle does not count is not in the consultant's rate either, so
    the consultant view and the portfolio print the same rate for the same closed cycle."""
    consultant, done, _, _ = _setup(db, versions)
    db.add(
        Response(
            assessment_id=done.id, group="clinical", token_hash="x" * 64, status=ResponseStatus.in_progress
        )
    )
    db.commit()
    login(client, consultant.email)
    page = parse(client.get("/consultant"))
    (row,) = [
        r
        for r in page.select("section.client table tbody tr")
        if r.cssselect("th")[0].text == "Baseline 2027"
    ]
    cells = page.texts("td", within=row)
    portfolio_rate = shown_response_rate(4, 10, threshold=THRESHOLD)
    assert cells[1] == "4"  # submitted
    assert cells[3] == f"{format_percent(portfolio_rate)} of 10" == "40.0% of 10"
