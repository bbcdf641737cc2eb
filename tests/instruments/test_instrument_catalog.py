"""The instrument catalog: finding instruments in folders, one file per id, the content-hash
cache, validating paths and the JSON Schema."""

from __future__ import annotations

import pytest
from instrument_samples import VALID_INSTRUMENT, replace_once

from app.config import Settings
from app.instruments import catalog
from app.instruments.catalog import (
    find_instrument,
    json_schema,
    load_directory,
    scan_folder,
    validate_paths,
)
from app.instruments.errors import InstrumentInvalid
from app.paths import INSTRUMENTS_DIR

OTHER = replace_once("id: mini", "id: other")
VERSION_2 = replace_once('version: "1.0"', 'version: "2.0"')


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "mini.yaml").write_text(VALID_INSTRUMENT)
    (tmp_path / "other.yml").write_text(OTHER)
    (tmp_path / "_draft.yaml").write_text("not: [valid")
    # A translation file (of no instrument here): listed neither as an instrument nor as an error.
    (tmp_path / "notes.es.yaml").write_text("a translation overlay, not an instrument")
    (tmp_path / "notes.txt").write_text("ignored")
    return tmp_path


def test_load_directory_reads_yaml_and_yml_and_skips_drafts_and_translation_overlays(folder):
    loaded = load_directory(folder)
    assert sorted(entry.instrument.id for entry in loaded) == ["mini", "other"]
    assert {entry.path for entry in loaded} == {str(folder / "mini.yaml"), str(folder / "other.yml")}
    assert [path.name for path in catalog.instrument_files(folder)] == ["mini.yaml", "other.yml"]


def test_find_instrument_returns_the_instrument_or_none(folder):
    assert find_instrument("mini", folder).instrument.version == "1.0"
    assert find_instrument("absent", folder) is None


def test_the_configured_folder_comes_from_the_settings(folder, monkeypatch):
    assert Settings().instruments_dir == INSTRUMENTS_DIR
    monkeypatch.setenv("PEERREADY_INSTRUMENTS_DIR", str(folder))
    settings = Settings()
    assert settings.instruments_dir == folder
    assert find_instrument("mini", settings.instruments_dir).instrument.version == "1.0"


def test_a_changed_file_is_reloaded(folder):
    assert find_instrument("mini", folder).instrument.version == "1.0"
    (folder / "mini.yaml").write_text(VERSION_2)
    assert find_instrument("mini", folder).instrument.version == "2.0"


def test_one_id_in_two_files_is_an_error_for_both_whatever_the_versions(folder):
    (folder / "mini-2.yaml").write_text("# the next version\n" + VERSION_2)
    with pytest.raises(InstrumentInvalid) as caught:
        load_directory(folder)
    errors = {(error.file, error.line, error.path, error.code) for error in caught.value.errors}
    assert errors == {
        (str(folder / "mini.yaml"), 1, "id", "duplicate-instrument"),
        (str(folder / "mini-2.yaml"), 2, "id", "duplicate-instrument"),
    }
    first = next(e for e in caught.value.errors if e.file.endswith("mini.yaml"))
    assert str(first) == (
        f"{folder / 'mini.yaml'}:1: id: instrument id 'mini' is also used by mini-2.yaml in the same "
        "folder; keep one file per instrument id (earlier versions live on in the assessments pinned "
        "to them) [duplicate-instrument]"
    )
    # A lookup by id refuses to guess; the other instruments are still offered.
    with pytest.raises(InstrumentInvalid):
        find_instrument("mini", folder)
    scan = scan_folder(folder)
    assert [loaded.instrument.id for loaded in scan.instruments] == ["other"]
    assert sorted(problem.path.name for problem in scan.problems) == ["mini-2.yaml", "mini.yaml"]
    assert len(scan.problems_of("mini")) == 2 and scan.problems_of("other") == []


def test_load_directory_reports_every_broken_file(folder):
    (folder / "broken.yaml").write_text("id: [x\n")
    (folder / "empty.yaml").write_text("")
    with pytest.raises(InstrumentInvalid) as caught:
        load_directory(folder)
    codes = {(error.code, error.file) for error in caught.value.errors}
    assert codes == {("yaml-syntax", str(folder / "broken.yaml")), ("empty", str(folder / "empty.yaml"))}


def test_a_missing_folder_is_one_problem_not_a_crash(tmp_path):
    scan = scan_folder(tmp_path / "gone")
    assert scan.instruments == ()
    assert [error.code for error in scan.errors] == ["unreadable"]


def test_the_same_text_is_parsed_once_from_a_file_or_a_snapshot(folder, monkeypatch):
    catalog.clear_cache()
    parsed = []
    real = catalog.load_instrument_file
    monkeypatch.setattr(catalog, "load_instrument_file", lambda path: parsed.append(path) or real(path))
    first = catalog.load_file(folder / "mini.yaml")
    again = catalog.load_file(folder / "mini.yaml")
    assert again.instrument is first.instrument and len(parsed) == 1
    assert catalog.cached_instrument(first.content_hash) is first.instrument
    from_snapshot = catalog.load_text(first.source_text, source="snapshot", content_hash=first.content_hash)
    assert from_snapshot.instrument is first.instrument
    # The same bytes under another name are the same instrument, reported under their own path.
    (folder / "copy.yaml").write_bytes((folder / "mini.yaml").read_bytes())
    copy = catalog.load_file(folder / "copy.yaml")
    assert copy.instrument is first.instrument and copy.path == str(folder / "copy.yaml")
    assert len(parsed) == 1


def test_a_broken_file_is_not_parsed_again_until_it_changes(folder, monkeypatch):
    catalog.clear_cache()
    (folder / "broken.yaml").write_text("id: [x\n")
    calls = []
    real = catalog.load_instrument_file
    monkeypatch.setattr(catalog, "load_instrument_file", lambda path: calls.append(path) or real(path))
    for _ in range(2):
        with pytest.raises(InstrumentInvalid):
            catalog.load_file(folder / "broken.yaml")
    assert len(calls) == 1


def test_editing_a_translation_overlay_counts_as_a_change(folder):
    catalog.clear_cache()
    catalog.load_file(folder / "mini.yaml")
    # A new translation file beside the instrument is read at once, not hidden by the cache (this
    # one is for a language the instrument does not list, so the instrument is now invalid).
    (folder / "mini.es.yaml").write_text("edited overlay")
    with pytest.raises(InstrumentInvalid) as invalid:
        catalog.load_file(folder / "mini.yaml")
    assert [error.code for error in invalid.value.errors] == ["translation-undeclared"]


def test_the_cache_is_bounded(folder, monkeypatch):
    catalog.clear_cache()
    monkeypatch.setattr(catalog, "CACHE_SIZE", 2)
    first = catalog.load_text(VALID_INSTRUMENT, source="a")
    catalog.load_text(OTHER, source="b")
    catalog.load_text(VERSION_2, source="c")
    assert catalog.cached_instrument(first.content_hash) is None
    assert catalog.load_text(VALID_INSTRUMENT, source="a").instrument is not first.instrument


def test_validate_paths_expands_folders_and_keeps_explicit_files(folder):
    results = validate_paths([folder, folder / "_draft.yaml"])
    assert sorted(path.name for path in results) == ["_draft.yaml", "mini.yaml", "other.yml"]
    assert results[folder / "mini.yaml"] == []
    assert [error.code for error in results[folder / "_draft.yaml"]] == ["yaml-syntax"]


def test_a_valid_draft_with_a_taken_id_is_not_a_duplicate(folder):
    (folder / "_draft.yaml").write_text(VERSION_2)
    results = validate_paths([folder, folder / "_draft.yaml"])
    assert all(errors == [] for errors in results.values())


def test_validate_paths_refuses_a_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError):
        validate_paths([tmp_path / "missing.yaml"])


def test_json_schema_describes_the_yaml_names():
    schema = json_schema()
    assert "items" in schema["properties"]
    assert "in" in schema["$defs"]["ShowIf"]["properties"]
    assert schema["additionalProperties"] is False
