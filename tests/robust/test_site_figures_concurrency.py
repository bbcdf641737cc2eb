"""The portfolio's stored per-site figures are made again by the first read after they go stale
(app.services.site_figures.ensure_fresh): a read that writes. Through a real server on SQLite and
PostgreSQL, a funder's parallel first reads of a portfolio whose figures are all missing must
each answer 200 with the same figures (the one that loses the race keeps the winner's rows), and
the rows left are those a fresh computation makes."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlmodel import select

from app.db.models import SiteConditionFigures, SiteFigures
from tests.helpers.auth import sign_in_as
from tests.portfolio.conftest import versions  # noqa: F401 - the fixture
from tests.portfolio.test_site_figures import _fresh, _rows, _world

N = 8


def test_parallel_first_reads_make_the_figures_once_and_agree(db, live, versions):  # noqa: F811
    portfolio, funder, _, _ = _world(db, versions)
    threshold = live.settings.privacy_threshold
    db.exec(SiteConditionFigures.__table__.delete())  # type: ignore[attr-defined]
    db.exec(SiteFigures.__table__.delete())  # type: ignore[attr-defined]
    db.commit()
    clients = [httpx.Client(base_url=live.url, timeout=600) for _ in range(N)]
    for client in clients:
        sign_in_as(client, funder, secret_key=live.settings.secret_key, engine=live.engine)
    start = threading.Barrier(N)

    def read(client: httpx.Client) -> httpx.Response:
        start.wait()
        return client.get(f"/api/v1/portfolios/{portfolio.id}/sites", params={"per_page": 100})

    try:
        with ThreadPoolExecutor(max_workers=N) as pool:
            results = list(pool.map(read, clients))
    finally:
        for client in clients:
            client.close()
    assert [r.status_code for r in results] == [200] * N, [r.text[:300] for r in results]
    bodies = [r.json() for r in results]
    assert all(body == bodies[0] for body in bodies) and bodies[0]["sites"]

    db.expire_all()
    stored = _rows(db)
    assert stored and stored == _fresh(db, threshold=threshold)
    assert {row.threshold for row in db.exec(select(SiteFigures))} == {threshold}
