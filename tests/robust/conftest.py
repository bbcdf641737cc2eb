"""A live uvicorn server on the current backend (SQLite file or PostgreSQL), for tests that need
real concurrency: many requests at once, each in its own connection and transaction."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from app.config import Settings
from app.db.engine import make_engine


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    settings: Settings
    engine: Engine
    app: FastAPI


@pytest.fixture
def server_settings(tmp_path) -> dict[str, object]:
    """Extra settings for the live server; a test overrides this fixture to change them."""
    return {}


@pytest.fixture
def live(engine: Engine, tmp_path, server_settings: dict[str, object]) -> Iterator[Server]:
    from app.web.main import create_app

    port = _free_port()
    settings = Settings(
        PEERREADY_ENV="test",
        PEERREADY_DATA_DIR=tmp_path / "data",
        PEERREADY_BASE_URL=f"http://127.0.0.1:{port}",
        **server_settings,
    )
    # Its own engine on the same database: requests wait for a free connection as long as the
    # client waits (the tests send bursts on a machine that runs other suites too, where a 503
    # "busy" would be a correct answer but not what they check).
    served = make_engine(
        engine.url.render_as_string(hide_password=False),
        pool_size=30,
        pool_timeout=600,
        sqlite_busy_timeout=600,
    )
    app = create_app(settings=settings, engine=served)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    try:
        yield Server(url=f"http://127.0.0.1:{port}", settings=settings, engine=engine, app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        served.dispose()
