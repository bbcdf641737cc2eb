"""`peerready agreement`, `peerready psychometrics` and `peerready export responses`, run through
click's runner against the test database: the figures match the statistics module, and the
research file, re-scored by `peerready score`, gives the results page's condition scores."""

from __future__ import annotations

import csv
import io
import json

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select

from app.db.models import Assessment, AuditEvent
from app.scoring.agreement import agreement, condition_answers
from app.scoring.csv_responses import NOT_ASKED
from app.services.report_samples import snapshot_instrument
from app.services.scores import counted_responses
from tests.helpers.cycles import results_page_scores, run, store_cycle


def make_cycle(db: Session, name: str, count: int, seed: int, *, sharing: bool = True) -> Assessment:
    return store_cycle(db, name=name, count=count, seed=seed, lean=0.55, sharing=sharing)[1]


def test_agreement_json_matches_the_statistics_module(db, engine, tmp_path, monkeypatch):
    assessment = make_cycle(db, "Cedar Family Center", 14, seed=5)
    result = run(monkeypatch, engine, tmp_path / "data", "agreement", str(assessment.id), "--json")
    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["respondents"] == 14 and document["null"] == "uniform"

    _, instrument = snapshot_instrument(db)
    inputs = counted_responses(db, assessment_id=assessment.id, instrument=instrument).inputs
    for row in document["conditions"]:
        answers = condition_answers(instrument, inputs, row["condition"])
        expected = agreement(list(answers.answers), answers.items, answers.scale)
        assert row["raters"] == expected.n_respondents
        assert row["items"] == expected.n_items
        assert row["rwg_j"]["value"] == pytest.approx(expected.rwg_j.value, abs=1e-6)
        assert row["rwg_j"]["shown"] == f"{expected.rwg_j.value:.2f}"
        if expected.awg_j.value is None:
            assert row["awg_j"]["value"] is None and row["awg_j"]["reason"]
        else:
            assert row["awg_j"]["value"] == pytest.approx(expected.awg_j.value, abs=1e-6)
        assert row["rwg_j"]["reading"] and row["rwg_j"]["small_n"] is False

    text = run(monkeypatch, engine, tmp_path / "data", "agreement", str(assessment.id))
    assert text.code == 0, text.stderr
    header = text.stdout.splitlines()[3].split()
    assert header == ["Condition", "n", "Mean", "SD", "Raters", "Items", "rwg(j)", "awg(j)"]
    assert "rwg(j): Respondents" in text.stdout


def test_agreement_is_withheld_below_the_privacy_threshold(db, engine, tmp_path, monkeypatch):
    assessment = make_cycle(db, "Tiny Agency", 2, seed=1)
    result = run(monkeypatch, engine, tmp_path / "data", "agreement", str(assessment.id), "--json")
    assert result.code == 0, result.stderr
    for row in json.loads(result.stdout)["conditions"]:
        assert row["rwg_j"] == {
            **row["rwg_j"],
            "value": None,
            "reason": "below_privacy_threshold",
            "shown": "–",
        }
        assert row["mean"] is None
    missing = run(monkeypatch, engine, tmp_path / "data", "agreement", "999999")
    assert missing.code == 1 and "No such assessment" in missing.stderr


def test_psychometrics_pools_the_version_and_withholds_below_the_minimum(db, engine, tmp_path, monkeypatch):
    make_cycle(db, "Cedar Family Center", 14, seed=5)
    make_cycle(db, "Dogwood Clinic", 12, seed=6)
    result = run(
        monkeypatch, engine, tmp_path / "data", "psychometrics", "readiness_full", "--json", "--min-n", "5"
    )
    assert result.code == 0, result.stderr
    (version,) = json.loads(result.stdout)
    assert version["assessments"] == 2 and version["respondents"] == 26
    shown = [c for c in version["conditions"] if c["alpha"]["value"] is not None]
    assert shown, version
    for condition in shown:
        assert condition["ci_low"] < condition["alpha"]["value"] < condition["ci_high"]
        assert condition["n_complete"] >= 5

    default = run(monkeypatch, engine, tmp_path / "data", "psychometrics", "readiness_full", "--json")
    (version,) = json.loads(default.stdout)
    reasons = {c["condition"]: c["alpha"]["reason"] for c in version["conditions"]}
    # Alpha uses the items every group is asked; integration has only one such item.
    assert reasons == {
        "purpose": "below_minimum_n",
        "integration": "too_few_items",
        "stigma": "below_minimum_n",
        "valuing": "below_minimum_n",
    }
    assert all(c["alpha"]["value"] is None for c in version["conditions"])

    unknown = run(monkeypatch, engine, tmp_path / "data", "psychometrics", "no-such-instrument")
    assert unknown.code == 1 and "No assessment has used instrument" in unknown.stderr


def test_research_file_rescored_gives_the_results_page_scores(app, db, engine, tmp_path, monkeypatch):
    assessment = make_cycle(db, "Cedar Family Center", 17, seed=9)
    out = tmp_path / "out" / "cedar.csv"
    result = run(
        monkeypatch, engine, tmp_path / "data", "export", "responses", str(assessment.id), "--out", str(out)
    )
    assert result.code == 0, result.stderr
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    _, instrument = snapshot_instrument(db)
    assert rows[0] == ["respondent", *(i.id for i in instrument.items)]
    assert [r[0] for r in rows[1:]] == [f"R{n:03d}" for n in range(1, 18)]
    assert "group" not in rows[0]
    cells = {c for r in rows[1:] for c in r[1:]}
    allowed = {o.value for s in instrument.scales for o in s.options} | {"", NOT_ASKED}
    assert cells <= allowed  # raw option values only: no comment, date, id or token
    assert NOT_ASKED in cells  # group-targeted items are marked, so visibility is re-created

    codebook = list(
        csv.DictReader(io.StringIO(out.with_name("cedar-codebook.csv").read_text(encoding="utf-8")))
    )
    reversed_items = {r["variable"] for r in codebook if r["reverse"] == "yes"}
    assert reversed_items == {i.id for i in instrument.items if i.reverse} != set()
    assert {r["condition"] for r in codebook if r["condition"]} == {d.id for d in instrument.domains}

    rescored = run(
        monkeypatch, engine, tmp_path / "data", "score", "--instrument", "readiness_full", str(out), "--json"
    )
    assert rescored.code == 0, rescored.stderr
    card = json.loads(rescored.stdout)
    assert card["n_respondents"] == 17
    from app.scoring.numbers import format_score

    page = results_page_scores(app, db, assessment)
    assert {d["title"]: format_score(d["score"]) for d in card["domains"]} == page
    assert len(page) == 4 and all(v != "–" for v in page.values())

    events = db.exec(select(AuditEvent).where(AuditEvent.action == "research.export")).all()
    assert [(e.actor, e.target) for e in events] == [("command line", f"assessment:{assessment.id}")]


def test_research_workbook_and_refusals(db, engine, tmp_path, monkeypatch):
    assessment = make_cycle(db, "Cedar Family Center", 6, seed=2)
    out = tmp_path / "cedar.xlsx"
    result = run(
        monkeypatch,
        engine,
        tmp_path / "data",
        "export",
        "responses",
        str(assessment.id),
        "--out",
        str(out),
        "--format",
        "xlsx",
    )
    assert result.code == 0, result.stderr
    book = load_workbook(out)
    assert book.sheetnames == ["responses", "codebook", "notes"]
    header = [c.value for c in book["responses"][1]]
    assert header[0] == "respondent" and "group" not in header
    assert book["responses"].max_row == 7
    notes = {r[0].value: r[1].value for r in book["notes"].iter_rows(min_row=2)}
    assert notes["instrument"] == "readiness_full" and notes["respondents"] == "6"

    tiny = make_cycle(db, "Tiny Agency", 2, seed=1)
    refused = run(
        monkeypatch, engine, tmp_path / "data", "export", "responses", str(tiny.id), "--out", str(out)
    )
    assert refused.code == 1 and "needs at least 3" in refused.stderr
