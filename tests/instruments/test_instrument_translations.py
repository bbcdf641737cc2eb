"""Translation files (`<name>.<language>.yaml`): folded into the instrument, checked for missing,
stale and unknown entries with their lines, never listed as instruments, and pinned in snapshots."""

from __future__ import annotations

import hashlib
import os

import pytest
from instrument_samples import line_of, replace_once
from translation_samples import BILINGUAL_INSTRUMENT, SPANISH, spanish_overlay, write_pair

from app.instruments import catalog
from app.instruments.catalog import find_instrument, instrument_files
from app.instruments.errors import InstrumentError, InstrumentInvalid
from app.instruments.loader import MAX_INSTRUMENT_BYTES, load_instrument_file, load_instrument_text
from app.instruments.models import text
from app.instruments.translations import (
    instrument_of_overlay,
    is_translation_overlay,
    overlay_files,
    overlay_language,
    source_files,
    source_hash,
    text_entries,
)
from app.services import instruments_store


def errors_of(path) -> list[InstrumentError]:
    with pytest.raises(InstrumentInvalid) as caught:
        load_instrument_file(path)
    return caught.value.errors


def only(findings, code: str) -> InstrumentError:
    matching = [finding for finding in findings if finding.code == code]
    assert len(matching) == 1, "\n".join(map(str, findings))
    return matching[0]


# --- folding ----------------------------------------------------------------------------------


def test_every_text_gets_its_spanish(tmp_path):
    loaded = load_instrument_file(write_pair(tmp_path))
    assert loaded.warnings == ()
    assert loaded.translation_files == (str(tmp_path / "mini.es.yaml"),)
    entries = text_entries(loaded.instrument)
    assert {entry.key for entry in entries} == set(SPANISH)
    for entry in entries:
        assert text(entry.value, "es") == SPANISH[entry.key], entry.key
        assert text(entry.value, "es-MX") == SPANISH[entry.key]  # a regional code falls back to es
        assert text(entry.value, "fr") == text(entry.value, "en")  # else the source language
        assert text(entry.value) == text(entry.value, "en") == entry.value["en"]
    # Spot checks through the model, as pages and reports will ask for the texts.
    instrument = loaded.instrument
    assert text(instrument.scale_by_id("agree").options[3].label, "es") == "No sé"
    assert text(instrument.actions[0].steps[1], "es") == "Anunciar el puesto."
    assert text(instrument.scoring.levels[0].label, "es") == "Primeros pasos"


def test_the_snapshot_is_one_document_with_the_translations_inline(tmp_path):
    loaded = load_instrument_file(write_pair(tmp_path))
    snapshot = loaded.source_text
    assert snapshot.startswith(
        "# Snapshot: mini.yaml with the translations of mini.es.yaml written inline.\n"
    )
    assert loaded.content_hash == hashlib.sha256(snapshot.encode()).hexdigest()
    # It loads on its own, with no translation file next to it, into the same instrument.
    again = load_instrument_text(snapshot, source="snapshot")
    assert again.instrument == loaded.instrument
    assert again.content_hash == loaded.content_hash
    assert 'version: "1.0"' in snapshot  # quotes kept, so the version stays text


def test_editing_only_the_spanish_gives_a_new_content_hash(tmp_path):
    path = write_pair(tmp_path)
    before = load_instrument_file(path)
    overlay = tmp_path / "mini.es.yaml"
    overlay.write_text(overlay.read_text().replace("Líderes", "Dirección"))
    after = load_instrument_file(path)
    assert after.content_hash != before.content_hash
    assert after.version_key != before.version_key
    assert text(after.instrument.groups[0].label, "es") == "Dirección"


def test_an_english_only_file_keeps_its_own_text_as_snapshot(tmp_path):
    path = tmp_path / "mini.yaml"
    path.write_text(BILINGUAL_INSTRUMENT.replace("languages: [en, es]", "languages: [en]"))
    loaded = load_instrument_file(path)
    assert loaded.source_text == path.read_text()
    assert loaded.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded.translation_files == ()


# --- stale, missing and unknown entries ---------------------------------------------------------


def test_a_stale_translation_is_a_warning_on_the_line_of_its_entry(tmp_path):
    path = write_pair(tmp_path)
    path.write_text(
        replace_once(
            "text: Leaders value peer specialists.", "text: Leaders openly value peer specialists."
        ).replace("languages: [en]", "languages: [en, es]")
    )
    loaded = load_instrument_file(path)  # still loads: a warning, not an error
    warning = only(loaded.warnings, "translation-stale")
    overlay = (tmp_path / "mini.es.yaml").read_text()
    assert warning.file == str(tmp_path / "mini.es.yaml")
    assert warning.line == line_of(overlay, "items.values_peers.text:")
    assert warning.path == "items.values_peers.text"
    assert warning.is_warning
    old, new = (
        source_hash("Leaders value peer specialists."),
        source_hash("Leaders openly value peer specialists."),
    )
    assert str(warning) == (
        f"{tmp_path / 'mini.es.yaml'}:{warning.line}: items.values_peers.text: warning: the en text changed "
        f"after this was translated (source_hash {old}, text now {new}: "
        "'Leaders openly value peer specialists.'); update the translation, then run "
        f"`peerready translations stamp {tmp_path / 'mini.es.yaml'} --path items.values_peers.text` "
        "[translation-stale]"
    )
    # Until someone updates it, Spanish readers keep the translation they had.
    assert text(loaded.instrument.items[1].text, "es") == SPANISH["items.values_peers.text"]


def test_a_reordered_text_names_where_its_translation_belongs_now(tmp_path):
    path = write_pair(tmp_path)
    path.write_text(
        replace_once(
            "      - Choose a leader.\n      - Announce the role.",
            "      - Announce the role.\n      - Choose a leader.",
        ).replace("languages: [en]", "languages: [en, es]")
    )
    warnings = load_instrument_file(path).warnings
    assert {w.path for w in warnings} == {
        "actions.name_a_champion.steps[0]",
        "actions.name_a_champion.steps[1]",
    }
    first = next(w for w in warnings if w.path.endswith("steps[0]"))
    assert "the text it translates is now at actions.name_a_champion.steps[1]" in first.message


def test_rewrapping_the_english_is_not_a_change(tmp_path):
    wrapped = BILINGUAL_INSTRUMENT.replace(
        "    rationale: Peer roles last when a leader owns them.\n",
        "    rationale: >-\n      Peer roles last\n      when a leader owns them.\n",
    )
    assert wrapped != BILINGUAL_INSTRUMENT
    path = write_pair(tmp_path, overlay=spanish_overlay())
    path.write_text(wrapped)
    assert load_instrument_file(path).warnings == ()


def test_a_missing_translation_is_an_error_on_the_english_line(tmp_path):
    path = write_pair(tmp_path, overlay=spanish_overlay(skip=("items.values_peers.text",)))
    error = only(errors_of(path), "translation-missing")
    assert (error.file, error.path) == (str(path), "items[1].text")
    assert error.line == line_of(BILINGUAL_INSTRUMENT, "text: Leaders value peer specialists.")
    assert error.message == (
        f"the 'es' translation is missing; add 'items.values_peers.text' to {tmp_path / 'mini.es.yaml'}"
    )


def test_without_a_translation_file_a_declared_language_is_one_error(tmp_path):
    path = tmp_path / "mini.yaml"
    path.write_text(BILINGUAL_INSTRUMENT)
    errors = errors_of(path)
    assert [(e.code, e.path, e.line) for e in errors] == [
        ("translation-missing", "languages[1]", line_of(BILINGUAL_INSTRUMENT, "languages:"))
    ]
    assert "add the translations in mini.es.yaml beside this file, or remove 'es'" in errors[0].message


def test_an_entry_for_no_text_is_an_error_with_a_suggestion(tmp_path):
    overlay = spanish_overlay().replace("items.values_peers.text:", "items.value_peers.text:")
    path = write_pair(tmp_path, overlay=overlay)
    errors = errors_of(path)
    unknown = only(errors, "translation-unknown-path")
    assert unknown.line == line_of(overlay, "items.value_peers.text:")
    assert unknown.message == "mini.yaml has no text at this path; did you mean 'items.values_peers.text'?"
    assert only(errors, "translation-missing").path == "items[1].text"  # and the real one is untranslated
    # English errors come first, then the translation file's, each by line.
    assert [e.file for e in errors] == [str(path), str(tmp_path / "mini.es.yaml")]


def test_an_entry_without_a_hash_is_a_warning(tmp_path):
    overlay = spanish_overlay()
    digest = source_hash("Leaders")
    assert f'  source_hash: "{digest}"\n' in overlay
    overlay = overlay.replace(f'  source_hash: "{digest}"\n', "", 1)
    warning = only(
        load_instrument_file(write_pair(tmp_path, overlay=overlay)).warnings, "translation-unstamped"
    )
    assert warning.path == "groups.leaders.label"
    assert warning.line == line_of(overlay, "groups.leaders.label:")


def test_a_text_translated_inline_and_in_the_file_is_an_error(tmp_path):
    english = BILINGUAL_INSTRUMENT.replace(
        "title: Mini readiness check", "title: {en: Mini readiness check, es: Mini}"
    )
    overlay = spanish_overlay()
    path = write_pair(tmp_path, english, overlay)
    error = only(errors_of(path), "translation-duplicate")
    assert (error.path, error.line) == ("title", line_of(overlay, "title:"))
    assert "already has a 'es' version inline" in error.message


@pytest.mark.parametrize(
    ("languages", "name", "role"),
    [
        ("[en]", "mini.es.yaml", "is not listed in languages of"),
        ("[en, es]", "mini.en.yaml", "is the source language of"),
    ],
)
def test_a_translation_file_for_an_undeclared_language_is_an_error(tmp_path, languages, name, role):
    path = write_pair(
        tmp_path, BILINGUAL_INSTRUMENT.replace("languages: [en, es]", f"languages: {languages}")
    )
    if name != "mini.es.yaml":
        (tmp_path / name).write_text(spanish_overlay())
    error = only(errors_of(path), "translation-undeclared")
    assert error.file == str(tmp_path / name)
    assert role in error.message


OVERLAY_ENTRY = 'title:\n  text: Mini\n  source_hash: "{digest}"\n'


@pytest.mark.parametrize(
    ("entry", "code", "path", "message"),
    [
        ("title: Mini\n", "translation-format", "title", "each entry needs 'text' and 'source_hash'"),
        (
            'title:\n  txt: Mini\n  source_hash: "{digest}"\n',
            "unknown-field",
            "title.txt",
            "did you mean 'text'?",
        ),
        (
            'title:\n  text: " "\n  source_hash: "{digest}"\n',
            "empty-text",
            "title.text",
            "the 'es' text is empty",
        ),
        (
            "title:\n  text: Mini\n  source_hash: 12345678\n",
            "translation-format",
            "title.source_hash",
            "in quotes",
        ),
        (
            'title:\n  text: Mini\n  source_hash: "abc"\n',
            "translation-format",
            "title.source_hash",
            "8 hex digits",
        ),
        ("title:\n  text: [Mini]\n  source_hash: x\n", "translation-format", "title.text", "must be text"),
    ],
)
def test_malformed_entries_are_named_with_their_line(tmp_path, entry, code, path, message):
    digest = source_hash("Mini readiness check")
    overlay = spanish_overlay(skip=("title",)) + entry.format(digest=digest)
    errors = errors_of(write_pair(tmp_path, overlay=overlay))
    error = next(e for e in errors if e.code == code)
    assert error.path == path and message in error.message
    assert error.line == line_of(overlay, path.split(".")[-1] + ":", overlay.count(path.split(".")[-1] + ":"))


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"title:\n  text: Mini\x00\n", "binary"),
        (b"\xff\xfe not utf-8", "encoding"),
        (b"- a list\n- of things\n", "not-a-mapping"),
        (b"title: &a\n  text: Mini\nother: *a\n", "alias"),
        (b"title: !!python/object:os.system\n  text: x\n", "yaml-tag"),
        (b"title:\n  text: Mini\ntitle:\n  text: Other\n", "duplicate-key"),
        (b"title: [" * 50, "too-deep"),
        (b"title:\n\ttext: Mini\n", "tab-indent"),
        (b"# only a comment\n", "empty"),
    ],
)
def test_a_hostile_translation_file_gets_a_clear_error_in_that_file(tmp_path, content, code):
    path = write_pair(tmp_path)
    (tmp_path / "mini.es.yaml").write_bytes(content)
    errors = errors_of(path)
    assert code in {e.code for e in errors}, "\n".join(map(str, errors))
    assert all(e.file == str(tmp_path / "mini.es.yaml") for e in errors if e.code == code)


def test_a_huge_translation_file_is_refused_unread(tmp_path):
    path = write_pair(tmp_path)
    with (tmp_path / "mini.es.yaml").open("wb") as stream:
        stream.truncate(MAX_INSTRUMENT_BYTES + 1)
    assert only(errors_of(path), "too-large").file == str(tmp_path / "mini.es.yaml")


# --- file names, listings and caches ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "language"),
    [
        ("quick-check.es.yaml", "es"),
        ("quick-check.es-MX.yml", "es-MX"),
        ("quick-check.yaml", None),
        ("instrument.v2.yaml", None),
        ("notes.es.txt", None),
        ("x.ES.yaml", None),
    ],
)
def test_translation_file_names(name, language):
    assert overlay_language(name) == language
    assert is_translation_overlay(name) == (language is not None)


def test_translation_files_are_never_listed_as_instruments(tmp_path):
    path = write_pair(tmp_path)
    (tmp_path / "mini.fr.yml").write_text("{}")
    (tmp_path / "other.es.yaml").write_text("{}")
    assert instrument_files(tmp_path) == [path]
    assert overlay_files(path) == [("es", tmp_path / "mini.es.yaml"), ("fr", tmp_path / "mini.fr.yml")]
    assert source_files(path) == [path, tmp_path / "mini.es.yaml", tmp_path / "mini.fr.yml"]
    assert instrument_of_overlay(tmp_path / "mini.es.yaml") == path
    assert instrument_of_overlay(tmp_path / "other.es.yaml") is None


def _touch_later(path):
    status = path.stat()
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))


def test_cached_instruments_reload_when_only_a_translation_changes(tmp_path):
    write_pair(tmp_path)
    overlay = tmp_path / "mini.es.yaml"
    assert text(find_instrument("mini", tmp_path).instrument.groups[0].label, "es") == "Líderes"
    assert text(catalog.scan_folder(tmp_path).instruments[0].instrument.groups[0].label, "es") == "Líderes"
    overlay.write_text(overlay.read_text().replace("text: Líderes", "text: Dirección"))
    _touch_later(overlay)
    assert text(find_instrument("mini", tmp_path).instrument.groups[0].label, "es") == "Dirección"
    assert text(catalog.scan_folder(tmp_path).instruments[0].instrument.groups[0].label, "es") == "Dirección"


# --- snapshots: an assessment keeps the Spanish it started with ---------------------------------


def test_a_snapshot_keeps_its_spanish_when_the_translation_file_changes(tmp_path, db):
    path = write_pair(tmp_path)
    first = instruments_store.snapshot(db, loaded=load_instrument_file(path))
    overlay = tmp_path / "mini.es.yaml"
    overlay.write_text(overlay.read_text().replace("text: Líderes", "text: Dirección"))
    second = instruments_store.snapshot(db, loaded=load_instrument_file(path))
    db.commit()
    assert first.id != second.id and first.content_hash != second.content_hash
    assert first.source_yaml != second.source_yaml
    instruments_store.clear_cache()  # parse both again from the stored text, not from memory
    assert text(instruments_store.instrument_of_version(first).groups[0].label, "es") == "Líderes"
    assert text(instruments_store.instrument_of_version(second).groups[0].label, "es") == "Dirección"
    # Deleting the translation file changes nothing for either.
    overlay.unlink()
    instruments_store.clear_cache()
    assert text(instruments_store.instrument_of_version(first).groups[0].label, "es") == "Líderes"
    # The same texts give the same snapshot row.
    overlay.write_text(spanish_overlay())
    assert instruments_store.snapshot(db, loaded=load_instrument_file(path)).id == first.id
