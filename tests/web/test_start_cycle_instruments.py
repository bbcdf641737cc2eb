""" "Start a cycle" offers what the instrument catalog offers: a broken file or a second file with
the same instrument id is never silently dropped; admins and organization leads see why."""

from __future__ import annotations

import dataclasses
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.instruments.catalog import validate_paths
from app.paths import INSTRUMENTS_DIR
from app.web.main import create_app
from tests.helpers.auth import login, make_cast


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "instruments"
    folder.mkdir()
    # Each instrument with its Spanish translation file (without it, it would be invalid).
    for name in ("quick-check", "readiness-full"):
        shutil.copy(INSTRUMENTS_DIR / f"{name}.yaml", folder / f"{name}.yaml")
        shutil.copy(INSTRUMENTS_DIR / f"{name}.es.yaml", folder / f"{name}.es.yaml")
    shutil.copy(INSTRUMENTS_DIR / "readiness-full.yaml", folder / "readiness-full-copy.yaml")
    shutil.copy(INSTRUMENTS_DIR / "readiness-full.es.yaml", folder / "readiness-full-copy.es.yaml")
    (folder / "broken.yaml").write_text("id: broken\nversion: [\n", encoding="utf-8")
    return folder


@pytest.fixture
def client(engine, tmp_path, folder):
    settings = Settings(
        PEERREADY_ENV="test", PEERREADY_DATA_DIR=tmp_path / "data", PEERREADY_INSTRUMENTS_DIR=folder
    )
    with TestClient(create_app(settings=settings, engine=engine)) as client:
        yield client


class _StartCyclePage(HTMLParser):
    """The instrument choices, the CSRF token and the listed file problems of the page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.offered: list[str] = []
        self.problems: list[str] = []
        self.csrf = ""
        self._in_problems = False
        self._code: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "input" and attributes.get("name") == "instrument_id":
            self.offered.append(attributes["value"] or "")
        if tag == "input" and attributes.get("name") == "csrf_token":
            self.csrf = attributes["value"] or ""
        if tag == "section" and attributes.get("id") == "instrument-problems":
            self._in_problems = True
        if tag == "code" and self._in_problems:
            self._code = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._in_problems = False
        if tag == "code" and self._code is not None:
            self.problems.append("".join(self._code).strip())
            self._code = None

    def handle_data(self, data: str) -> None:
        if self._code is not None:
            self._code.append(data)


def _offered_and_problems(html: str) -> tuple[list[str], list[str]]:
    page = _StartCyclePage(html)
    # The admin's hint `peerready validate FOLDER` is a <code> outside the list: not a problem.
    problems = [p for p in page.problems if not p.startswith("peerready validate")]
    return page.offered, problems


@pytest.mark.parametrize("who", ["admin", "lead_a"])
def test_admins_and_leads_see_every_file_that_cannot_be_offered(client, db, folder, who):
    cast = make_cast(db)
    login(client, getattr(cast, who).email)
    page = client.get("/assessments/new")
    assert page.status_code == 200
    offered, problems = _offered_and_problems(page.text)
    assert offered == ["quick_check"]  # the duplicated id is offered from neither file
    # Exactly what `peerready validate` says, with the file named inside the folder.
    expected = [
        str(dataclasses.replace(error, file=Path(error.file).name))
        for errors in validate_paths([folder]).values()
        for error in errors
    ]
    assert sorted(problems) == sorted(expected) and len(problems) == 3
    assert any(p.startswith("broken.yaml:3: YAML syntax: ") and p.endswith("[yaml-syntax]") for p in problems)
    duplicates = sorted(p for p in problems if p.endswith("[duplicate-instrument]"))
    assert [p.split(":")[0] for p in duplicates] == ["readiness-full-copy.yaml", "readiness-full.yaml"]
    assert all(": id: instrument id 'readiness_full' is also used by" in p for p in duplicates)
    shows_folder = str(client.app.state.settings.instruments_dir) in page.text
    assert shows_folder == (who == "admin")


def test_a_consultant_gets_the_usable_instruments_without_the_file_errors(client, db):
    cast = make_cast(db)
    login(client, cast.consultant_a.email)
    offered, problems = _offered_and_problems(client.get("/assessments/new").text)
    assert offered == ["quick_check"] and problems == []


def test_starting_a_cycle_with_a_duplicated_id_is_refused_plainly(client, db):
    cast = make_cast(db)
    login(client, cast.lead_a.email)
    page = client.get("/assessments/new")
    csrf = _StartCyclePage(page.text).csrf
    response = client.post(
        "/assessments",
        data={
            "csrf_token": csrf,
            "organization_id": str(cast.org_a.id),
            "name": "Baseline",
            "instrument_id": "readiness_full",
        },
    )
    assert response.status_code == 400
    assert "cannot be used until its file is fixed" in response.text
