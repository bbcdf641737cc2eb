"""The portfolio service: figures equal the rules module's, privacy rules, change over time,
comparability, filters and sorting. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from app.errors import BadInput, Forbidden, NotFound
from app.portfolio.params import PortfolioFilters, SortOrder
from app.scoring import ResponseInput, score_responses
from app.services.portfolio import list_portfolios, portfolio_view
from tests.helpers.auth import make_organization, make_portfolio, make_user
from tests.portfolio.conftest import THRESHOLD, make_cycle, responses


def _view(db, user, portfolio, **kwargs):
    return portfolio_view(db, user=user, portfolio_id=portfolio.id, privacy_threshold=THRESHOLD, **kwargs)


@pytest.fixture
def funder_setup(db):
    orgs = [
        make_organization(db, "Alder Family Services", region="North", cohort="2027"),
        make_organization(db, "Birch Behavioral Health", region="South", cohort="2026"),
        make_organization(db, "Cedar Counseling", region="North", cohort="2026"),
    ]
    portfolio = make_portfolio(db, "State peer program", orgs)
    funder = make_user(db, role="funder", portfolios=[portfolio])
    return orgs, portfolio, funder


def test_site_scores_equal_the_rules_module(db, versions, funder_setup):
    orgs, portfolio, funder = funder_setup
    data = {}
    for index, org in enumerate(orgs):
        data[org.id] = responses(versions.full_instrument, 6 + index, seed=index, lean=2.5 + index)
        make_cycle(db, organization=org, version=versions.full, responses=data[org.id], expected=10)

    view = _view(db, funder, portfolio)
    assert [c.id for c in view.summary.shared_conditions] == ["purpose", "integration", "stigma", "valuing"]
    assert view.summary.comparability_note is None
    assert view.summary.n_scored == 3
    for site in view.sites:
        expected = score_responses(
            versions.full_instrument, data[site.organization_id], privacy_threshold=THRESHOLD
        )
        assert site.status == "scored"
        assert site.latest.n_respondents == expected.n_respondents
        assert site.latest.response_rate == round(expected.n_respondents / 10, 3)
        for domain in expected.domains:
            cell = site.score_for(domain.domain_id)
            assert cell.status == "shown"
            assert cell.score == round(domain.score, 1)
            assert cell.level_id == domain.level_id
            assert cell.n == domain.n
    # Level counts and the distribution agree with the per-site levels.
    for dist in view.summary.distributions:
        levels = [s.score_for(dist.condition_id).level_id for s in view.sites]
        assert {lc.level_id: lc.count for lc in dist.levels if lc.count} == {
            lv: levels.count(lv) for lv in levels
        }
        assert sum(b.count for b in dist.bins) == 3
        assert dist.n_sites_scored == 3


def test_site_below_threshold_shows_no_figures(db, versions, funder_setup):
    orgs, portfolio, funder = funder_setup
    make_cycle(
        db,
        organization=orgs[0],
        version=versions.full,
        responses=responses(versions.full_instrument, THRESHOLD - 1, seed=5),
        expected=4,
    )
    view = _view(db, funder, portfolio)
    site = next(s for s in view.sites if s.organization_id == orgs[0].id)
    assert site.status == "below_threshold"
    assert site.status_text == f"fewer than {THRESHOLD} respondents — not shown"
    assert site.scores == [] and site.changes == []
    assert site.latest.n_respondents is None and site.latest.response_rate is None
    dumped = view.sites_page.model_dump_json()
    for leak in ('"groups"', '"items"', '"comments"', '"answers"', "respondents_by_group", "leadership"):
        assert leak not in dumped


def test_condition_with_too_few_scores_is_suppressed(db, versions, funder_setup):
    orgs, portfolio, funder = funder_setup
    full = responses(versions.full_instrument, 2, seed=8)
    # A third respondent who answered only the context question: counted, but no condition score.
    context_only = ResponseInput(respondent_id="x", group="clinical", answers={"pps_status": "employ"})
    make_cycle(db, organization=orgs[0], version=versions.full, responses=[*full, context_only])
    site = next(s for s in _view(db, funder, portfolio).sites if s.organization_id == orgs[0].id)
    assert site.status == "scored"
    assert site.latest.n_respondents == 3
    assert {c.status for c in site.scores} == {"suppressed"}
    assert all(c.score is None and c.n is None and c.level_id is None for c in site.scores)


def test_change_from_baseline_to_latest(db, versions, funder_setup):
    orgs, portfolio, funder = funder_setup
    first = responses(versions.full_instrument, 5, seed=1, lean=2.0)
    middle = responses(versions.full_instrument, 5, seed=2, lean=3.0)
    last = responses(versions.full_instrument, 5, seed=3, lean=4.5)
    base = make_cycle(db, organization=orgs[0], version=versions.full, responses=first, name="Baseline")
    make_cycle(db, organization=orgs[0], version=versions.full, responses=middle, name="Midpoint")
    latest = make_cycle(db, organization=orgs[0], version=versions.full, responses=last, name="Follow-up")
    # An open cycle is not completed: it never replaces the latest completed one.
    make_cycle(db, organization=orgs[0], version=versions.full, responses=first, name="Open", closed=False)

    site = next(s for s in _view(db, funder, portfolio).sites if s.organization_id == orgs[0].id)
    assert site.latest.assessment_id == latest.id and site.baseline.assessment_id == base.id
    before = score_responses(versions.full_instrument, first, privacy_threshold=THRESHOLD)
    after = score_responses(versions.full_instrument, last, privacy_threshold=THRESHOLD)
    for domain in after.domains:
        change = site.change_for(domain.domain_id)
        assert change.baseline_score == round(before.domain(domain.domain_id).score, 1)
        assert change.latest_score == round(domain.score, 1)
        assert change.change == round(
            round(domain.score, 1) - round(before.domain(domain.domain_id).score, 1), 1
        )
        assert change.change > 0

    one_cycle = make_cycle(
        db,
        organization=orgs[1],
        version=versions.full,
        responses=responses(versions.full_instrument, 4, seed=9),
    )
    site_b = next(s for s in _view(db, funder, portfolio).sites if s.organization_id == orgs[1].id)
    assert site_b.latest.assessment_id == one_cycle.id
    assert site_b.baseline is None and site_b.changes == []


def test_sites_without_completed_cycle(db, versions, funder_setup):
    orgs, portfolio, funder = funder_setup
    make_cycle(
        db,
        organization=orgs[1],
        version=versions.full,
        closed=False,
        responses=responses(versions.full_instrument, 5, seed=4),
    )
    view = _view(db, funder, portfolio)
    assert view.summary.n_no_completed_cycle == 3
    assert all(s.status_text == "No completed cycle yet" and s.latest is None for s in view.sites)
    assert view.summary.shared_conditions == []


def test_different_instrument_versions_compared_on_shared_conditions(db, versions, funder_setup):
    orgs, portfolio, funder = funder_setup
    make_cycle(
        db,
        organization=orgs[0],
        version=versions.full,
        responses=responses(versions.full_instrument, 4, seed=1),
    )
    make_cycle(
        db,
        organization=orgs[1],
        version=versions.quick,
        responses=responses(versions.quick_instrument, 4, seed=2),
    )
    view = _view(db, funder, portfolio)
    note = view.summary.comparability_note
    assert note and "2 different instrument versions" in note and "share" in note
    assert {i.instrument_id for i in view.summary.instruments} == {"readiness_full", "quick_check"}

    only_quick = _view(db, funder, portfolio, filters=PortfolioFilters(instrument="quick_check"))
    assert only_quick.summary.comparability_note is None
    statuses = {s.organization_id: s.status for s in only_quick.sites}
    assert statuses == {
        orgs[0].id: "no_completed_cycle",
        orgs[1].id: "scored",
        orgs[2].id: "no_completed_cycle",
    }
    assert {i for i, _ in only_quick.options.instruments} == {"quick_check", "readiness_full"}


def test_filters_and_sorting(db, versions, funder_setup):
    orgs, portfolio, funder = funder_setup
    for index, org in enumerate(orgs[:2]):
        make_cycle(
            db,
            organization=org,
            version=versions.full,
            responses=responses(versions.full_instrument, 5, seed=index, lean=2 + 2 * index),
        )
    north = _view(db, funder, portfolio, filters=PortfolioFilters(region="North"))
    assert {s.name for s in north.sites} == {"Alder Family Services", "Cedar Counseling"}
    assert north.summary.portfolio.n_sites == 3 and north.summary.n_sites == 2
    cohort = _view(db, funder, portfolio, filters=PortfolioFilters(cohort="2026", region="South"))
    assert [s.name for s in cohort.sites] == ["Birch Behavioral Health"]

    descending = _view(db, funder, portfolio, sort=SortOrder.parse("-score_purpose"))
    # Birch leans higher; Cedar has no cycle and goes last whatever the direction.
    assert [s.name for s in descending.sites] == [
        "Birch Behavioral Health",
        "Alder Family Services",
        "Cedar Counseling",
    ]
    ascending = _view(db, funder, portfolio, sort=SortOrder.parse("score_purpose"))
    assert [s.name for s in ascending.sites] == [
        "Alder Family Services",
        "Birch Behavioral Health",
        "Cedar Counseling",
    ]
    by_name = _view(db, funder, portfolio, sort=SortOrder.parse("-name"))
    assert [s.name for s in by_name.sites] == [
        "Cedar Counseling",
        "Birch Behavioral Health",
        "Alder Family Services",
    ]
    with pytest.raises(BadInput):
        SortOrder.parse("bogus")
    with pytest.raises(BadInput):
        SortOrder.parse("-score_Purpose;drop")
    # A condition that is not in the table (e.g. after a filter) sorts by name instead of failing.
    unknown = _view(db, funder, portfolio, sort=SortOrder.parse("-score_nonexistent"))
    assert [s.name for s in unknown.sites] == [
        "Alder Family Services",
        "Birch Behavioral Health",
        "Cedar Counseling",
    ]


def test_access(db, versions, funder_setup):
    _, portfolio, funder = funder_setup
    other_portfolio = make_portfolio(db, "Another funder's portfolio", [])
    other_funder = make_user(db, role="funder", portfolios=[other_portfolio])
    consultant = make_user(db, role="consultant")
    admin = make_user(db, role="admin")
    with pytest.raises(NotFound):
        _view(db, other_funder, portfolio)
    with pytest.raises(Forbidden):
        _view(db, consultant, portfolio)
    with pytest.raises(Forbidden):
        list_portfolios(db, user=consultant)
    assert [p.name for p in list_portfolios(db, user=funder)] == ["State peer program"]
    assert {p.name for p in list_portfolios(db, user=admin)} == {
        "State peer program",
        "Another funder's portfolio",
    }
    assert _view(db, admin, portfolio).summary.n_sites == 3
