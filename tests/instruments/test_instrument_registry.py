"""Finding instruments in folders, validating paths and the JSON Schema."""

from __future__ import annotations

import pytest
from instrument_samples import VALID_INSTRUMENT, replace_once

from app.config import Settings
from app.instruments.errors import InstrumentInvalid
from app.instruments.registry import (
    find_instrument,
    json_schema,
    load_directory,
    validate_paths,
)
from app.paths import INSTRUMENTS_DIR

VERSION_2 = replace_once('version: "1.0"', 'version: "2.0"')


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "mini.yaml").write_text(VALID_INSTRUMENT)
    (tmp_path / "mini-2.yml").write_text(VERSION_2)
    (tmp_path / "_draft.yaml").write_text("not: [valid")
    (tmp_path / "notes.txt").write_text("ignored")
    return tmp_path


def test_load_directory_reads_yaml_and_yml_and_skips_underscored_files(folder):
    loaded = load_directory(folder)
    assert sorted(entry.instrument.version for entry in loaded) == ["1.0", "2.0"]
    assert {entry.path for entry in loaded} == {str(folder / "mini.yaml"), str(folder / "mini-2.yml")}


def test_find_instrument_returns_the_highest_version_or_none(folder):
    assert find_instrument("mini", folder).instrument.version == "2.0"
    assert find_instrument("absent", folder) is None


def test_the_configured_folder_comes_from_the_settings(folder, monkeypatch):
    assert Settings().instruments_dir == INSTRUMENTS_DIR
    monkeypatch.setenv("PEERREADY_INSTRUMENTS_DIR", str(folder))
    settings = Settings()
    assert settings.instruments_dir == folder
    assert find_instrument("mini", settings.instruments_dir).instrument.version == "2.0"


def test_a_changed_file_is_reloaded(folder):
    assert find_instrument("mini", folder).instrument.version == "2.0"
    (folder / "mini-2.yml").write_text(replace_once('version: "1.0"', 'version: "2.0.1"'))
    assert find_instrument("mini", folder).instrument.version == "2.0.1"


def test_load_directory_reports_every_broken_file_and_duplicate_versions(folder):
    (folder / "broken.yaml").write_text("id: [x\n")
    (folder / "copy.yaml").write_text(VALID_INSTRUMENT)
    with pytest.raises(InstrumentInvalid) as caught:
        load_directory(folder)
    codes = {(error.code, error.file) for error in caught.value.errors}
    assert codes == {
        ("yaml-syntax", str(folder / "broken.yaml")),
        ("duplicate-instrument", str(folder / "mini.yaml")),
    }


def test_validate_paths_expands_folders_and_keeps_explicit_files(folder):
    results = validate_paths([folder, folder / "_draft.yaml"])
    assert sorted(path.name for path in results) == ["_draft.yaml", "mini-2.yml", "mini.yaml"]
    assert results[folder / "mini.yaml"] == []
    assert [error.code for error in results[folder / "_draft.yaml"]] == ["yaml-syntax"]


def test_validate_paths_refuses_a_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError):
        validate_paths([tmp_path / "missing.yaml"])


def test_json_schema_describes_the_yaml_names():
    schema = json_schema()
    assert "items" in schema["properties"]
    assert "in" in schema["$defs"]["ShowIf"]["properties"]
    assert schema["additionalProperties"] is False
