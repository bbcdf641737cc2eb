"""The stored per-site portfolio figures (app.services.site_figures): after a release, a reopen and
a re-release they equal a fresh computation, and a page or summary made from them equals the one
made from every site's released cycles (`build_portfolio_view`, what the downloads use)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, text
from sqlmodel import Session, select

from app.db.models import (
    Answer,
    Assessment,
    AssessmentStatus,
    Response,
    ResponseStatus,
    SiteConditionFigures,
    SiteFigures,
)
from app.i18n import use_locale
from app.portfolio.params import PortfolioFilters, SitePage, SortOrder
from app.services import site_figures
from app.services.assessments import set_status
from app.services.portfolio import portfolio_view
from app.services.scores import refresh_scores
from tests.helpers.auth import make_organization, make_portfolio, make_user
from tests.portfolio.conftest import THRESHOLD, make_cycle, responses


def _rows(db: Session) -> list[tuple]:
    """Every stored figure, in a fixed order."""
    sites = [
        tuple(getattr(r, c) for c in SiteFigures.model_fields)
        for r in db.exec(select(SiteFigures).order_by(SiteFigures.organization_id, SiteFigures.scope))
    ]
    conditions = [
        tuple(getattr(r, c) for c in SiteConditionFigures.model_fields)
        for r in db.exec(
            select(SiteConditionFigures).order_by(
                SiteConditionFigures.organization_id,
                SiteConditionFigures.scope,
                SiteConditionFigures.condition_id,
            )
        )
    ]
    return sites + conditions


def _fresh(db: Session, threshold: int = THRESHOLD) -> list[tuple]:
    """The stored figures made again from nothing (the same transaction, rolled back after)."""
    with db.begin_nested() as savepoint:
        db.exec(SiteConditionFigures.__table__.delete())  # type: ignore[attr-defined]
        db.exec(SiteFigures.__table__.delete())  # type: ignore[attr-defined]
        site_figures.ensure_fresh(db, portfolio_id=None, privacy_threshold=threshold)
        made = _rows(db)
        savepoint.rollback()
    return made


def _world(db, versions):
    """Sites of every kind: scored on the full or the quick instrument, with and without a
    baseline, one below the threshold, one with an open cycle only, one with no cycle."""
    names = ["Alder", "birch", "Cedar", "Daphne", "Elm", "Fir", "Ginkgo", "Hazel"]
    sites = [make_organization(db, n, region="North" if i % 2 else "South") for i, n in enumerate(names)]
    portfolio = make_portfolio(db, "Stored figures", sites)
    funder = make_user(db, role="funder", portfolios=[portfolio])
    full, quick = (versions.full, versions.full_instrument), (versions.quick, versions.quick_instrument)
    cycles = {}
    for index, (site, (version, instrument), n) in enumerate(
        zip(sites[:5], [full, full, quick, full, full], [5, 4, 6, 2, 7], strict=True)
    ):
        if index in (0, 2):  # a baseline first
            make_cycle(
                db,
                organization=site,
                version=version,
                responses=responses(instrument, 4, seed=50 + index, lean=2.5),
                expected=6,
            )
        cycles[site.name] = make_cycle(
            db,
            organization=site,
            version=version,
            name="Follow-up",
            responses=responses(instrument, n, seed=index, lean=2.0 + index * 0.5),
            expected=n + 3,
            close_date=date(2028, 3, 1) if index == 1 else None,
        )
    make_cycle(
        db,
        organization=sites[5],
        version=versions.full,
        responses=responses(versions.full_instrument, 4, seed=9),
        closed=False,
    )
    return portfolio, funder, sites, cycles


CASES = [
    (PortfolioFilters(), SortOrder(), SitePage()),
    (PortfolioFilters(), SortOrder.parse("-score_purpose"), SitePage(size=3)),
    (PortfolioFilters(), SortOrder.parse("change_purpose"), SitePage(size=2, number=2)),
    (PortfolioFilters(), SortOrder.parse("-rate"), SitePage()),
    (PortfolioFilters(), SortOrder.parse("date"), SitePage(q="e")),
    (PortfolioFilters(), SortOrder.parse("-n"), SitePage(size=0)),
    (PortfolioFilters(region="North"), SortOrder.parse("name"), SitePage()),
    (PortfolioFilters(instrument="readiness_full"), SortOrder.parse("-score_purpose"), SitePage()),
    (PortfolioFilters(instrument="quick_check"), SortOrder(), SitePage()),
    (PortfolioFilters(cohort="nowhere"), SortOrder(), SitePage()),
    (PortfolioFilters(), SortOrder.parse("score_not_a_condition"), SitePage()),
]


def _assert_views_agree(db, funder, portfolio, threshold: int = THRESHOLD) -> None:
    """Each page from the stored figures equals the same page cut from the full computation."""
    for filters, sort, page in CASES:
        stored = portfolio_view(
            db,
            user=funder,
            portfolio_id=portfolio.id,
            privacy_threshold=threshold,
            filters=filters,
            sort=sort,
            page=page,
        )
        full = portfolio_view(
            db,
            user=funder,
            portfolio_id=portfolio.id,
            privacy_threshold=threshold,
            filters=filters,
            sort=sort,
        )
        matching = [s for s in full.sites if page.matches(s.name)]
        start = (page.number - 1) * (page.size or 0)
        expected = [] if page.size == 0 else matching[start : start + (page.size or len(matching))]
        assert stored.summary == full.summary, (filters, sort, page)
        assert stored.sites == expected, (filters, sort, page)
        assert stored.levels == full.levels and stored.options == full.options
        if page.size != 0:
            assert stored.n_matching == len(matching)


def test_stored_figures_equal_a_fresh_computation_after_release(db, versions):
    portfolio, funder, sites, _ = _world(db, versions)
    stored = _rows(db)
    assert stored == _fresh(db)
    by_site = {r.organization_id: r for r in db.exec(select(SiteFigures).where(SiteFigures.scope == ""))}
    assert by_site[sites[3].id].status == "below_threshold" and by_site[sites[3].id].n_respondents is None
    assert by_site[sites[0].id].baseline_assessment_id is not None
    assert sites[5].id not in by_site and sites[7].id not in by_site  # no release: no row
    assert {r.scope for r in db.exec(select(SiteFigures))} == {"", "readiness_full", "quick_check"}
    _assert_views_agree(db, funder, portfolio)
    with use_locale("es"):  # the words (titles, levels, statuses) in the reader's language
        _assert_views_agree(db, funder, portfolio)
    # Nothing was stale: reading made no row again.
    assert _rows(db) == stored


def test_reopen_and_re_release_keep_the_stored_figures_fresh(db, versions):
    portfolio, funder, sites, cycles = _world(db, versions)
    lead = make_user(db, role="admin")
    cycle = cycles["Alder"]
    before = _rows(db)

    set_status(db, user=lead, assessment=cycle, status=AssessmentStatus.open, privacy_threshold=THRESHOLD)
    db.commit()
    # Reopened: the release stays, the cycle's date (no longer closed) moves with it.
    assert _rows(db) == _fresh(db)
    assert _rows(db) != before
    _assert_views_agree(db, funder, portfolio)

    # Three more respondents (the threshold's worth of changes), then close: a new release.
    for answers in responses(versions.full_instrument, THRESHOLD, seed=77, lean=4.5):
        row = Response(
            assessment_id=cycle.id,
            group=answers.group,
            status=ResponseStatus.submitted,
            submitted_at=cycle.created_at,
        )
        db.add(row)
        db.flush()
        db.add_all(Answer(response_id=row.id, item_id=k, value=v) for k, v in answers.answers.items())
    db.flush()
    refresh_scores(db, assessment_id=cycle.id, privacy_threshold=THRESHOLD)
    set_status(db, user=lead, assessment=cycle, status=AssessmentStatus.closed, privacy_threshold=THRESHOLD)
    db.commit()
    released = db.exec(
        select(SiteFigures).where(SiteFigures.organization_id == sites[0].id, SiteFigures.scope == "")
    ).one()
    assert released.n_releases == 3 and released.n_respondents == 5 + THRESHOLD
    assert _rows(db) == _fresh(db)
    _assert_views_agree(db, funder, portfolio)


def test_figures_are_made_again_when_missing_or_made_with_another_threshold(db, versions):
    portfolio, funder, sites, _ = _world(db, versions)
    expected = _rows(db)
    # As after the migration that added the tables: no row yet. The first read makes them.
    db.exec(SiteConditionFigures.__table__.delete())  # type: ignore[attr-defined]
    db.exec(SiteFigures.__table__.delete())  # type: ignore[attr-defined]
    db.commit()
    _assert_views_agree(db, funder, portfolio)
    assert _rows(db) == expected
    # A stricter threshold: the rows are made again with it (one site more below it).
    _assert_views_agree(db, funder, portfolio, threshold=5)
    strict = {
        r.organization_id: r.status for r in db.exec(select(SiteFigures).where(SiteFigures.scope == ""))
    }
    assert strict[sites[1].id] == "below_threshold"
    assert _rows(db) == _fresh(db, threshold=5)
    # A deleted cycle (its releases go with it) is noticed too.
    follow_up = db.exec(select(Assessment).where(Assessment.organization_id == sites[4].id)).one()
    db.delete(follow_up)
    db.commit()
    _assert_views_agree(db, funder, portfolio, threshold=5)
    assert db.exec(select(SiteFigures).where(SiteFigures.organization_id == sites[4].id)).all() == []


def test_a_bulk_remake_renews_the_planner_statistics_on_postgresql(db, versions, monkeypatch):
    """Made again for many sites at once (here: any number), the tables' statistics are renewed
    in the same transaction, so the next read is not planned as over empty tables."""
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL's planner statistics; SQLite has none to renew")
    portfolio, funder, _, _ = _world(db, versions)
    expected = _rows(db)
    db.exec(SiteConditionFigures.__table__.delete())  # type: ignore[attr-defined]
    db.exec(SiteFigures.__table__.delete())  # type: ignore[attr-defined]
    db.commit()
    db.exec(text("ANALYZE sitefigures, siteconditionfigures"))  # statistics of the empty tables
    db.commit()

    def estimated() -> list[float]:
        return [
            db.exec(text("SELECT reltuples FROM pg_class WHERE relname = :t"), params={"t": t}).one()[0]
            for t in ("sitefigures", "siteconditionfigures")
        ]

    assert estimated() == [0, 0]
    monkeypatch.setattr(site_figures, "ANALYZE_AFTER", 1)
    assert site_figures.ensure_fresh(db, portfolio_id=portfolio.id, privacy_threshold=THRESHOLD) > 0
    tables = (SiteFigures, SiteConditionFigures)
    assert estimated() == [db.exec(select(func.count()).select_from(t)).one() for t in tables]
    db.commit()
    assert _rows(db) == expected
    _assert_views_agree(db, funder, portfolio)


@pytest.mark.parametrize("backfill", ["command", "read"])
def test_db_upgrade_makes_the_figures_of_existing_releases(db, versions, engine, settings, backfill):
    from app.cli.server import _migrate

    portfolio, funder, _, _ = _world(db, versions)
    expected = _rows(db)
    db.exec(SiteConditionFigures.__table__.delete())  # type: ignore[attr-defined]
    db.exec(SiteFigures.__table__.delete())  # type: ignore[attr-defined]
    db.commit()
    if backfill == "command":  # what `peerready db upgrade` (and `serve` on SQLite) run
        _migrate(engine, settings.model_copy(update={"privacy_threshold": THRESHOLD}))
        db.expire_all()
    else:
        portfolio_view(
            db, user=funder, portfolio_id=portfolio.id, privacy_threshold=THRESHOLD, page=SitePage()
        )
    assert _rows(db) == expected
