"""requirements.lock stays true to pyproject.toml: every declared dependency (and what its extras
pull in) is pinned there at a version the declaration allows, and every install path uses it."""

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
REGENERATE = "bash scripts/lock.sh"
HOW_TO_FIX = (
    f"requirements.lock is out of date with pyproject.toml; regenerate it with `{REGENERATE}` and commit both"
)


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = [Requirement(line) for line in project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        declared += [Requirement(line) for line in extra]
    return declared


def _pins() -> dict[str, Version]:
    pins = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", line)
        if match:
            pins[canonicalize_name(match.group(1))] = Version(match.group(2))
    return pins


def _extra_requirements(requirement: Requirement) -> list[Requirement]:
    """What `name[extra]` adds, read from the installed distribution's metadata."""
    try:
        requires = metadata.requires(requirement.name) or []
    except metadata.PackageNotFoundError:
        return []
    added = []
    for line in requires:
        needed = Requirement(line)
        if needed.marker is None:
            continue
        if any(needed.marker.evaluate({"extra": extra}) for extra in requirement.extras):
            if not needed.marker.evaluate({"extra": ""}):
                added.append(needed)
    return added


def test_lock_comment_says_how_to_regenerate_it():
    head = LOCK.read_text(encoding="utf-8").splitlines()[:3]
    assert any(REGENERATE in line for line in head), f"requirements.lock should say `{REGENERATE}` at the top"


def test_every_declared_dependency_is_pinned_at_an_allowed_version():
    pins = _pins()
    problems = []
    for requirement in _declared():
        for needed in [requirement, *_extra_requirements(requirement)]:
            name = canonicalize_name(needed.name)
            if name not in pins:
                problems.append(f"{needed} is not in requirements.lock")
            elif not needed.specifier.contains(pins[name], prereleases=True):
                problems.append(f"{needed} does not allow the locked {name}=={pins[name]}")
    assert not problems, HOW_TO_FIX + ":\n  " + "\n  ".join(problems)


def test_every_install_path_uses_the_lock():
    for path in ["scripts/start.sh", "scripts/test.sh", "Dockerfile"]:
        text = (ROOT / path).read_text(encoding="utf-8")
        installs = [line for line in text.splitlines() if re.search(r"pip\"? install", line)]
        assert installs, f"{path} installs nothing"
        for line in installs:
            assert "-c requirements.lock" in line, f"{path} installs without the lock: {line.strip()}"
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
