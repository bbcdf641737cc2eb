"""A cycle's answers out to FHIR and in from REDCap: the QuestionnaireResponses of `peerready
export fhir --responses` validate, point at the exported Questionnaire's linkIds and codes, and
re-score to the results page's condition scores; they are refused when research sharing is off or
the cycle is below the privacy threshold."""

from __future__ import annotations

import csv
import io
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


def _redcap_export(dictionary: bytes, form: str, inputs, *, labels: bool = False) -> str:
    """A data export as REDCap writes it for a project built from `dictionary` ("CSV raw", or
    "labels"): record_id, the dictionary's fields in order, then FORM_complete (2 = Complete)."""
    rows = list(csv.reader(io.StringIO(dictionary.decode("utf-8"))))
    fields = [r[0] for r in rows[1:]]
    choices = {
        r[0]: dict(part.split(", ", 1) for part in r[5].split(" | ")) for r in rows[1:] if r[3] == "radio"
    }
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*fields, f"{form}_complete"])
    for number, response in enumerate(inputs, start=1):
        values = {"record_id": str(number), "respondent_group": response.group, **response.answers}
        cells = []
        for field in fields[1:]:
            code = values.get(field, "")
            assert code == "" or code in choices[field], (field, code)  # the dictionary has every code
            cells.append(choices[field][code] if labels and code else code)
        writer.writerow([str(number), *cells, "Complete" if labels else "2"])
    return out.getvalue()


def test_redcap_round_trip_gives_the_same_scores(db, engine, tmp_path, monkeypatch):
    from app.db.models import ImportBatch, Role
    from app.services.imports import decide_import
    from app.services.report_samples import snapshot_instrument, store_assessment
    from app.services.scores import counted_responses, scorecard_or_refresh
    from tests.helpers.auth import make_user

    organization, original, instrument = store_cycle(db, name="Cedar Family Center", count=12, seed=4)
    data = tmp_path / "data"
    dictionary = tmp_path / "dictionary.csv"
    assert (
        run(monkeypatch, engine, data, "export", "redcap", "readiness_full", "--out", str(dictionary)).code
        == 0
    )
    inputs = counted_responses(db, assessment_id=original.id, instrument=instrument).inputs
    export = tmp_path / "CedarFamilyCenter_DATA_2027-05-31.csv"
    export.write_text(_redcap_export(dictionary.read_bytes(), instrument.id, inputs), encoding="utf-8")

    version, _ = snapshot_instrument(db)
    fresh = store_assessment(
        db, organization=organization, version=version, instrument=instrument, name="Follow-up",
        respondents=[], previous=original,
    )  # fmt: skip
    db.commit()
    # One record that does not fit: every problem as FILE:LINE: COLUMN: message, nothing saved.
    lines = export.read_text(encoding="utf-8").splitlines()
    cells = lines[3].split(",")
    cells[1], cells[-1] = "nobody", "0"
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([*lines[:3], ",".join(cells), *lines[4:]]) + "\n", encoding="utf-8")
    refused = run(
        monkeypatch, engine, data, "import-responses", str(fresh.id), str(bad), "--format", "redcap"
    )
    assert refused.code == 1 and "nothing was saved" in refused.stderr
    assert f"{bad}:4: readiness_full_complete: record '3' is not marked Complete (2)" in refused.stderr
    assert db.exec(select(ImportBatch).where(ImportBatch.assessment_id == fresh.id)).all() == []

    done = run(monkeypatch, engine, data, "import-responses", str(fresh.id), str(export))  # format detected
    assert done.code == 0, done.stderr
    assert "Saved 12 responses" in done.stdout
    batch = db.exec(select(ImportBatch).where(ImportBatch.assessment_id == fresh.id)).one()
    lead = make_user(db, role=Role.org_lead, organizations=[organization])
    decide_import(db, user=lead, assessment=fresh, batch_id=batch.id, approve=True, privacy_threshold=3)
    db.commit()

    before, _ = scorecard_or_refresh(db, assessment=original, privacy_threshold=3)
    after, _ = scorecard_or_refresh(db, assessment=fresh, privacy_threshold=3)
    assert [(d.domain_id, d.score, d.n) for d in after.domains] == [
        (d.domain_id, d.score, d.n) for d in before.domains
    ]
    assert all(d.score is not None for d in after.domains)
    assert after.respondents_by_group == before.respondents_by_group


def test_redcap_labels_checkboxes_and_every_error_at_once():
    """A labels export reads as the raw one; checkbox columns (field___code) give one answer;
    each problem names its line and REDCap column."""
    import random

    import pytest

    from app.instruments import catalog
    from app.instruments.interop import redcap_dictionary
    from app.paths import INSTRUMENTS_DIR
    from app.scoring.csv_responses import ResponsesCsvInvalid
    from app.scoring.models import ResponseInput
    from app.scoring.redcap_responses import parse_redcap_export
    from app.services.report_samples import sample_respondents

    instrument = catalog.find_instrument("quick_check", INSTRUMENTS_DIR).instrument
    people = sample_respondents(instrument, random.Random(5), 6, lean=0.5)
    inputs = [
        ResponseInput(respondent_id=str(n), group=p.group, answers=p.answers) for n, p in enumerate(people, 1)
    ]
    dictionary = redcap_dictionary(instrument)
    raw = parse_redcap_export(instrument, _redcap_export(dictionary, instrument.id, inputs))
    labelled = parse_redcap_export(instrument, _redcap_export(dictionary, instrument.id, inputs, labels=True))
    assert [(r.group, r.answers) for r in raw] == [(r.group, r.answers) for r in labelled]
    assert [(r.group, r.answers) for r in raw] == [(r.group, r.answers) for r in inputs]

    item, person = instrument.items[0], inputs[0]
    codes = [o.value for o in instrument.scale_by_id(item.scale).options]
    chosen = person.answers[item.id]
    others = [i.id for i in instrument.items if i.id != item.id and i.id in person.answers]
    header = ["record_id", "respondent_group", *(f"{item.id}___{c.lower()}" for c in codes), *others]
    one = ["1" if c == chosen else "0" for c in codes]
    two = ["1" if c == chosen or c == next(x for x in codes if x != chosen) else "0" for c in codes]
    rest = [person.answers[o] for o in others]

    def export(*rows: list[str]) -> str:
        return "\n".join(",".join(r) for r in [[*header, f"{instrument.id}_complete"], *rows]) + "\n"

    good = export(["1", person.group, *one, *rest, "2"])
    assert parse_redcap_export(instrument, good)[0].answers == person.answers
    with pytest.raises(ResponsesCsvInvalid) as caught:
        parse_redcap_export(
            instrument,
            export(["1", person.group, *one, *rest, "2"], ["2", person.group, *two, *rest, "2"],
                   ["3", person.group, *one, *rest, "1"], ["3", "nobody", *one, *rest, "2"]),
        )  # fmt: skip
    found = {(e.row, e.message.split(";")[0]) for e in caught.value.errors}
    assert (3, f"{item.id} takes one answer but 2 boxes are checked") in found
    assert any(row == 4 and "is not marked Complete (2)" in m for row, m in found)
    assert (5, "record '3' already appears on line 4") in found
    assert (5, "group 'nobody' is not a respondent group") in found

    with pytest.raises(ResponsesCsvInvalid, match="unknown column 'colour'"):
        parse_redcap_export(instrument, f"record_id,respondent_group,colour\n1,{person.group},red\n")


def test_csv_layout_redcap_example_is_the_paper_example():
    from app.scoring.csv_responses import parse_responses_csv
    from app.scoring.redcap_responses import parse_redcap_export
    from tests.scoring.scoring_support import DOCS, fenced_blocks, worked_example

    instrument, paper, _ = worked_example()
    (example,) = fenced_blocks((DOCS / "csv-layout.md").read_text(encoding="utf-8"), "csv redcap-export")
    read = [(r.group, r.answers) for r in parse_redcap_export(instrument, example)]
    assert read == [(r.group, r.answers) for r in parse_responses_csv(instrument, paper)]
