"""A cycle's answers out to FHIR and in from REDCap: the QuestionnaireResponses of `peerready
export fhir --responses` validate, point at the exported Questionnaire's linkIds and codes, and
re-score to the results page's condition scores; they are refused when research sharing is off or
the cycle is below the privacy threshold."""

from __future__ import annotations

import json

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from sqlmodel import select

from app.db.models import AuditEvent
from app.instruments.interop import (
    GROUP_FIELD,
    fhir_questionnaire,
    questionnaire_canonical,
    responses_from_fhir_bundle,
)
from app.scoring.numbers import format_score
from app.scoring.rules import score_responses
from tests.helpers.cycles import results_page_scores, run, store_cycle


def _walk(items):
    for item in items:
        yield item
        yield from _walk(item.get("item", []))


def test_fhir_responses_validate_map_and_rescore(app, db, engine, tmp_path, monkeypatch):
    _, assessment, instrument = store_cycle(db, name="Cedar Family Center", count=13, seed=9, sharing=True)
    out = tmp_path / "cedar.bundle.json"
    data = tmp_path / "data"
    result = run(
        monkeypatch, engine, data, "export", "fhir", "readiness_full", "--responses", str(assessment.id),
        "--out", str(out),
    )  # fmt: skip
    assert result.code == 0, result.stderr
    bundle = json.loads(out.read_text(encoding="utf-8"))
    Bundle.model_validate(bundle)
    assert bundle["type"] == "collection" and len(bundle["entry"]) == 13

    questionnaire = fhir_questionnaire(instrument)
    codes = {
        q["linkId"]: {
            (o["valueCoding"]["system"], o["valueCoding"]["code"]) for o in q.get("answerOption", [])
        }
        for q in _walk(questionnaire["item"])
    }
    for entry in bundle["entry"]:
        resource = entry["resource"]
        QuestionnaireResponse.model_validate(resource)
        assert resource["questionnaire"] == questionnaire_canonical(instrument)
        assert resource["questionnaire"] == f"{questionnaire['url']}|{questionnaire['version']}"
        # de-identified: no dates, people, source or group
        assert not {"authored", "author", "subject", "source", "identifier"} & set(resource)
        for item in _walk(resource.get("item", [])):
            assert item["linkId"] in codes and item["linkId"] != GROUP_FIELD
            for answer in item.get("answer", []):
                coding = answer["valueCoding"]
                assert (coding["system"], coding["code"]) in codes[item["linkId"]]
    assert sorted(e["resource"]["id"] for e in bundle["entry"]) == [f"R{n:03d}" for n in range(1, 14)]

    rescored = score_responses(
        instrument, responses_from_fhir_bundle(instrument, bundle), privacy_threshold=3
    )
    page = results_page_scores(app, db, assessment)
    assert {d.title: format_score(d.score) for d in rescored.domains} == page
    assert len(page) == 4 and all(v != "–" for v in page.values())
    events = db.exec(select(AuditEvent).where(AuditEvent.action == "research.export")).all()
    assert [(e.actor, e.detail["format"]) for e in events] == [("command line", "fhir")]

    # The same switch and the same minimum as the research file; nothing written when refused.
    _, closed, _ = store_cycle(db, name="Dogwood Clinic", count=4, seed=2, sharing=False)
    _, tiny, _ = store_cycle(db, name="Tiny Agency", count=2, seed=1, sharing=True)
    refused = tmp_path / "refused.json"
    off = run(
        monkeypatch, engine, data, "export", "fhir", "readiness_full", "--responses", str(closed.id),
        "--out", str(refused),
    )  # fmt: skip
    assert off.code == 1 and "Research sharing is off for Dogwood Clinic" in off.stderr
    small = run(
        monkeypatch, engine, data, "export", "fhir", "readiness_full", "--responses", str(tiny.id),
        "--out", str(refused),
    )  # fmt: skip
    assert small.code == 1 and "needs at least 3" in small.stderr
    other = run(monkeypatch, engine, data, "export", "fhir", "quick_check", "--responses", str(assessment.id))
    assert other.code == 1 and "uses instrument readiness_full, not quick_check" in other.stderr
    assert not refused.exists()
    assert len(db.exec(select(AuditEvent).where(AuditEvent.action == "research.export")).all()) == 1
