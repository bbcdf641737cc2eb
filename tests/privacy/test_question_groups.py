"""Attack: complementary groups and differencing through the lead's question-by-question
download (CSV), which has rows per item per respondent group (docs/privacy.md, "Downloads").

An agency of 3 leaders, 5 clinicians and 3 peer specialists: every group is shown on its own in
the condition results. On one question two of the peer specialists answer "Don't know", so only
one peer specialist has a scored answer there. Showing the leaders' and clinicians' rows for that
question would give the lone peer specialist's answer (whole agency minus the two rows), and
"Don't know" 2 of 3 peer specialists. The lead takes, for every item, the whole-agency row minus
every group row that shows figures (means x n, "Don't know" counts, answer counts) and must never
be left with fewer than k people."""

from __future__ import annotations

import csv
import io

from tests.privacy.world import make_agency
from tests.web.journey import fill, full_answers

K = 3
TARGET = "qc_leaders_support"


def _num(row: dict[str, str], column: str) -> int:
    return int(row[column] or 0)


def test_group_rows_cannot_be_subtracted_to_isolate_anyone(db, app):
    agency = make_agency(db, app)
    for group, values in (("leadership", "245"), ("clinical", "34251"), ("peer_staff", "2")):
        for value in values:
            agency.answer(group, value)
    for value in ("dk", "dk"):
        answers = full_answers(agency.instrument, "peer_staff", value="3") | {TARGET: value}
        fill(
            db,
            assessment=agency.assessment,
            group="peer_staff",
            answers=answers,
            submit=True,
            user=agency.cast.lead_a,
        )
    agency.set_status("closed")
    lead, _ = agency.client(agency.cast.lead_a)
    got = lead.get(f"/assessments/{agency.assessment.id}/questions.csv")
    assert got.status_code == 200, got.text[:300]
    rows = list(csv.DictReader(io.StringIO(got.content.decode("utf-8-sig"))))
    answer_columns = [c for c in rows[0] if c.startswith("answer_")]

    by_item: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_item.setdefault(row["item"], []).append(row)
    shown_groups = set()
    for item, item_rows in by_item.items():
        site, groups = item_rows[0], item_rows[1:]
        assert site["group"] == "all"
        with_figures = [g for g in groups if g["shown_to"]]
        for row in groups:
            if not row["shown_to"]:  # a suppressed cell: marked, and no figure at all
                assert row["withheld"].startswith("Not shown") and not any(
                    row[c] for c in ("answered", "n_scored", "mean_0_100", "dont_know", *answer_columns)
                ), row
        for row in with_figures:
            assert _num(row, "n_scored") >= K, row
        alone = [g for g in with_figures if not g["group"].startswith("combined:")]
        shown_groups.update(g["group"] for g in alone)
        if not alone:
            continue
        # Whole agency minus the groups shown on their own: nobody, or at least k scored answers
        # (then the combined row shows those people anyway).
        rest_saw = _num(site, "shown_to") - sum(_num(g, "shown_to") for g in alone)
        rest_scored = _num(site, "n_scored") - sum(_num(g, "n_scored") for g in alone)
        assert rest_saw == 0 or rest_scored >= K, (item, rest_saw, rest_scored)
        if site["dont_know"] and all(g["dont_know"] for g in alone):
            assert rest_saw == 0 or rest_saw >= K, item
        with_spread = [g for g in alone if g[answer_columns[0]]]
        if site[answer_columns[0]] and with_spread:
            rest = _num(site, "answered") - sum(_num(g, "answered") for g in with_spread)
            assert rest == 0 or rest >= 5, item
    # The question with the lone scored peer answer: the smallest other group (the leaders) is
    # combined with the peer specialists; elsewhere every group shows.
    target = {r["group"]: r for r in by_item[TARGET]}
    assert target["clinical"]["mean_0_100"] and not target["peer_staff"]["mean_0_100"]
    assert not target["leadership"]["mean_0_100"]
    assert target["combined:leadership+peer_staff"]["n_scored"] == "4"
    assert target["combined:leadership+peer_staff"]["dont_know"] == "2"
    assert {"leadership", "clinical", "peer_staff"} <= shown_groups
