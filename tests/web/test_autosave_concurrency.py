"""No answer is ever lost when autosaves race: a live uvicorn server (on SQLite and PostgreSQL)
gets many autosaves at once, of different items and of the same item, and every one is either
stored or answered with a clear 4xx — never a 5xx, and the stored values are the ones sent."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from sqlmodel import Session

from app.config import Settings
from app.services import instruments_store, responses
from tests.helpers.auth import make_cast
from tests.helpers.browser import listening_socket
from tests.web.journey import invite, respondent, respondent_csrf, start_cycle


@pytest.fixture
def server_url(engine, tmp_path) -> Iterator[str]:
    """The app on the current backend, served by uvicorn in a thread (real concurrency)."""
    from app.web.main import create_app

    sock = listening_socket()  # bound now: no other xdist worker can take the port meanwhile
    port = sock.getsockname()[1]
    settings = Settings(
        PEERREADY_ENV="test",
        PEERREADY_DATA_DIR=tmp_path / "data",
        PEERREADY_BASE_URL=f"http://127.0.0.1:{port}",
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings=settings, engine=engine), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _respondent(db: Session, url: str) -> tuple[httpx.Client, str, str, list]:
    cast = make_cast(db)
    assessment = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id)
    token = invite(db, user=cast.lead_a, assessment=assessment, group="peer_staff")
    client = httpx.Client(base_url=url, timeout=60)
    personal = respondent(client, token)
    csrf = respondent_csrf(client, personal)
    instrument = instruments_store.instrument_for(db, assessment)
    # Items shown whatever the other answers are: every autosave of them must be accepted.
    always_shown = [
        item
        for item in instrument.items
        if not item.show_if and (not item.groups or "peer_staff" in item.groups)
    ]
    return client, personal, csrf, always_shown, instrument


def _post(url: str, cookies, personal: str, csrf: str, payload: dict) -> httpx.Response:
    with httpx.Client(base_url=url, cookies=cookies, timeout=60) as client:
        return client.post(
            f"/respond/{personal}/autosave",
            json=payload,
            headers={"X-CSRF-Token": csrf, "Accept": "application/json"},
        )


def _stored(db: Session, personal: str) -> dict[str, str]:
    db.expire_all()
    response, _ = responses.get_by_token(db, token=personal, client_ip="test")
    return responses.answers_of(db, response_id=response.id)


def test_concurrent_autosaves_of_many_items_all_stored(db, server_url):
    client, personal, csrf, items, instrument = _respondent(db, server_url)
    sent = {}
    for n, item in enumerate(items):
        options = [o.value for o in instrument.scale_by_id(item.scale).options]
        sent[item.id] = options[n % len(options)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(
            pool.map(
                lambda pair: _post(
                    server_url,
                    client.cookies,
                    personal,
                    csrf,
                    {"item_id": pair[0], "value": pair[1], "page": 1},
                ),
                list(sent.items()) * 2,  # every item twice at once: same-item races too
            )
        )
    statuses = sorted({r.status_code for r in results})
    assert statuses == [200], [r.text for r in results if r.status_code != 200][:3]
    assert _stored(db, personal) == sent


def test_concurrent_autosaves_of_one_item_keep_a_sent_value(db, server_url):
    client, personal, csrf, items, instrument = _respondent(db, server_url)
    item = items[0]
    options = [o.value for o in instrument.scale_by_id(item.scale).options]
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(
            pool.map(
                lambda n: _post(
                    server_url,
                    client.cookies,
                    personal,
                    csrf,
                    {"item_id": item.id, "value": options[n % len(options)], "page": 1},
                ),
                range(40),
            )
        )
    assert sorted({r.status_code for r in results}) == [200], [r.text for r in results][:3]
    assert _stored(db, personal)[item.id] in options
    # The next save (what the page's script sends after the user's last click) always wins.
    last = _post(server_url, client.cookies, personal, csrf, {"item_id": item.id, "value": options[-1]})
    assert last.status_code == 200
    assert _stored(db, personal)[item.id] == options[-1]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_an_autosave_waiting_for_the_write_lock_stops_no_other_request(engine, db, server_url):
    """SQLite: the form page and autosave run on the event loop (app/web/deps.py). While another
    writer (another process, a route in the thread pool) holds the database's write lock, an
    autosave waits for it in the thread pool instead: the server answers other requests
    meanwhile, form pages included, and the answer is stored once the lock is free."""
    client, personal, csrf, items, instrument = _respondent(db, server_url)
    assert client.get(f"/respond/{personal}/page/1").status_code == 200
    item = items[0]
    value = instrument.scale_by_id(item.scale).options[0].value
    holder = sqlite3.connect(engine.url.database, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # the write lock, held until COMMIT
        with ThreadPoolExecutor(max_workers=1) as pool:
            saving = pool.submit(
                _post, server_url, client.cookies, personal, csrf, {"item_id": item.id, "value": value}
            )
            time.sleep(1.5)
            assert not saving.done(), saving.result().text  # it waits for the lock ...
            started = time.monotonic()
            assert httpx.get(f"{server_url}/healthz", timeout=10).status_code == 200
            assert client.get(f"/respond/{personal}/page/1", timeout=10).status_code == 200
            assert time.monotonic() - started < 5  # ... and stops nothing else
            assert not saving.done()
            holder.execute("COMMIT")
            saved = saving.result(timeout=30)
    finally:
        holder.close()
    assert saved.status_code == 200, saved.text
    assert _stored(db, personal)[item.id] == value
