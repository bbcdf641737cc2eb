"""Reading grade and coverage counts for every instrument in instruments/*.yaml.

Usage: .venv/bin/python scripts/reading_grade.py [--groups] [FILE ...]

Prints, per file: scored items per domain, actions per domain, the Flesch-Kincaid grade of
(a) all item texts joined as sentences and (b) the mean per item, and of action titles plus
rationales. For a file translated into Spanish (`languages: [en, es]` and `<name>.es.yaml`), also
the Fernández-Huerta reading ease of the same Spanish texts, with textstat's own figure (which
counts fewer syllables) beside it. With --groups, also how many scored items each respondent
group sees per domain for each answer to a context (choice) question. Exits 1 when any file's
item grade (a) is above the limit or a Spanish ease is below its line, 2 when a file does not load.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.instruments.catalog import instrument_files  # noqa: E402
from app.instruments.models import Instrument  # noqa: E402
from app.instruments.readability import (  # noqa: E402
    MAX_ITEM_GRADE,
    MIN_ACTION_EASE_ES,
    MIN_ITEM_EASE_ES,
    measure,
    measure_spanish,
    spanish_languages,
    visible_scored_items,
)


def load(path: Path) -> Instrument:
    try:  # the full validator (with cross-checks), when it is there
        from app.instruments.loader import load_instrument_file
    except ImportError:
        return Instrument.model_validate(YAML(typ="safe").load(path.read_text(encoding="utf-8")))
    return load_instrument_file(path).instrument


def context_answers(instrument: Instrument) -> list[dict[str, str]]:
    """One answer set per option of each unscored choice question that other items depend on."""
    used = {i.show_if.item for i in instrument.items if i.show_if is not None}
    sets: list[dict[str, str]] = []
    for item_id in sorted(used):
        if not instrument.has_item(item_id):
            continue
        scale = instrument.scale_by_id(instrument.item_by_id(item_id).scale)
        sets.extend({item_id: o.value} for o in scale.options if o.kind == "choice")
    return sets or [{}]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--groups", action="store_true", help="show items seen per group and domain")
    args = parser.parse_args(argv)
    files = args.files or instrument_files(ROOT / "instruments")  # translations load with their file

    status = 0
    for path in files:
        print(f"== {path.name}")
        try:
            instrument = load(path)
        except Exception as exc:  # report and carry on with the other files
            print(f"   could not load: {exc}")
            status = max(status, 2)
            continue
        report = measure(instrument)
        print(f"   scored items per domain: {report.scored_items_per_domain}")
        print(f"   actions per domain:      {report.actions_per_domain}")
        flag = "ok" if report.items_ok else f"ABOVE {MAX_ITEM_GRADE:g}"
        print(f"   item grade (joined):     {report.item_grade:.2f}  [{flag}]")
        print(f"   item grade (mean):       {report.item_grade_mean:.2f}")
        print(f"   action grade:            {report.action_grade:.2f}")
        hardest = ", ".join(f"{i} {g:.1f}" for i, g in report.hardest_items)
        print(f"   hardest items:           {hardest}")
        for language in spanish_languages(instrument):
            spanish = measure_spanish(instrument, language)
            flag = "ok" if spanish.items_ok else f"BELOW {MIN_ITEM_EASE_ES:g}"
            action_flag = "ok" if spanish.actions_ok else f"BELOW {MIN_ACTION_EASE_ES:g}"
            print(f"   [{language}] item ease (joined):  {spanish.item_ease:.1f}  [{flag}]  Fernández-Huerta")
            print(f"   [{language}] item ease (mean):    {spanish.item_ease_mean:.1f}")
            print(f"   [{language}] action ease:         {spanish.action_ease:.1f}  [{action_flag}]")
            print(
                f"   [{language}] textstat's figure:   {spanish.item_ease_textstat:.1f}  (pyphen syllables)"
            )
            hardest = ", ".join(f"{i} {e:.1f}" for i, e in spanish.hardest_items)
            print(f"   [{language}] hardest items:       {hardest}")
            if not (spanish.items_ok and spanish.actions_ok):
                status = max(status, 1)
        if args.groups:
            for answers in context_answers(instrument):
                label = ", ".join(f"{k}={v}" for k, v in answers.items()) or "all"
                print(f"   seen per group ({label}):")
                for group in instrument.groups:
                    counts = visible_scored_items(instrument, group.id, answers)
                    print(f"     {group.id:<16} {counts}  total {sum(counts.values())}")
        if not report.items_ok:
            status = max(status, 1)
    return status


if __name__ == "__main__":
    sys.exit(main())
