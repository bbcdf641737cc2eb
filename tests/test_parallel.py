"""The suite runs in parallel (scripts/test.sh, pytest-xdist): CI's "may not skip" switches reach
every worker, and the script's worker count can be set or turned off."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_a_required_postgres_that_is_missing_fails_in_xdist_workers_too(tmp_path):
    # Port 9 (discard) has no PostgreSQL: with the switch set, the workers must fail, not skip.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PEERREADY_", "PYTEST_"))}
    env.update(
        PEERREADY_REQUIRE_POSTGRES="1",
        PEERREADY_TEST_PG_URL="postgresql+psycopg://postgres@127.0.0.1:9/postgres",
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-n",
            "2",
            "-p",
            "no:cacheprovider",
            "-q",
            f"--basetemp={tmp_path / 'run'}",
            "tests/test_smoke.py",
            "-k",
            "postgres",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "2 error" in output and "skipped" not in output, output[-3000:]
    assert "PEERREADY_REQUIRE_POSTGRES=1, so PostgreSQL tests may not skip" in output


def _script_pytest_args(tmp_path: Path, *args: str, workers: str | None = None) -> list[str]:
    """What scripts/test.sh hands pytest, with a stand-in Python that only records its arguments."""
    if shutil.which("chromium") is None or shutil.which("pdftoppm") is None:
        pytest.skip("scripts/test.sh would install chromium and poppler-utils first")
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    log = tmp_path / "calls.txt"
    stand_in = venv / "bin" / "python"
    stand_in.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\n', encoding="utf-8")
    stand_in.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "PEERREADY_TEST_WORKERS"}
    env["PEERREADY_VENV"] = str(venv)
    if workers is not None:
        env["PEERREADY_TEST_WORKERS"] = workers
    subprocess.run(["bash", "scripts/test.sh", *args], cwd=ROOT, env=env, check=True, timeout=60)
    calls = log.read_text(encoding="utf-8").splitlines()
    log.unlink()
    assert calls[0].startswith("-m pip install"), calls
    return calls[-1].split()


def test_the_script_runs_one_worker_per_core_and_passes_arguments_on(tmp_path):
    args = _script_pytest_args(tmp_path, "-k", "scoring")
    cores = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    if cores == "1":
        assert args == ["-m", "pytest", "-k", "scoring"]
    else:
        assert args == ["-m", "pytest", "-n", cores, "--dist", "loadfile", "-k", "scoring"]


def test_the_script_runs_serially_with_one_worker_and_refuses_nonsense(tmp_path):
    assert _script_pytest_args(tmp_path, "tests/web", workers="1") == ["-m", "pytest", "tests/web"]
    assert _script_pytest_args(tmp_path, workers="3")[2:] == ["-n", "3", "--dist", "loadfile"]
    env = {**os.environ, "PEERREADY_VENV": str(tmp_path / "venv"), "PEERREADY_TEST_WORKERS": "many"}
    refused = subprocess.run(["bash", "scripts/test.sh"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and "PEERREADY_TEST_WORKERS" in refused.stderr
