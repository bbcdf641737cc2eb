"""Each inference attack of issue 11 (docs/privacy.md, "Attacks PeerReady defends against"),
played through the real routes as the role that would try it, on SQLite and PostgreSQL. Each
test shows that the value the attacker wants is no longer determined, or that the figures it
needs are not shown."""

from __future__ import annotations

from sqlmodel import select

from app.db.models import ImportBatch, Release
from tests.helpers.html import parse
from tests.privacy.world import condition_rows, make_agency

GROUP_LABELS = {"leadership": "Leadership", "clinical": "Clinical staff", "peer_staff": "Peer staff"}


def _shown_numbers(page) -> list[str]:
    """Every score-like figure on the page's main part (one decimal), the instrument's version
    number in the lead line left aside."""
    import re

    doc = parse(page)
    text = doc.text("main").replace(doc.text("main p.lead"), "")
    return re.findall(r"\b\d{1,3}\.\d\b", text)


def test_live_results_differencing_by_the_lead(db, app):
    """Attack 1: watch n go from 3 to 4 while the cycle is open; 4 x new - 3 x old = the fourth."""
    agency = make_agency(db, app)
    for value in ("2", "3", "4"):
        agency.answer("clinical", value)
    before = agency.results()
    agency.answer("clinical", "5")  # the fourth person, whose scores the lead wants
    after = agency.results()
    for page in (before, after):
        doc = parse(page)
        assert "Results appear when the cycle closes." in doc.text("#progress-note")
        assert _shown_numbers(page) == []  # no score at all while open: nothing to difference
        assert not doc.has("#scores-table")
    # Only per-group counts, and the cycle page pairs no group with a submission time.
    lead, _ = agency.client(agency.cast.lead_a)
    cycle_page = parse(lead.get(f"/assessments/{agency.assessment.id}"))
    assert cycle_page.records("table:has(caption:contains('by respondent group'))")[1]["Submitted"] == "4"
    assert not cycle_page.has("table:has(caption:contains('Submitted responses'))")
    # At close, one release of all four together.
    agency.set_status("closed")
    released = condition_rows(agency.results())
    assert {r["n"] for r in released.values()} == {"4"}


def test_range_gives_away_three_respondents(db, app):
    """Attack 2: with n = 3, min and max are two people's scores and the mean gives the third."""
    agency = make_agency(db, app)
    for value in ("1", "3", "5"):
        agency.answer("clinical", value)
    agency.set_status("closed")
    page = agency.results()
    doc = parse(page)
    assert "range" not in doc.text("main").lower()
    for section in doc.select("section.domain-result"):
        text = doc.text(within=section)
        assert "–" not in text.split("n = 3")[-1].split("agreement")[0]  # no "lowest–highest"
    release = db.exec(select(Release)).one()
    assert all(d["min"] is None and d["max"] is None for d in release.scorecard["domains"])
    # The SD is on the site row only; the group row shows n and a mean, never a spread.
    for row in (r for d in release.scorecard["domains"] for r in d["groups"]):
        assert set(row) >= {"n", "score"} and "sd" not in row


def test_reopen_after_close_differencing_by_the_funder(db, app):
    """Attack 3: reopen one response in a closed cycle and watch the funder's n go from 5 to 4."""
    agency = make_agency(db, app)
    ids = [agency.answer("clinical", v) for v in ("2", "3", "4", "4", "5")]
    agency.set_status("closed")
    first = agency.funder_sites()
    assert first["latest"]["n_respondents"] == 5
    # A lead can no longer reopen one row; only the respondent's own link can change it.
    lead, csrf = agency.client(agency.cast.lead_a)
    refused = lead.post(
        f"/assessments/{agency.assessment.id}/responses/{ids[0]}/reopen",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert refused.status_code in (404, 405)
    # The lead reopens the WHOLE cycle; one respondent withdraws by reopening through their link.
    agency.set_status("open")
    assert agency.funder_sites() == first  # frozen while open
    from app.db.models import Response, ResponseStatus

    response = db.get(Response, ids[0])
    response.status = ResponseStatus.in_progress  # what POST /respond/{token}/change does
    db.add(response)
    db.commit()
    agency.set_status("closed")
    # One change is fewer than the threshold: the old release stays, for the funder and the lead.
    assert agency.funder_sites() == first
    page = parse(agency.results())
    assert "2 more" in page.text("#release-note")
    assert len(db.exec(select(Release)).all()) == 1


def test_padding_by_import_cannot_unlock_a_hidden_group(db, app):
    """Attack 4: 1 real peer specialist is hidden; a consultant imports 2 made-up peer rows."""
    agency = make_agency(db, app)
    for _ in range(3):
        agency.answer("clinical", "3")
    agency.answer("peer_staff", "1")  # the real person
    consultant, ccsrf = agency.client(agency.cast.consultant_a)
    base = f"/consultant/assessments/{agency.assessment.id}/import"
    paper = _csv(agency.instrument, ["peer_staff", "peer_staff"], "5")
    preview = consultant.post(
        f"{base}/preview", data={"csrf_token": ccsrf}, files={"file": ("paper.csv", paper, "text/csv")}
    )
    assert preview.status_code == 200, preview.text
    import_id = parse(preview).one("input[name=import_id]").get("value")
    saved = consultant.post(f"{base}/confirm", data={"csrf_token": ccsrf, "import_id": import_id})
    assert "waiting for approval" in parse(saved).text("#import-done")
    batch = db.exec(select(ImportBatch)).one()
    # The consultant cannot approve their own import; the lead sees counts per group and approves.
    url = f"/assessments/{agency.assessment.id}/imports/{batch.id}"
    assert consultant.post(url, data={"csrf_token": ccsrf, "decision": "approve"}).status_code == 403
    lead, csrf = agency.client(agency.cast.lead_a)
    cycle = parse(lead.get(f"/assessments/{agency.assessment.id}"))
    assert "Peer staff: 2" in cycle.text("#imports-table")

    def submitted_peer_staff() -> str:
        """The lead's count of submitted peer staff while the cycle is open."""
        progress = parse(lead.get(f"/assessments/{agency.assessment.id}/results")).records("#progress-table")
        return next(r["Submitted"] for r in progress if r["Group"] == "Peer staff")

    assert submitted_peer_staff() == "1"  # the import's 2 rows count only once it is approved
    approved = lead.post(url, data={"csrf_token": csrf, "decision": "approve"}, follow_redirects=False)
    assert approved.status_code == 303
    assert submitted_peer_staff() == "3"
    # ...and the open cycle's "At close" column follows the same rule as the release: the group
    # is not promised to be shown on its own, since its web part is 1 person (k = 3).
    page = parse(lead.get(f"/assessments/{agency.assessment.id}/results"))
    at_close = next(r["At close"] for r in page.records("#progress-table") if r["Group"] == "Peer staff")
    assert at_close == "combined with other groups or hidden unless 2 more people answer on the web form"
    assert "those alone must reach 3" in page.text("#web-rule")
    agency.set_status("closed")
    doc = parse(agency.results())
    for section in doc.select("section.domain-result"):
        labels = [tr.cssselect("th")[0].text_content() for tr in section.cssselect("table tbody tr")]
        assert not any(label.startswith("Peer staff") for label in labels)  # its web part is 1 person
    release = db.exec(select(Release)).one()
    assert release.n_imported == 2
    for domain in release.scorecard["domains"]:
        for row in domain["groups"]:
            if row["score"] is not None and "peer_staff" in row["pooled_groups"]:
                # pooled with others so that web answers alone reach the threshold in the row
                assert row["n"] - 2 >= 3
    # Imports into a closed cycle are refused (and nothing is saved).
    again = consultant.post(
        f"{base}/preview", data={"csrf_token": ccsrf}, files={"file": ("paper.csv", paper, "text/csv")}
    )
    assert again.status_code == 409
    # The report's method notes name the import.
    report = lead.get(f"/assessments/{agency.assessment.id}/report.pdf")
    assert report.status_code == 200


def test_complementary_groups_cannot_be_subtracted(db, app):
    """Site score minus the shown groups must never leave one small group (1 peer specialist)."""
    agency = make_agency(db, app)
    for group, n in (("leadership", 3), ("clinical", 4), ("peer_staff", 1)):
        for i in range(n):
            agency.answer(group, str(1 + (i % 5)))
    agency.set_status("closed")
    release = db.exec(select(Release)).one()
    for domain in release.scorecard["domains"]:
        alone = [g for g in domain["groups"] if g["group"] != "pooled" and g["score"] is not None]
        left_over = domain["n"] - sum(g["n"] for g in alone)
        assert left_over == 0 or left_over >= 3, domain["domain_id"]
    page = parse(agency.results())
    assert "Peer staff" not in " ".join(page.texts("section.domain-result table th"))


def test_filters_and_exports_show_nothing_the_release_does_not(db, app):
    """A funder filtering or exporting sees the same released site figures, nothing finer."""
    agency = make_agency(db, app)
    for value in ("2", "3", "4"):
        agency.answer("clinical", value)
    assert agency.funder_sites()["latest"] is None  # open: nothing released
    agency.set_status("closed")
    plain = agency.funder_sites()
    assert agency.funder_sites(region="North") == plain
    funder, _ = agency.client(agency.cast.funder_p)
    csv_text = funder.get(f"/portfolio/{agency.cast.portfolio_p.id}/export.csv").text
    for score in plain["scores"]:
        if score["score"] is not None:
            assert f"{score['score']:.1f}" in csv_text
    assert "Clinical" not in csv_text  # no group rows for funders
    # A respondent answering after close changes nothing a funder sees.
    agency.set_status("open")
    agency.answer("clinical", "5")
    assert agency.funder_sites() == plain


def test_comparing_releases_over_time_cannot_isolate_a_newcomer(db, app):
    """Release 1 has 3 clinical staff; after a reopen, 1 clinical newcomer and 2 changed leaders
    make 3 changes, enough to re-release; but clinical (old 3 vs new 4) would give the newcomer
    away, so the audit withholds those rows and shows the site row only."""
    agency = make_agency(db, app)
    leaders = [agency.answer("leadership", "2") for _ in range(3)]
    for _ in range(3):
        agency.answer("clinical", "3")
    agency.set_status("closed")
    agency.set_status("open")
    from app.db.models import Answer

    for response_id in leaders[:2]:  # two leaders change their answers through their links
        for answer in db.exec(select(Answer).where(Answer.response_id == response_id)):
            if answer.value == "2":
                answer.value = "4"
                db.add(answer)
    db.commit()
    agency.answer("clinical", "5")  # the newcomer
    agency.set_status("closed")
    releases = db.exec(select(Release).order_by(Release.number)).all()
    assert [r.number for r in releases] == [1, 2]
    second = releases[1].scorecard
    for domain in second["domains"]:
        assert domain["score"] is not None and domain["n"] == 7
        clinical = [g for g in domain["groups"] if g["group"] == "clinical"]
        assert all(g["score"] is None for g in clinical), domain["domain_id"]
    # And the audit's own check: nobody is solvable from all released cells together.
    from app.disclosure.audit import solvable_members
    from app.disclosure.release import cells_from_json

    cells = [c for r in releases for c in cells_from_json(r.cells)]
    for attribute in {c.attribute for c in cells}:
        assert solvable_members(c.members for c in cells if c.attribute == attribute) == set()


def test_comments_follow_the_release(db, app):
    """A comment from a hidden group is not shown; a comment written after release waits."""
    agency = make_agency(db, app)
    for _ in range(3):
        agency.answer("clinical", "3", comment="Clinical view")
    agency.answer("peer_staff", "2", comment="Only peer comment")
    agency.set_status("closed")
    page = parse(agency.results())
    comments = page.texts("#domain-purpose ul.comments blockquote")
    assert "Clinical view" in comments
    # The peer specialist's row is pooled with clinical (4 people, shown), so the comment may
    # show, but never with their group's name.
    assert "Peer staff" not in " ".join(page.texts("#domain-purpose ul.comments .muted"))


def test_a_copied_link_holder_sees_only_that_response(db, app):
    """Someone holding a copied personal link reaches that one response and no results."""
    agency = make_agency(db, app)
    for _ in range(3):
        agency.answer("clinical", "3")
    agency.set_status("closed")
    from fastapi.testclient import TestClient

    stranger = TestClient(app, base_url="http://testserver")
    results = stranger.get(f"/assessments/{agency.assessment.id}/results", follow_redirects=False)
    assert results.status_code == 303 and "/login" in results.headers["location"]


def _csv(instrument, groups: list[str], value: str) -> str:
    from tests.web.journey import full_answers

    items = [i.id for i in instrument.items]
    lines = ["respondent,group," + ",".join(items)]
    for n, group in enumerate(groups):
        answers = full_answers(instrument, group, value=value)
        lines.append(f"paper-{n},{group}," + ",".join(answers.get(i, "") for i in items))
    return "\n".join(lines) + "\n"
