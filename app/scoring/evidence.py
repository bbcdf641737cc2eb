"""Agreement and reliability per condition, ready to show: the site's rwg(j) and awg(j) beside its
mean, alpha per condition for an instrument version, ICC(1)/ICC(2) across sites. Pure.

`app.scoring.agreement` computes the statistics; this module applies PeerReady's showing rules
(docs/scoring.md, "Agreement and reliability statistics"):

* a site's agreement indices are withheld, like its mean, when fewer respondents than the
  privacy threshold contributed (reason "below_privacy_threshold");
* with fewer than SMALL_GROUP respondents they are shown with a note that they are unstable;
* a condition whose items do not share one equally spaced raw scale has no index (reason
  "not_one_scale"), never a number computed on the wrong scale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from app.disclosure import policy
from app.instruments.models import Instrument, text
from app.scoring.agreement import (
    MIN_RESPONDENTS_FOR_ALPHA,
    MIN_SITES_FOR_ICC,
    AlphaResult,
    Statistic,
    agreement,
    condition_answers,
    cronbach_alpha,
    icc,
)
from app.scoring.models import ResponseInput, Scorecard
from app.scoring.numbers import format_index
from app.scoring.rules import respondent_scores

__all__ = [
    "ConditionAgreementRow",
    "ConditionAlphaRow",
    "ConditionIccRow",
    "Index",
    "site_agreement",
    "condition_alphas",
    "condition_iccs",
]


@dataclass(frozen=True)
class Index:
    """One index as shown: the value (None with a reason), its two-decimal text, band and reading."""

    name: str
    value: float | None
    shown: str
    band: str | None
    reading: str
    reason: str | None
    small_n: bool = False

    @classmethod
    def of(cls, statistic: Statistic) -> Index:
        return cls(
            name=statistic.name,
            value=None if statistic.value is None else round(statistic.value, 6),
            shown=format_index(statistic.value),
            band=statistic.band,
            reading=statistic.reading,
            reason=statistic.reason,
            small_n=statistic.small_n,
        )

    @classmethod
    def missing(cls, name: str, reason: str, reading: str) -> Index:
        return cls(name=name, value=None, shown=format_index(None), band=None, reading=reading, reason=reason)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ConditionAgreementRow:
    domain_id: str
    title: str
    n: int  # respondents with a condition score (the scorecard's n)
    mean: float | None  # the site's condition score, 0-100, as shown (None when withheld)
    sd: float | None
    # respondents with at least one counted answer (what rwg(j)/awg(j) rest on); None when the
    # answers changed after the release (a reopened cycle), like the indices themselves
    raters: int | None
    items: int | None  # J: items with at least 2 counted answers
    rwg_j: Index
    awg_j: Index

    def as_dict(self) -> dict[str, Any]:
        return {
            "condition": self.domain_id,
            "title": self.title,
            "n": self.n,
            "mean": self.mean,
            "sd": self.sd,
            "raters": self.raters,
            "items": self.items,
            "rwg_j": self.rwg_j.as_dict(),
            "awg_j": self.awg_j.as_dict(),
        }


def site_agreement(
    instrument: Instrument,
    responses: Sequence[ResponseInput],
    scorecard: Scorecard,
    *,
    privacy_threshold: int,
    lang: str = "en",
    changed_since_release: bool = False,
) -> list[ConditionAgreementRow]:
    """rwg(j) and awg(j) (uniform null, raw scale, "available" missing rule) per condition, beside
    the scorecard's mean, n and SD.

    The indices are computed from `responses`, so they are only given while those are the answers
    the (frozen) scorecard was released from: with `changed_since_release` (a reopened cycle whose
    answers moved; the caller compared the release's fingerprints) they are withheld, or one
    person's changed answer would show in them (docs/privacy.md, "Releases")."""
    rows = []
    for domain in scorecard.domains:
        title = text(instrument.domain_by_id(domain.domain_id).title, lang)
        if changed_since_release:
            reading = (
                "Withheld: answers have changed since these results were released; agreement is"
                " shown again with the next release."
            )
            rows.append(
                ConditionAgreementRow(
                    domain.domain_id,
                    title,
                    domain.n,
                    domain.score,
                    domain.sd,
                    None,
                    None,
                    Index.missing("rwg_j", "changed_since_release", reading),
                    Index.missing("awg_j", "changed_since_release", reading),
                )
            )
            continue
        try:
            answers = condition_answers(instrument, responses, domain.domain_id)
        except ValueError as error:
            reading = f"No agreement index: {error}."
            rows.append(
                ConditionAgreementRow(
                    domain.domain_id,
                    title,
                    domain.n,
                    domain.score,
                    domain.sd,
                    0,
                    0,
                    Index.missing("rwg_j", "not_one_scale", reading),
                    Index.missing("awg_j", "not_one_scale", reading),
                )
            )
            continue
        result = agreement(list(answers.answers), answers.items, answers.scale)
        # Spread-like figures follow the disclosure layer's rule for the SD: site row only, and
        # only when that row may be shown.
        spread_ok = policy.may_show_spread(result.n_respondents, privacy_threshold, site_row=True)
        if domain.suppressed or domain.score is None or not spread_ok:
            reading = (
                f"Withheld: fewer than {privacy_threshold} respondents answered this condition, the"
                " smallest number whose figures are shown."
            )
            rwg_j = Index.missing("rwg_j", "below_privacy_threshold", reading)
            awg_j = Index.missing("awg_j", "below_privacy_threshold", reading)
        else:
            rwg_j, awg_j = Index.of(result.rwg_j), Index.of(result.awg_j)
        rows.append(
            ConditionAgreementRow(
                domain_id=domain.domain_id,
                title=title,
                n=domain.n,
                mean=domain.score,
                sd=domain.sd,
                raters=result.n_respondents,
                items=result.n_items,
                rwg_j=rwg_j,
                awg_j=awg_j,
            )
        )
    return rows


@dataclass(frozen=True)
class ConditionAlphaRow:
    domain_id: str
    title: str
    items: tuple[str, ...]  # the common items alpha is computed on
    reverse_items: tuple[str, ...]
    n_complete: int
    n_incomplete: int
    alpha: Index
    ci_low: float | None
    ci_high: float | None
    confidence: float

    @property
    def ci_shown(self) -> str:
        if self.ci_low is None or self.ci_high is None:
            return format_index(None)
        return f"{format_index(self.ci_low)} to {format_index(self.ci_high)}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "condition": self.domain_id,
            "title": self.title,
            "items": list(self.items),
            "reverse_items": list(self.reverse_items),
            "n_complete": self.n_complete,
            "n_incomplete": self.n_incomplete,
            "alpha": self.alpha.as_dict(),
            "ci_low": None if self.ci_low is None else round(self.ci_low, 6),
            "ci_high": None if self.ci_high is None else round(self.ci_high, 6),
            "confidence": self.confidence,
        }


def condition_alphas(
    instrument: Instrument,
    responses: Sequence[ResponseInput],
    *,
    min_n: int = MIN_RESPONDENTS_FOR_ALPHA,
    lang: str = "en",
) -> list[ConditionAlphaRow]:
    """Cronbach's alpha with Feldt's CI per condition over `responses` (pooled: every cycle of one
    instrument version).

    Alpha describes items answered together, so it is computed on the condition's COMMON items
    (`common_items`: asked of every respondent group, with no show_if) over the respondents who
    gave a scored answer to each of them. Items only some groups see would leave no complete
    respondent at all; the items used are listed with the result."""
    rows = []
    all_groups = {g.id for g in instrument.groups}
    for domain in instrument.domains:
        title = text(domain.title, lang)
        scored = [
            i
            for i in instrument.items_in(domain.id)
            if instrument.is_scored(i) and i.show_if is None and (not i.groups or all_groups <= set(i.groups))
        ]
        reverse = tuple(i.id for i in scored if i.reverse)
        try:
            answers = condition_answers(instrument, responses, domain.id)
        except ValueError as error:
            rows.append(
                ConditionAlphaRow(
                    domain.id,
                    title,
                    tuple(i.id for i in scored),
                    reverse,
                    0,
                    0,
                    Index.missing("alpha", "not_one_scale", f"No alpha: {error}."),
                    None,
                    None,
                    0.95,
                )
            )
            continue
        common = tuple(i.id for i in scored)
        result: AlphaResult = cronbach_alpha(list(answers.answers), common, min_n=min_n)
        rows.append(
            ConditionAlphaRow(
                domain_id=domain.id,
                title=title,
                items=common,
                reverse_items=reverse,
                n_complete=result.n_complete,
                n_incomplete=result.n_incomplete,
                alpha=Index.of(result.alpha),
                ci_low=result.ci_low,
                ci_high=result.ci_high,
                confidence=result.confidence,
            )
        )
    return rows


@dataclass(frozen=True)
class ConditionIccRow:
    domain_id: str
    title: str
    n_sites: int
    n_respondents: int
    mean_site_size: float | None
    f: float | None
    df_between: int
    df_within: int
    icc1: Index
    icc2: Index

    def as_dict(self) -> dict[str, Any]:
        return {
            "condition": self.domain_id,
            "title": self.title,
            "sites": self.n_sites,
            "respondents": self.n_respondents,
            "mean_site_size": self.mean_site_size,
            "f": None if self.f is None else round(self.f, 6),
            "df_between": self.df_between,
            "df_within": self.df_within,
            "icc1": self.icc1.as_dict(),
            "icc2": self.icc2.as_dict(),
        }


def condition_iccs(
    instrument: Instrument,
    responses_by_site: Mapping[str, Sequence[ResponseInput]],
    *,
    min_sites: int = MIN_SITES_FOR_ICC,
    lang: str = "en",
) -> list[ConditionIccRow]:
    """ICC(1) and ICC(2) per condition across sites that used `instrument`: a one-way ANOVA of the
    respondents' condition scores (those who met the coverage rule) nested in sites."""
    rows = []
    for domain in instrument.domains:
        scores = {
            site: [float(v) for v in respondent_scores(instrument, responses, domain.id)]
            for site, responses in responses_by_site.items()
        }
        result = icc(scores, min_sites=min_sites)
        rows.append(
            ConditionIccRow(
                domain_id=domain.id,
                title=text(domain.title, lang),
                n_sites=result.n_sites,
                n_respondents=result.n_respondents,
                mean_site_size=result.mean_site_size,
                f=result.f,
                df_between=result.df_between,
                df_within=result.df_within,
                icc1=Index.of(result.icc1),
                icc2=Index.of(result.icc2),
            )
        )
    return rows
