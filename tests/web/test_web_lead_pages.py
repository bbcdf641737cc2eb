"""The org lead's pages over HTTP: start a cycle, invitation links, results equal to the rules
module on the same data, comments without attribution, the action plan and its audit trail."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta

from sqlmodel import func, select

from app.db.models import (
    Assessment,
    AssessmentStatus,
    AuditEvent,
    DomainScore,
    InstrumentVersion,
    Invitation,
    PlanItem,
    PlanStatus,
    utcnow,
)
from app.instruments.loader import load_instrument_file
from app.paths import INSTRUMENTS_DIR
from app.scoring import ResponseInput, score_responses
from app.scoring.numbers import format_score
from app.services import assessments, instruments_store, invitations, releases, scores
from tests.helpers.auth import login, make_cast
from tests.helpers.html import parse, shows_number
from tests.web.journey import close_cycle, fill, full_answers, start_cycle, submit_all


def test_lead_starts_a_cycle_and_creates_links_shown_once(client, db):
    cast = make_cast(db)
    csrf = login(client, cast.lead_a.email)
    form = client.get("/assessments/new")
    assert form.status_code == 200
    page = parse(form)
    assert page.texts("select#organization_id option") == ["Alder Family Services"]
    instruments = page.texts("fieldset:has(input[name=instrument_id]) label")
    assert any(label.startswith("Organizational Readiness Self-Assessment") for label in instruments)
    page.assert_not_shown("Birch")
    created = client.post(
        "/assessments",
        data={
            "csrf_token": csrf,
            "organization_id": cast.org_a.id,
            "name": "Baseline, spring 2027",
            "instrument_id": "readiness_full",
            "expected_respondents": "12",
            "previous": "latest",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    assessment = db.exec(select(Assessment)).one()
    assert assessment.expected_respondents == 12 and assessment.previous_assessment_id is None
    assert created.headers["location"] == f"/assessments/{assessment.id}/invitations?created=1"
    version = db.get(InstrumentVersion, assessment.instrument_version_id)
    # The snapshot is the file with its Spanish translations written inline.
    assert version.source_yaml == load_instrument_file(INSTRUMENTS_DIR / "readiness-full.yaml").source_text

    made = client.post(
        f"/assessments/{assessment.id}/invitations",
        data={"csrf_token": csrf, "group": "peer_staff", "label": "Peer team"},
    )
    assert made.status_code == 200
    new_link = parse(made)
    link = new_link.one("#new-link input#new-link-url").get("value")
    token = re.fullmatch(r"http://[^/]+/r/([A-Za-z0-9_-]{40,})", link).group(1)
    assert new_link.text("#new-link h2") == "New link for Peer staff (Peer team)"
    assert "it is shown only once" in new_link.text("#new-link")
    assert db.exec(select(Invitation)).one().token_hash == invitations.hash_token(token)
    listing = client.get(f"/assessments/{assessment.id}/invitations")
    assert token not in listing.text  # raw bytes on purpose: not in any attribute or script either
    # Post/redirect/get: the POST answers with a redirect, so reloading the page shows it again
    # instead of posting a second link; the address rides in a cookie read once, never in a URL.
    again = client.post(
        f"/assessments/{assessment.id}/invitations",
        data={"csrf_token": csrf, "group": "clinical"},
        follow_redirects=False,
    )
    assert again.status_code == 303 and again.headers["location"].endswith("/invitations#new-link")
    assert "/r/" not in again.headers["location"]
    shown = client.get(f"/assessments/{assessment.id}/invitations")
    assert parse(shown).text("#new-link h2") == "New link for Clinical staff"
    reloaded = client.get(f"/assessments/{assessment.id}/invitations")
    assert not parse(reloaded).has("#new-link")
    assert len(db.exec(select(Invitation)).all()) == 2
    clinical = db.exec(select(Invitation).where(Invitation.group == "clinical")).one()
    # Switched off by mistake? It can be switched back on, and the same address works again.
    client.post(f"/assessments/{assessment.id}/invitations/{clinical.id}/revoke", data={"csrf_token": csrf})
    off = parse(client.get(f"/assessments/{assessment.id}/invitations"))
    assert {r["Group"]: r["State"] for r in off.records("main table")}["Clinical staff"] == "Switched off"
    assert not off.has(f"form[action$='/invitations/{clinical.id}/revoke']")
    restored = client.post(
        f"/assessments/{assessment.id}/invitations/{clinical.id}/restore", data={"csrf_token": csrf}
    )
    page = parse(restored)
    assert "switched back on" in page.text(".notice-ok")
    assert {r["Group"]: r["State"] for r in page.records("main table")}["Clinical staff"] == "Active"
    db.refresh(clinical)
    assert clinical.revoked_at is None
    db.delete(clinical)
    db.commit()
    (row,) = parse(listing).records("main table")
    assert (row["Group"], row["Label"], row["State"], row["Responses started"]) == (
        "Peer staff",
        "Peer team",
        "Active",
        "0",
    )

    # a follow-up defaults to the latest cycle of the same organization
    client.post(
        "/assessments",
        data={
            "csrf_token": csrf,
            "organization_id": cast.org_a.id,
            "name": "Follow-up, 2028",
            "instrument_id": "quick_check",
        },
    )
    follow_up = db.exec(select(Assessment).where(Assessment.name == "Follow-up, 2028")).one()
    assert follow_up.previous_assessment_id == assessment.id
    overview = parse(client.get("/assessments"))
    cycles = overview.records(f"section:has(#org-{cast.org_a.id}) table")
    assert [(c["Cycle"], c["Status"]) for c in cycles] == [
        ("Follow-up, 2028", "Open"),
        ("Baseline, spring 2027", "Open"),
    ]


def test_bad_cycle_input_and_other_agencies_are_refused(client, db):
    cast = make_cast(db)
    other = start_cycle(db, user=cast.lead_b, organization_id=cast.org_b.id)
    csrf = login(client, cast.lead_a.email)
    for data, status in (
        ({"organization_id": cast.org_a.id, "name": "", "instrument_id": "readiness_full"}, 400),
        ({"organization_id": cast.org_a.id, "name": "X", "instrument_id": "no_such"}, 400),
        (
            {
                "organization_id": cast.org_a.id,
                "name": "X",
                "instrument_id": "quick_check",
                "close_date": "soon",
            },
            400,
        ),
        ({"organization_id": cast.org_b.id, "name": "X", "instrument_id": "quick_check"}, 404),
        (
            {
                "organization_id": cast.org_a.id,
                "name": "X",
                "instrument_id": "quick_check",
                "previous": str(other.id),
            },
            404,
        ),
    ):
        assert client.post("/assessments", data={"csrf_token": csrf, **data}).status_code == status
    assert db.exec(select(func.count()).select_from(Assessment)).one() == 1
    for path in (
        f"/assessments/{other.id}",
        f"/assessments/{other.id}/results",
        f"/assessments/{other.id}/invitations",
        f"/organizations/{cast.org_b.id}/plan",
    ):
        assert client.get(path).status_code == 404
    funder = client.__class__(client.app)
    login(funder, cast.funder_q.email)
    assert funder.get(f"/assessments/{other.id}/results").status_code == 403


def test_instrument_edits_never_change_a_started_assessment(db, tmp_path):
    cast = make_cast(db)
    for name in ("quick-check.yaml", "quick-check.es.yaml"):  # the instrument and its Spanish
        shutil.copy(INSTRUMENTS_DIR / name, tmp_path / name)
    assessment = assessments.create_assessment(
        db,
        user=cast.lead_a,
        organization_id=cast.org_a.id,
        name="Q",
        instrument_id="quick_check",
        instruments_dir=tmp_path,
    )
    db.commit()
    before = instruments_store.instrument_for(db, assessment)
    path = tmp_path / "quick-check.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("title: ", "title: EDITED ", 1), encoding="utf-8"
    )
    instruments_store.clear_cache()
    after = instruments_store.instrument_for(db, assessment)
    assert after.title == before.title and "EDITED" not in str(after.title)
    newer = assessments.create_assessment(
        db,
        user=cast.lead_a,
        organization_id=cast.org_a.id,
        name="Q2",
        instrument_id="quick_check",
        instruments_dir=tmp_path,
    )
    assert newer.instrument_version_id != assessment.instrument_version_id
    assert "EDITED" in str(instruments_store.instrument_for(db, newer).title)


_GROUPS = ["leadership"] * 3 + ["clinical"] * 4 + ["peer_staff"] * 2


def page_label(group) -> str:
    """How the results page names a group row (pooled rows say that small groups are combined)."""
    if group.group == "pooled" and group.pooled_groups:
        return f"{group.label} (small groups combined)"
    return group.label


def _populate(db, cast, assessment):
    instrument = instruments_store.instrument_for(db, assessment)
    for index, group in enumerate(_GROUPS):
        answers = full_answers(instrument, group, value=str(1 + index % 5))
        if group == "peer_staff":
            answers["purpose_leaders_support"] = "dk"
        fill(
            db,
            assessment=assessment,
            group=group,
            answers=answers,
            user=cast.lead_a,
            comments={"purpose": f"Comment {index} from {group}"},
            submit=True,
        )
    # in progress with one answer counts; opened with none does not
    fill(
        db,
        assessment=assessment,
        group="clinical",
        answers={"pps_status": "employ"},
        user=cast.lead_a,
        comments={"purpose": "Draft comment in progress"},
    )
    fill(db, assessment=assessment, group="clinical", answers={}, user=cast.lead_a)
    return instrument


def test_results_show_the_rules_module_numbers_and_unattributed_comments(client, db):
    cast = make_cast(db)
    assessment = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id)
    instrument = _populate(db, cast, assessment)
    counted = scores.counted_responses(db, assessment_id=assessment.id, instrument=instrument)
    assert counted.submitted == 9
    expected = score_responses(
        instrument,
        [
            ResponseInput(respondent_id=r.respondent_id, group=r.group, answers=r.answers)
            for r in counted.inputs
        ],
        privacy_threshold=3,
    )
    stored = scores.stored_scorecard(db, assessment_id=assessment.id)[0]
    assert stored == expected
    # Results are released at close (docs/privacy.md): the page shows the release.
    assessments.set_status(
        db, user=cast.lead_a, assessment=assessment, status=AssessmentStatus.closed, privacy_threshold=3
    )
    db.commit()
    rows = {
        r.domain_id: r for r in db.exec(select(DomainScore).where(DomainScore.assessment_id == assessment.id))
    }
    assert {d: rows[d].score for d in rows} == {d.domain_id: d.score for d in expected.domains}

    login(client, cast.lead_a.email)
    response = client.get(f"/assessments/{assessment.id}/results")
    assert response.status_code == 200
    page = parse(response)
    assert page.heading() == f"Results: {assessment.name}"
    assert page.text("#respondent-count").endswith("from 9 submitted responses.")
    page.assert_not_shown("Draft comment in progress")
    # the table and the chart give the stored scorecard's numbers, condition by condition
    rows = page.records("#scores-table")
    assert [r["Condition"] for r in rows] == [d.title for d in expected.domains]
    bars = page.select("figure.chart .chart-row")
    assert len(bars) == len(expected.domains)
    for domain, row, bar in zip(expected.domains, rows, bars, strict=True):
        assert page.text("h2", within=page.one(f"#domain-{domain.domain_id}")) == domain.title
        assert row["n"] == str(domain.n)
        if domain.score is None:
            assert not bar.cssselect("rect.bar-fill")
            continue
        assert row["Score (0–100)"] == format_score(domain.score), (domain.domain_id, row)
        assert row["Readiness level"] == domain.level_label
        fill_width = page.one("rect.bar-fill", within=bar).get("width")
        assert shows_number(fill_width, domain.score), (domain.domain_id, fill_width)
        assert shows_number(page.one(".chart-value", within=bar).text_content(), domain.score)
    # by group: exactly the scorecard's rows; groups below the threshold are never shown alone
    assert sorted(stored.suppressed_groups) == ["leadership", "peer_staff"]
    for domain in expected.domains:
        section = page.one(f"#domain-{domain.domain_id}")
        group_rows = [
            page.texts("th, td", within=tr) for tr in section.cssselect("table.group-table tbody tr")
        ]
        assert [r[:2] for r in group_rows] == [[page_label(g), str(g.n)] for g in domain.groups]
        labels = " ".join(r[0] for r in group_rows)
        assert "Peer staff" not in labels and "Leadership" not in labels
    # comments: shown, never with a name; a group is named only with enough people. Clinical
    # (5 counted) is named; peer staff (2) is pooled, and leadership (3) joins the pool so the
    # small group cannot be worked out by subtraction; neither is named.
    comments = {
        page.text("blockquote", within=li): page.texts(".muted", within=li)
        for li in page.select("#domain-purpose ul.comments > li")
    }
    assert set(comments) == {f"Comment {n} from {g}" for n, g in enumerate(_GROUPS)}
    for text, attribution in comments.items():
        assert attribution == (["— Clinical staff"] if "clinical" in text else []), text
    page.assert_not_shown(cast.lead_a.email, css="main")  # only the sign-out button names the user
    actions = page.texts("ol.actions-list > li > strong")
    assert actions == [a.title for a in expected.actions]
    if not expected.actions:
        assert "No actions are recommended from these answers." in page.text("main")


def test_plan_proposes_actions_once_keeps_edits_and_audits_them(client, db):
    cast = make_cast(db)
    baseline = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id)
    submit_all(
        db, user=cast.lead_a, assessment=baseline, groups=["leadership"] * 3 + ["clinical"] * 3, value="1"
    )
    csrf = login(client, cast.lead_a.email)
    # While the cycle is open the plan does not follow its results (none are released), and says why.
    waiting = parse(client.get(f"/organizations/{cast.org_a.id}/plan"))
    assert not waiting.has("article.plan-item") and db.exec(select(PlanItem)).all() == []
    assert "“Baseline, spring 2027” is still open." in waiting.text("#open-cycle-note")
    close_cycle(db, user=cast.lead_a, assessment=baseline)  # releases: the plan proposes from it
    page = client.get(f"/organizations/{cast.org_a.id}/plan")
    assert page.status_code == 200
    items = db.exec(select(PlanItem)).all()
    assert items and all(i.status == PlanStatus.proposed for i in items)
    shown = parse(page)
    assert sorted(shown.texts("article.plan-item h3")) == sorted(i.title for i in items)
    for item in items:
        assert shown.texts(f"#item-{item.id} .badge") == ["Proposed"], item.title
    client.get(f"/organizations/{cast.org_a.id}/plan")
    assert db.exec(select(func.count()).select_from(PlanItem)).one() == len(items)

    first, second = items[0], items[1]
    due = utcnow().date() + timedelta(days=90)
    accepted = client.post(
        f"/organizations/{cast.org_a.id}/plan/items/{first.id}/status",
        data={"csrf_token": csrf, "status": "accepted"},
        follow_redirects=False,
    )
    assert accepted.status_code == 303
    edited = client.post(
        f"/organizations/{cast.org_a.id}/plan/items/{first.id}",
        data={
            "csrf_token": csrf,
            "status": "in_progress",
            "owner": "Program manager",
            "due_date": due.isoformat(),
            "notes": "Draft by June.",
        },
        follow_redirects=False,
    )
    assert edited.status_code == 303
    assert edited.headers["location"].endswith(f"?done=saved&item={first.id}#item-{first.id}")
    saved = parse(client.get(edited.headers["location"]))
    # "Saved." sits on the item the page scrolls to, not at the top of the page.
    assert saved.text(f"#item-{first.id} #item-flash") == "Saved."
    assert not saved.has("main > .notice-ok")
    assert saved.one("a[href$='/report.pdf']").get("href") == f"/assessments/{baseline.id}/report.pdf"
    dismiss = saved.one(f"#item-{second.id} form:has(input[name=status][value=dismissed])")
    assert dismiss.get("data-confirm").startswith(f"Dismiss “{second.title}”?")
    client.post(
        f"/organizations/{cast.org_a.id}/plan/items/{second.id}/status",
        data={"csrf_token": csrf, "status": "dismissed"},
    )
    custom = client.post(
        f"/organizations/{cast.org_a.id}/plan/items",
        data={
            "csrf_token": csrf,
            "title": "Invite a parent peer to the board",
            "domain_id": "valuing",
            "owner": "Director",
        },
        follow_redirects=False,
    )
    assert custom.status_code == 303
    assert (
        client.post(
            f"/organizations/{cast.org_a.id}/plan/items/{first.id}",
            data={"csrf_token": csrf, "status": "finished"},
        ).status_code
        == 400
    )
    assert (
        client.post(
            f"/organizations/{cast.org_a.id}/plan/items/{first.id}",
            data={"csrf_token": csrf, "status": "done", "due_date": "tomorrow"},
        ).status_code
        == 400
    )
    # A due date in the past is a typing slip: refused with a clear message, nothing saved.
    typo = client.post(
        f"/organizations/{cast.org_a.id}/plan/items/{first.id}",
        data={"csrf_token": csrf, "status": "done", "due_date": "2001-01-01"},
    )
    assert typo.status_code == 400 and "2001-01-01 is in the past" in parse(typo).text("main")
    db.expire_all()
    first = db.get(PlanItem, first.id)
    assert (first.status, first.owner, str(first.due_date), first.notes) == (
        PlanStatus.in_progress,
        "Program manager",
        due.isoformat(),
        "Draft by June.",
    )
    assert db.get(PlanItem, second.id).status == PlanStatus.dismissed
    actions = [e.action for e in db.exec(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions.count("plan.update") == 3 and "plan.add" in actions and "plan.propose" in actions

    # a follow-up cycle with better answers: the plan keeps its edits and shows what changed
    follow_up = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id, name="Follow-up")
    assert follow_up.previous_assessment_id == baseline.id
    submit_all(
        db, user=cast.lead_a, assessment=follow_up, groups=["leadership"] * 3 + ["clinical"] * 3, value="5"
    )
    # Still open: the plan follows the closed baseline and names the cycle it will follow.
    page = parse(client.get(f"/organizations/{cast.org_a.id}/plan"))
    assert not page.has("#changes-h") and "“Follow-up” is still open." in page.text("#open-cycle-note")
    close_cycle(db, user=cast.lead_a, assessment=follow_up)
    page = parse(client.get(f"/organizations/{cast.org_a.id}/plan"))
    assert not page.has("#open-cycle-note")
    assert page.text("#changes-h") == "What changed since “Baseline, spring 2027”"
    # The change is between the two releases (what the results pages show).
    now = releases.released_scorecard(db, assessment_id=follow_up.id)[0]
    before = {d.domain_id: d for d in releases.released_scorecard(db, assessment_id=baseline.id)[0].domains}
    changes = page.records("section[aria-labelledby=changes-h] table")
    assert [c["Condition"] for c in changes] == [d.title for d in now.domains]
    for domain, change in zip(now.domains, changes, strict=True):
        then = before[domain.domain_id].score
        assert shows_number(change["Before"], then) and shows_number(change["Now"], domain.score)
        assert domain.score > then and change["Change"].startswith("+"), change  # every answer 1 → 5
        assert shows_number(change["Change"], round(domain.score - then, 1)), change
    db.expire_all()
    first = db.get(PlanItem, first.id)
    assert first.status == PlanStatus.in_progress and first.owner == "Program manager"
    assert page.texts(f"#item-{first.id} .badge") == ["In progress"]
    assert page.form(f"#item-{first.id} form.plan-form").fields["owner"] == "Program manager"
    (own,) = page.select("article.plan-item:has(h3:contains('Invite a parent peer to the board'))")
    assert page.texts("p", within=own)[0] == f"Accepted · {now.domain('valuing').title} · your own action"
    action_ids = [i.action_id for i in db.exec(select(PlanItem)) if i.action_id]
    assert len(action_ids) == len(set(action_ids))


def test_plan_follows_a_cycle_whose_close_date_passed_and_not_a_reopened_one(client, db):
    """A cycle past its close date takes no answers: it is closed (released when first read), so
    the plan follows it and names no open cycle. A cycle opened again is not closed: the plan
    goes back to the closed cycle before it and names the reopened one as still open."""
    cast = make_cast(db)
    baseline = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id)
    submit_all(db, user=cast.lead_a, assessment=baseline, groups=["leadership"] * 3, value="2")
    baseline.close_date = utcnow().date() - timedelta(days=1)  # passed; nobody pressed "Close"
    db.add(baseline)
    db.commit()
    login(client, cast.lead_a.email)
    page = parse(client.get(f"/organizations/{cast.org_a.id}/plan"))
    assert page.has("article.plan-item") and not page.has("#open-cycle-note")
    assert releases.latest_release(db, assessment_id=baseline.id) is not None

    follow_up = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id, name="Follow-up")
    submit_all(db, user=cast.lead_a, assessment=follow_up, groups=["leadership"] * 3, value="4")
    close_cycle(db, user=cast.lead_a, assessment=follow_up)
    page = parse(client.get(f"/organizations/{cast.org_a.id}/plan"))
    assert page.has("#changes-h") and not page.has("#open-cycle-note")
    assessments.set_status(
        db, user=cast.lead_a, assessment=follow_up, status=AssessmentStatus.open, privacy_threshold=3
    )
    db.commit()
    page = parse(client.get(f"/organizations/{cast.org_a.id}/plan"))
    assert not page.has("#changes-h") and "“Follow-up” is still open." in page.text("#open-cycle-note")
