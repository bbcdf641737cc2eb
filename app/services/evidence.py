"""Evidence-grade results: agreement per site, alpha per instrument version, ICC across a
portfolio's sites, and the research download. The queries; the rules are in
`app.scoring.evidence` and `app.scoring.research`.

Every figure is computed from the same counted responses as the results page
(`app.services.scores.counted_responses`: submitted responses only).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.db.models import (
    Assessment,
    InstrumentVersion,
    Organization,
    Portfolio,
    PortfolioSite,
    Release,
    Role,
    User,
)
from app.disclosure import policy
from app.disclosure.release import fingerprints
from app.errors import BadInput, Conflict, Forbidden, NotFound
from app.instruments.models import Instrument, text
from app.scoring.agreement import MIN_RESPONDENTS_FOR_ALPHA, MIN_SITES_FOR_ICC
from app.scoring.evidence import (
    ConditionAgreementRow,
    ConditionAlphaRow,
    ConditionIccRow,
    condition_alphas,
    condition_iccs,
    site_agreement,
)
from app.scoring.item_detail import ConditionItems, item_details, item_table_csv, item_table_xlsx
from app.scoring.models import ResponseInput, Scorecard
from app.scoring.research import ResearchTable, research_table
from app.services import access, audit, instruments_store, releases
from app.services.scores import counted_responses


@dataclass(frozen=True)
class SiteAgreement:
    assessment: Assessment
    organization: str
    instrument: Instrument
    n_respondents: int
    rows: list[ConditionAgreementRow]


def _assessment(session: Session, assessment_id: int) -> Assessment:
    assessment: Assessment = access.get_row(session, Assessment, assessment_id, missing="No such assessment.")
    return assessment


def assessment_agreement(
    session: Session, *, assessment_id: int, privacy_threshold: int, lang: str = "en"
) -> SiteAgreement:
    """rwg(j)/awg(j) per condition of one assessment, beside its stored scorecard's figures.
    The caller has checked access (or is the operator at the server)."""
    assessment = _assessment(session, assessment_id)
    instrument = instruments_store.instrument_for(session, assessment)
    # Released figures only, like every other result (docs/privacy.md, "Releases").
    releases.ensure_released(session, assessment=assessment, privacy_threshold=privacy_threshold)
    released = releases.released_scorecard(session, assessment_id=assessment_id)
    if released is None:
        raise Conflict("Results appear when the cycle closes.")
    scorecard, release = released
    rows = agreement_rows(
        session,
        assessment=assessment,
        instrument=instrument,
        scorecard=scorecard,
        released_members=release.members,
        lang=lang,
    )
    return SiteAgreement(
        assessment=assessment,
        organization=access.organization_name(session, organization_id=assessment.organization_id),
        instrument=instrument,
        n_respondents=release.n_respondents,
        rows=rows,
    )


def agreement_rows(
    session: Session,
    *,
    assessment: Assessment,
    instrument: Instrument,
    scorecard: Scorecard,
    released_members: dict | None = None,
    lang: str = "en",
) -> list[ConditionAgreementRow]:
    """rwg(j)/awg(j) per condition beside a results page's (disclosed) released scorecard.
    `released_members` (Release.members, the answers' fingerprints at release) tells whether the
    stored answers changed since (a reopened cycle): then the indices are withheld, as the
    question download's counts are (`question_rows`)."""
    counted = counted_responses(session, assessment_id=assessment.id, instrument=instrument)
    changed = released_members is not None and fingerprints(counted.inputs) != released_members
    return site_agreement(
        instrument,
        counted.inputs,
        scorecard,
        privacy_threshold=scorecard.privacy_threshold,
        lang=lang,
        changed_since_release=changed,
    )


@dataclass(frozen=True)
class InstrumentIcc:
    instrument: Instrument
    n_sites: int  # sites whose latest cycle used this instrument and may be shown
    n_sites_left_out: int  # ...and those left out because fewer than k responded
    rows: list[ConditionIccRow]


def _released_cycles_for_icc(session: Session, *, portfolio_id: int) -> list[Assessment]:
    """Each site's newest released cycle (the one the portfolio shows), when it is not taking
    answers again: a reopened cycle's responses are live, and a funder never gets a figure from
    answers that were not released (docs/privacy.md, "Releases")."""
    from app.services.assessments import is_accepting_answers

    released = (
        select(Release.id)
        .where(col(Release.assessment_id) == col(Assessment.id), col(Release.n_respondents) > 0)
        .exists()
    )
    site_ids = session.exec(
        select(PortfolioSite.organization_id).where(PortfolioSite.portfolio_id == portfolio_id)
    ).all()
    cycles = []
    for organization_id in sorted(site_ids):
        newest = session.exec(
            select(Assessment)
            .where(Assessment.organization_id == organization_id, released)
            .order_by(col(Assessment.created_at).desc(), col(Assessment.id).desc())
            .limit(1)
        ).first()
        if newest is not None and not is_accepting_answers(newest):
            cycles.append(newest)
    return cycles


def portfolio_iccs(
    session: Session,
    *,
    user: User,
    portfolio_id: int,
    privacy_threshold: int,
    min_sites: int = MIN_SITES_FOR_ICC,
    lang: str = "en",
) -> tuple[Portfolio, list[InstrumentIcc]]:
    """ICC(1)/ICC(2) per condition across the portfolio's sites (each site's latest released
    cycle, as on the portfolio page; never an open one), one table per instrument. Only sites
    with at least the privacy threshold of counted responses take part, so no site enters a
    figure that its own page would hide. Funders and admins. Condition titles in `lang`."""
    portfolio = access.get_portfolio(session, user=user, portfolio_id=portfolio_id)
    by_instrument: dict[str, tuple[Instrument, dict[str, list[ResponseInput]], list[int]]] = {}
    for assessment in _released_cycles_for_icc(session, portfolio_id=portfolio.id):
        instrument = instruments_store.instrument_for(session, assessment)
        entry = by_instrument.setdefault(instrument.id, (instrument, {}, [0]))
        counted = counted_responses(session, assessment_id=assessment.id, instrument=entry[0])
        if policy.may_show_site(len(counted.inputs), privacy_threshold):
            entry[1][str(assessment.organization_id)] = counted.inputs
        else:
            entry[2][0] += 1
    tables = [
        InstrumentIcc(
            instrument=instrument,
            n_sites=len(sites),
            n_sites_left_out=left_out[0],
            rows=condition_iccs(instrument, sites, min_sites=min_sites, lang=lang),
        )
        for instrument, sites, left_out in by_instrument.values()
    ]
    return portfolio, tables


PSYCHOMETRICS_ROLES = (Role.admin, Role.consultant)


def psychometrics_for(
    session: Session,
    *,
    user: User,
    instrument_id: str,
    min_n: int = MIN_RESPONDENTS_FOR_ALPHA,
    lang: str = "en",
) -> list[VersionPsychometrics]:
    """Alpha per condition for instrument authors: administrators and consultants (pooled over
    every agency's cycles of a version, never one agency's figures). Condition titles in `lang`."""
    if user.role not in PSYCHOMETRICS_ROLES:
        raise Forbidden("Only administrators and consultants see instrument reliability.")
    return instrument_psychometrics(session, instrument_id=instrument_id, min_n=min_n, lang=lang)


def used_instruments(session: Session, *, lang: str = "en") -> list[tuple[str, str]]:
    """(instrument id, title) of every instrument some cycle has used: the newest version's title,
    in `lang` when that version has it (read from its snapshot), else as stored (English)."""
    rows = session.exec(
        select(InstrumentVersion.instrument_id, InstrumentVersion.title, InstrumentVersion.id).order_by(
            col(InstrumentVersion.id).desc()
        )
    ).all()
    seen: dict[str, str] = {}
    for instrument_id, title, version_id in rows:
        if instrument_id in seen:
            continue
        if lang != "en":
            version = session.get(InstrumentVersion, version_id)
            if version is not None:
                title = text(instruments_store.instrument_of_version(version).title, lang)
        seen[instrument_id] = title
    return sorted(seen.items())


@dataclass(frozen=True)
class VersionPsychometrics:
    version: InstrumentVersion
    instrument: Instrument
    n_assessments: int
    n_respondents: int
    min_n: int
    rows: list[ConditionAlphaRow]


def instrument_psychometrics(
    session: Session, *, instrument_id: str, min_n: int = MIN_RESPONDENTS_FOR_ALPHA, lang: str = "en"
) -> list[VersionPsychometrics]:
    """Alpha per condition for each stored version (snapshot) of `instrument_id`, pooled over the
    counted responses of every assessment pinned to it; newest snapshot first."""
    if min_n < 2:
        raise BadInput("The minimum number of respondents must be at least 2.")
    versions = session.exec(
        select(InstrumentVersion)
        .where(InstrumentVersion.instrument_id == instrument_id)
        .order_by(col(InstrumentVersion.id).desc())
    ).all()
    if not versions:
        raise NotFound(f"No assessment has used instrument {instrument_id!r}.")
    found = []
    for version in versions:
        instrument = instruments_store.instrument_of_version(version)
        assessment_ids = session.exec(
            select(Assessment.id)
            .where(Assessment.instrument_version_id == version.id)
            .order_by(col(Assessment.id))
        ).all()
        pooled: list[ResponseInput] = []
        for assessment_id in assessment_ids:
            assert assessment_id is not None
            counted = counted_responses(session, assessment_id=assessment_id, instrument=instrument)
            # Respondent ids must stay distinct across cycles; they are response ids already.
            pooled.extend(counted.inputs)
        found.append(
            VersionPsychometrics(
                version=version,
                instrument=instrument,
                n_assessments=len(assessment_ids),
                n_respondents=len(pooled),
                min_n=min_n,
                rows=condition_alphas(instrument, pooled, min_n=min_n, lang=lang),
            )
        )
    return found


@dataclass(frozen=True)
class ResearchExport:
    assessment: Assessment
    organization: Organization
    instrument: Instrument
    table: ResearchTable


def research_export(
    session: Session,
    *,
    assessment_id: int,
    privacy_threshold: int,
    actor: User | str,
    rng: random.Random | None = None,
    fmt: str = "table",
) -> ResearchExport:
    """The research download of one assessment (app.scoring.research says what is in it),
    recorded in the audit log (in the caller's transaction) with `fmt` ("table" for the CSV/XLSX
    file, "fhir" for QuestionnaireResponses: the same rows either way).

    Refused (Conflict) below the privacy threshold of counted respondents: with so few rows the
    file is close to the answers of named people. Who may ask is checked by the caller."""
    assessment = _assessment(session, assessment_id)
    organization = session.get(Organization, assessment.organization_id)
    if organization is None:  # the foreign key makes this impossible short of manual edits
        raise NotFound("No such organization.")
    if not organization.research_sharing:
        raise Forbidden(
            f"Research sharing is off for {organization.name}. An administrator can switch it on, once the"
            " agency has agreed, on the organization's admin page"
            f" (/admin/organizations/{organization.id})."
        )
    version = session.get(InstrumentVersion, assessment.instrument_version_id)
    if version is None:
        raise NotFound("The instrument of this assessment is missing.")
    instrument = instruments_store.instrument_of_version(version)
    counted = counted_responses(session, assessment_id=assessment_id, instrument=instrument)
    if len(counted.inputs) < privacy_threshold:
        raise Conflict(
            f"This cycle has {len(counted.inputs)} submitted responses; the research file needs at least"
            f" {privacy_threshold} (the privacy threshold)."
        )
    try:
        table = research_table(instrument, counted.inputs, content_hash=version.content_hash, rng=rng)
    except ValueError as error:
        raise Conflict(str(error)) from None
    audit.record(
        session,
        actor=actor,
        action="research.export",
        target=f"assessment:{assessment.id}",
        organization_id=organization.id,
        detail={"respondents": len(table.rows), "format": fmt},
    )
    return ResearchExport(
        assessment=assessment, organization=organization, instrument=instrument, table=table
    )


RESEARCH_ROLES = (Role.admin, Role.consultant)


def research_download(
    session: Session, *, user: User, assessment_id: int, privacy_threshold: int
) -> ResearchExport:
    """The research download from the web: administrators, and consultants of the assessment's
    organization, when its research sharing is on. Org leads and funders never (row-level data
    of their own staff); another organization's assessment is a 404 as everywhere."""
    assessment = access.get_assessment(session, user=user, assessment_id=assessment_id)
    if user.role not in RESEARCH_ROLES:
        raise Forbidden("Only administrators and the agency's consultants can download the research file.")
    assert assessment.id is not None  # a stored row
    return research_export(
        session, assessment_id=assessment.id, privacy_threshold=privacy_threshold, actor=user
    )


def research_sharing_of(session: Session, *, assessment: Assessment) -> bool:
    organization = session.get(Organization, assessment.organization_id)
    return bool(organization and organization.research_sharing)


def question_rows(
    session: Session,
    *,
    assessment: Assessment,
    instrument: Instrument,
    scorecard: Scorecard,
    lang: str = "en",
    by_group: bool = False,
    released_members: dict | None = None,
) -> list[ConditionItems]:
    """Per-question detail beside a results page's (disclosed) released scorecard; `by_group`
    adds the rows per respondent group of the download. `released_members` (Release.members, the
    answers' fingerprints at release) tells whether the stored answers changed since (a reopened
    cycle): then what is counted from them is withheld (app.scoring.item_detail.item_details)."""
    counted = counted_responses(session, assessment_id=assessment.id, instrument=instrument)
    changed = released_members is not None and fingerprints(counted.inputs) != released_members
    return item_details(
        instrument,
        counted.inputs,
        scorecard,
        lang=lang,
        by_group=by_group,
        changed_since_release=changed or (by_group and released_members is None),
    )


def question_download(
    session: Session, *, user: User, assessment_id: int, privacy_threshold: int, fmt: str
) -> tuple[bytes, str]:
    """The per-question table for the org lead, consultants and admins (never funders), under the
    same disclosure rules as the page; audited like the PDF. Like the results page it holds the
    latest release only: while a cycle is open there is no table (Conflict), because figures that
    moved with each submission would tell what the latest person answered (docs/privacy.md)."""
    assessment = access.get_assessment(session, user=user, assessment_id=assessment_id)
    instrument = instruments_store.instrument_for(session, assessment)
    releases.ensure_released(session, assessment=assessment, privacy_threshold=privacy_threshold)
    released = releases.released_scorecard(session, assessment_id=assessment.id)
    if released is None:
        raise Conflict("Results appear when the cycle closes.")
    scorecard, release = released
    rows = question_rows(
        session,
        assessment=assessment,
        instrument=instrument,
        scorecard=scorecard,
        by_group=True,
        released_members=release.members,
    )
    body = item_table_xlsx(rows) if fmt == "xlsx" else item_table_csv(rows)
    audit.record(
        session,
        actor=user,
        action="questions.export",
        target=f"assessment:{assessment.id}",
        organization_id=assessment.organization_id,
        detail={"format": fmt},
    )
    return body, f"peerready-questions-assessment-{assessment.id}.{fmt}"
