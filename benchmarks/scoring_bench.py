"""Scoring benchmark: one scorecard of the full instrument with exact (Fraction) arithmetic. Prints
figures; asserts nothing.

    .venv/bin/python benchmarks/scoring_bench.py [--respondents 40] [--runs 30] [--seed 1]

Random answers (about 90% of items answered, every option equally likely, groups at random) to
`instruments/readiness-full.yaml`; `score_responses` is timed end to end (checks, visibility,
exact means, SD, groups, gaps, items, reasons, actions). Target: p50 <= 50 ms for 40 respondents.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_MS = 50.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--respondents", type=int, default=40)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from app.instruments.loader import load_instrument_file
    from app.paths import INSTRUMENTS_DIR
    from app.scoring import ResponseInput, score_responses

    instrument = load_instrument_file(INSTRUMENTS_DIR / "readiness-full.yaml").instrument
    rng = random.Random(args.seed)
    groups = [g.id for g in instrument.groups]
    people = []
    for n in range(args.respondents):
        answers = {}
        for item in instrument.items:
            if rng.random() < 0.9:
                answers[item.id] = rng.choice([o.value for o in instrument.scale_by_id(item.scale).options])
        people.append(ResponseInput(respondent_id=str(n), group=rng.choice(groups), answers=answers))

    score_responses(instrument, people)  # warm up
    samples = []
    cpu = []  # CPU time of this process: steadier than wall time on a shared machine
    for _ in range(args.runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        score_responses(instrument, people)
        samples.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    verdict = "ok" if p50 <= TARGET_MS else "OVER TARGET"
    print(
        f"scorecard, {args.respondents} respondents x {len(instrument.items)} items: "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, best {ordered[0]:.1f} ms, "
        f"CPU p50 {statistics.median(cpu):.1f} ms "
        f"(target p50 <= {TARGET_MS:.0f} ms: {verdict})"
    )


if __name__ == "__main__":
    main()
