"""The action-plan PDF, read back: content matches the stored scorecard and plan, it is tagged,
paged and sized as asked, free text stays text, and the renderer fetches nothing it is told to."""

from __future__ import annotations

import os
import re
import time

import pytest
from PIL import Image, ImageStat
from sqlmodel import Session, select

from app.db.models import (
    Assessment,
    AssessmentScore,
    AssessmentStatus,
    Commentary,
    PlanItem,
    PlanStatus,
    Release,
    Response,
)
from app.reports import pdf as report_pdf
from app.reports.charts import ChartBand, ChartBar, condition_chart_svg
from app.reports.context import long_date
from app.reports.pdf import (
    ReportAssetFetcher,
    html_to_pdf,
    render_report_html,
    render_report_pdf,
    report_assets,
)
from app.scoring import Scorecard
from app.scoring.numbers import format_percent
from app.services.releases import latest_release
from app.services.report_samples import create_sample_report_data
from app.services.reports import build_report_context
from tests.reports.conftest import page_images, pdf_reader, pdf_text, small_agency

LETTER = (612.0, 792.0)
A4 = (595.28, 841.89)


def _page_size(data: bytes) -> tuple[float, float]:
    box = pdf_reader(data).pages[0].mediabox
    return round(float(box.width), 2), round(float(box.height), 2)


def test_follow_up_report_matches_the_stored_scorecard_and_plan(db: Session, follow_up: Assessment, tmp_path):
    context = build_report_context(db, assessment_id=follow_up.id)
    data = render_report_pdf(context)
    text = pdf_text(data)
    scorecard = Scorecard.model_validate(db.get(AssessmentScore, follow_up.id).scorecard)

    # Cover: agency, cycle, instrument title, version and hash.
    assert "Riverside Family Services" in text and "Follow-up, fall 2027" in text
    # (The version the assessment is pinned to, not a literal: the shipped instrument gets revised.)
    assert context.instrument_version and context.instrument_version[0].isdigit()
    assert f"Organizational Readiness Self-Assessment, version {context.instrument_version}" in text
    assert context.instrument_hash[:16] in text

    # The summary opens with strengths: "What is going well" comes before "Where to focus".
    assert text.index("What is going well") < text.index("Where to focus")

    # Every condition's score and level, and every shown group's score, as stored.
    for domain in scorecard.domains:
        assert domain.score is not None and domain.level_label
        assert f"{domain.title} {domain.score:.1f} {domain.level_label} {domain.n}" in text
        for group in domain.groups:
            if group.score is not None:
                assert f"{group.label} {group.n} {group.score:.1f}" in text
        assert f"“Don't know” rate: {format_percent(domain.dont_know_rate)}" in text

    # Who answered: n per group, scored / submitted / in progress. (It used to skip every group
    # without a row in some condition, admin_hr among them; now every group the report counts is
    # checked, and the totals against the database.)
    responses = list(db.exec(select(Response).where(Response.assessment_id == follow_up.id)))
    assert len(context.group_counts) >= len({r.group for r in responses})
    for count in context.group_counts:
        assert f"{count.label} {count.scored} {count.submitted} {count.in_progress}" in text, count
    for status in ("submitted", "in_progress"):
        in_report = sum(getattr(c, status) for c in context.group_counts)
        assert in_report == sum(r.status == status for r in responses), status
    scored = [n for n in scorecard.respondents_by_group.values() if n]
    assert [c.scored for c in context.group_counts if c.scored] == scored
    group_ids = {g.label: g.group for d in scorecard.domains for g in d.groups}
    for count in context.group_counts:
        if count.label in group_ids:
            mine = [r for r in responses if r.group == group_ids[count.label]]
            assert count.submitted == sum(r.status == "submitted" for r in mine), count
    assert f"All groups {scorecard.n_respondents} 28 2" in text

    # The plan: every action not dismissed, decided ones first; dismissed ones never.
    items = list(db.exec(select(PlanItem).where(PlanItem.organization_id == follow_up.organization_id)))
    for item in items:
        if item.status == PlanStatus.dismissed:
            assert item.title not in text
        else:
            assert item.title in text
    statuses = [a.status for a in context.plan_decided]
    assert statuses == sorted(statuses, key=["in_progress", "accepted", "done"].index)
    assert all(a.status == "proposed" for a in context.plan_recommended)
    assert "Recommended, not yet decided" in text

    # Change since the baseline, per condition.
    assert context.change is not None
    assert "Change since Baseline, spring 2027" in text
    # The baseline's own date, not the day its scores were last computed.
    baseline = db.get(Assessment, follow_up.previous_assessment_id)
    held = baseline.closed_at or baseline.created_at
    closed_word = "closed" if baseline.closed_at else "started"
    assert f"Scores in Baseline, spring 2027 ({closed_word} {long_date(held)}) and now" in text
    for row in context.change.rows:
        assert row.then is not None and row.now is not None
        assert f"{row.title} {row.then:.1f} {row.now:.1f}" in text

    # Commentary, method notes, and a full citation for every evidence key the report cites.
    assert "real progress on team integration" in text
    assert "Coverage rule" in text and "50.0%" in text
    cited = {key for c in context.conditions for key in c.evidence}
    cited |= {key for a in context.plan_decided + context.plan_recommended for key in a.evidence}
    assert {r.key for r in context.references} == cited
    for reference in context.references:
        assert reference.citation[:60] in text
    # Readers get author–year citations in the text and the references; keys are for authors.
    assert "Evidence: Valentine et al., 2022" in text
    assert "valentine2022" not in text and "nicholson2018" not in text
    assert "Nicholson & Valentine, 2018 Nicholson, J., & Valentine, A. (2018)" in text
    # The cover names the agency once (the running head starts on page 2).
    cover = " ".join((pdf_reader(data).pages[0].extract_text() or "").split())
    assert cover.count("Riverside Family Services") == 1

    # Quality: page count, running header, page numbers, Letter paper.
    pages = len(pdf_reader(data).pages)
    assert 6 <= pages <= 48  # with the per-question appendix
    assert f"Page 2 of {pages}" in text
    assert text.count("Riverside Family Services — Follow-up, fall 2027") >= pages - 1
    assert _page_size(data) == LETTER

    # No action is split across pages: each action's title and its last line share a page.
    page_texts = [" ".join((page.extract_text() or "").split()) for page in pdf_reader(data).pages]
    for action in context.plan_decided + context.plan_recommended:
        block_start = f"{action.title} {action.status_label}"  # the overview table has owner next
        starts = [t for t in page_texts if block_start in t]
        assert len(starts) == 1, action.title
        rest_of_page = starts[0][starts[0].index(block_start) :]
        assert action.steps[-1] in rest_of_page, f"{action.title} is split across pages"

    # Tagged PDF with language and title, so screen readers can read it.
    reader = pdf_reader(data)
    catalog = reader.trailer["/Root"]
    assert bool(catalog["/MarkInfo"]["/Marked"])
    assert "/StructTreeRoot" in catalog
    assert catalog["/Lang"] == "en"
    assert reader.metadata.title == context.title

    # Every page has ink on it (rasterized with pdftoppm).
    images = page_images(data, tmp_path)
    assert len(images) == pages
    for image_path in images:
        with Image.open(image_path) as image:
            grey = image.convert("L")
            lowest, _ = grey.getextrema()
            assert lowest < 128, f"{image_path.name} is blank"
            # A section's last page may hold a few lines (the per-question appendix ends on one):
            # every page still has text on it (the check above) and is not an empty page.
            assert ImageStat.Stat(grey).mean[0] < 254.8, f"{image_path.name} is nearly blank"


def test_a4_paper(db: Session, follow_up: Assessment):
    data = render_report_pdf(build_report_context(db, assessment_id=follow_up.id, paper="a4"))
    assert _page_size(data) == A4
    with pytest.raises(ValueError):
        build_report_context(db, assessment_id=follow_up.id, paper="legal")


def test_report_without_answers_says_so(db: Session, empty_assessment: Assessment):
    context = build_report_context(db, assessment_id=empty_assessment.id)
    assert not context.has_scores and context.conditions == [] and context.change is None
    text = pdf_text(render_report_pdf(context))
    assert "No responses yet" in text
    assert "Quiet Valley Agency" in text and "Method notes" in text
    assert len(pdf_reader(render_report_pdf(context)).pages) <= 5


HOSTILE = (
    '<img src=file:///etc/passwd> <style>body { display: none }</style> <a href="http://127.0.0.1:9/">x</a>'
)


def test_free_text_with_markup_is_printed_as_text_and_nothing_is_fetched(db: Session):
    # The respondent's comment is given before the results are released (comments are frozen into
    # the release), so the report prints it from the release, as it would any real comment.
    follow_up = create_sample_report_data(db, first_comment=("stigma", "Said " + HOSTILE))
    db.commit()
    release = latest_release(db, assessment_id=follow_up.id)
    assert release is not None and any(c["text"] == "Said " + HOSTILE for c in release.comments)
    hostile = HOSTILE
    unbroken = "https://example.org/" + "a" * 400  # no space to break at
    commentary = db.get(Commentary, follow_up.id)  # the sample data has one
    commentary.text = "Commentary " + hostile + "\n\n" + unbroken
    plan_item = db.exec(
        select(PlanItem).where(
            PlanItem.organization_id == follow_up.organization_id, PlanItem.status == PlanStatus.in_progress
        )
    ).first()
    plan_item.notes = "Note " + hostile
    db.commit()

    context = build_report_context(db, assessment_id=follow_up.id)
    html = render_report_html(context)
    assert "<img src=file:///etc/passwd>" not in html and "<style>body" not in html
    assert "&lt;img src=file:///etc/passwd&gt;" in html

    fetcher = ReportAssetFetcher(report_assets(context))
    data = html_to_pdf(html, paper=context.paper, fetcher=fetcher)
    assert fetcher.served == ["peerready-asset:chart.svg"]
    assert fetcher.refused == []
    text = pdf_text(data)
    # Long free text wraps inside the page instead of running off its edge.
    lines = [line for page in pdf_reader(data).pages for line in (page.extract_text() or "").splitlines()]
    assert max(len(line) for line in lines) < 200
    assert "a" * 400 in "".join(line.strip() for line in lines)
    for prefix in ("Commentary", "Note", "Said"):
        assert f"{prefix} <img src=file:///etc/passwd> <style>body {{ display: none }}</style>" in text


def test_fetcher_refuses_every_url_but_the_reports_own_assets():
    html = """<!DOCTYPE html><html lang="en"><head><title>t</title>
    <link rel="stylesheet" href="http://127.0.0.1:9/evil.css">
    <style>p { background: url(file:///etc/hostname) }</style></head>
    <body><p>Still renders</p><img src="file:///etc/passwd" alt="x">
    <img src="peerready-asset:chart.svg" alt="c">
    <img src="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E" alt="d"></body></html>"""
    chart = condition_chart_svg([ChartBar("A", 50.0)], [ChartBand("Low", 0, 100)]).encode()
    fetcher = ReportAssetFetcher({"chart.svg": (chart, "image/svg+xml")})
    data = html_to_pdf(html, fetcher=fetcher)
    assert data.startswith(b"%PDF")
    assert "Still renders" in pdf_text(data)
    assert "file:///etc/passwd" in fetcher.refused
    assert "http://127.0.0.1:9/evil.css" in fetcher.refused
    assert "file:///etc/hostname" in fetcher.refused
    assert any(url.startswith("data:") for url in fetcher.refused)
    assert fetcher.served == ["peerready-asset:chart.svg"]


def test_small_groups_are_never_printed_with_a_score(db: Session):
    assessment = small_agency(db)
    context = build_report_context(db, assessment_id=assessment.id)
    scorecard = Scorecard.model_validate(db.get(AssessmentScore, assessment.id).scorecard)
    threshold = context.privacy_threshold
    small = {g for g, n in scorecard.respondents_by_group.items() if 0 < n < threshold}
    assert small and set(scorecard.suppressed_groups) >= small, "the fixture must have small groups"
    # (A loop "if row.n < threshold: assert ..." ran zero times here: small groups are pooled or
    # left out, so no printed row is small. Say that, and check the rows that are printed.)
    rows = [row for condition in context.conditions for row in condition.groups]
    assert rows, "the report compares groups"
    assert all(row.n >= threshold for row in rows), [(r.label, r.n) for r in rows]
    hidden = context.suppressed_groups  # their labels
    assert len(hidden) == len(scorecard.suppressed_groups)
    assert not {row.label for row in rows} & set(hidden), "a small group is printed on its own"
    for row in rows:
        if row.note.startswith("Combines: "):
            assert sorted(row.note.removeprefix("Combines: ").split(", ")) == sorted(hidden)
    text = pdf_text(render_report_pdf(context))
    assert f"Not shown on their own in at least one condition: {', '.join(hidden)}." in text
    for label in hidden:
        # A group row is "label n score"; the who-answered table's "label n submitted in progress"
        # has whole numbers only.
        assert not re.search(rf"{label} \d+ \d+\.\d", text), f"{label} printed with a score"


def test_same_data_gives_the_same_report_and_repeat_downloads_come_from_the_cache(
    db: Session, follow_up: Assessment, tmp_path
):
    first = build_report_context(db, assessment_id=follow_up.id)
    again = build_report_context(db, assessment_id=follow_up.id)
    assert first.canonical_json() == again.canonical_json()
    assert report_pdf.cache_key(first) == report_pdf.cache_key(again)

    cache = tmp_path / "report-cache"
    data = render_report_pdf(first, cache_dir=cache)
    assert [p.name for p in cache.iterdir()] == [f"{report_pdf.cache_key(first)}.pdf"]
    started = time.perf_counter()
    repeat = render_report_pdf(again, cache_dir=cache)
    assert repeat == data
    assert time.perf_counter() - started < 0.5  # a file read, not a render (~1-2 s)

    # A plan change is a different report.
    item = db.exec(select(PlanItem).where(PlanItem.status == PlanStatus.accepted)).first()
    item.status = PlanStatus.done
    db.commit()
    changed = build_report_context(db, assessment_id=follow_up.id)
    assert report_pdf.cache_key(changed) != report_pdf.cache_key(first)
    # A4 is a different report too.
    assert report_pdf.cache_key(
        build_report_context(db, assessment_id=follow_up.id, paper="a4")
    ) != report_pdf.cache_key(changed)


def test_cache_keeps_only_the_newest_files(tmp_path, monkeypatch):
    monkeypatch.setattr(report_pdf, "CACHE_KEEP", 3)
    for index in range(5):
        path = tmp_path / f"{index}.pdf"
        report_pdf._store(tmp_path, path, b"%PDF-" + bytes([index]))
        os.utime(path, ns=(index * 10**9, index * 10**9))
    report_pdf._store(tmp_path, tmp_path / "new.pdf", b"%PDF-new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["3.pdf", "4.pdf", "new.pdf"]


def test_chart_is_plain_svg_with_one_bar_per_scored_condition():
    bars = [
        ChartBar("Purpose <&>", 62.5, "Established"),
        ChartBar("Stigma", None),
        ChartBar("Team", 100.0, "Strong"),
    ]
    bands = [ChartBand("Low", 0, 50), ChartBand("High", 50, 100)]
    svg = condition_chart_svg(bars, bands)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "Purpose &lt;&amp;&gt;" in svg
    assert "62.5 · Established" in svg and "No score" in svg and "100.0 · Strong" in svg
    assert svg == condition_chart_svg(bars, bands)  # deterministic
    assert svg.count('fill="#1d5b79"') == 2  # one bar per condition with a score


def test_report_of_an_unknown_assessment_is_not_found(db: Session):
    from app.errors import NotFound

    with pytest.raises(NotFound):
        build_report_context(db, assessment_id=987654)
    assert db.exec(select(Assessment)).first() is None


def test_narrowed_user_agent_stylesheet_prints_the_same_pages(db: Session, follow_up: Assessment, tmp_path):
    """The renderer narrows WeasyPrint's bare `::marker` rule to `<li>` and drops its `::footnote-*`
    and `::note-*` rules (they match every element and cost a fifth of a render): the pages must be
    the ones WeasyPrint's own stylesheet prints."""
    from weasyprint import HTML

    user_agent = report_pdf.report_user_agent_css_text()
    assert "\nli::marker {" in user_agent
    assert "\n::marker" not in user_agent and "::footnote-" not in user_agent and "::note-" not in user_agent

    context = build_report_context(db, assessment_id=follow_up.id)
    html = render_report_html(context)
    narrowed = html_to_pdf(html, paper="letter", assets=report_assets(context))
    stylesheets, font_config = report_pdf._stylesheets("letter")
    stock = HTML(
        string=html, url_fetcher=ReportAssetFetcher(report_assets(context)), base_url="peerready-asset:"
    ).write_pdf(stylesheets=stylesheets, font_config=font_config, pdf_variant="pdf/ua-1", pdf_tags=True)
    assert pdf_text(narrowed) == pdf_text(stock)
    for name in ("narrowed", "stock"):
        (tmp_path / name).mkdir()
    narrowed_pages = page_images(narrowed, tmp_path / "narrowed", dpi=40)
    stock_pages = page_images(stock, tmp_path / "stock", dpi=40)
    assert len(narrowed_pages) == len(stock_pages) > 5
    assert [page.read_bytes() for page in narrowed_pages] == [page.read_bytes() for page in stock_pages]


def test_garbage_collector_is_paused_only_while_rendering():
    import gc
    import threading

    html = '<!DOCTYPE html><html lang="en"><head><title>t</title></head><body><p>Hello</p></body></html>'
    assert gc.isenabled()
    seen_during_render = []
    with report_pdf._cyclic_gc_paused():
        seen_during_render.append(gc.isenabled())
        # Another thread's render ends while this one is still running: the collector stays paused.
        worker = threading.Thread(target=html_to_pdf, args=(html,))
        worker.start()
        worker.join()
        seen_during_render.append(gc.isenabled())
    assert seen_during_render == [False, False]
    assert gc.isenabled()
    with pytest.raises(TypeError):
        html_to_pdf(None)  # WeasyPrint fails inside the paused section
    assert gc.isenabled()
    assert html_to_pdf(html).startswith(b"%PDF") and gc.isenabled()

    gc.disable()  # someone else turned it off: a render must not turn it back on
    try:
        html_to_pdf(html)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_open_cycle_with_answers_says_results_come_at_close(db: Session):
    """Before the first close there is no release, so no scores, but people have answered: the
    report must not say nobody has (the lead's progress page shows the same count)."""
    assessment = small_agency(db, name="Open Door Agency")
    assessment.status = AssessmentStatus.open
    assessment.close_date = None  # still taking answers
    db.add(assessment)
    for release in db.exec(select(Release).where(Release.assessment_id == assessment.id)):
        db.delete(release)  # the sample releases its answers; a cycle never closed has no release
    db.commit()
    context = build_report_context(db, assessment_id=assessment.id)
    assert not context.has_scores and context.n_submitted > 0
    text = " ".join(pdf_text(render_report_pdf(context)).split())
    assert "No responses yet" not in text and "Nobody has submitted" not in text
    assert "Results are not released yet." in text
    assert f"{context.n_submitted} people have submitted so far." in text
    spanish = " ".join(
        pdf_text(render_report_pdf(build_report_context(db, assessment_id=assessment.id, lang="es"))).split()
    )
    assert "Los resultados todavía no se han publicado." in spanish
