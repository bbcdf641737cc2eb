"""What the app does once when it starts: the heap it starts with is frozen out of the cyclic
collector's reach (app/web/main.py), once per process."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_startup_freezes_the_heap_once_per_process(tmp_path):
    # In a process of its own: the test process's heap is already frozen by earlier apps.
    script = textwrap.dedent(
        f"""
        import gc
        from fastapi.testclient import TestClient
        from app.config import Settings
        from app.web.main import create_app

        def started() -> int:
            settings = Settings(
                PEERREADY_ENV="test",
                PEERREADY_DATA_DIR={str(tmp_path / "data")!r},
                PEERREADY_DATABASE_URL="sqlite:///{tmp_path / "db.sqlite3"}",
            )
            with TestClient(create_app(settings=settings)) as client:
                assert client.get("/healthz").status_code == 200
                return gc.get_freeze_count()

        assert gc.get_freeze_count() == 0
        first = started()
        assert first > 10_000, first  # modules, templates, the catalog
        second = started()
        # A second app froze nothing more (frozen objects freed by reference counting leave).
        assert second <= first, (first, second)
        print("ok", first)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("ok")
