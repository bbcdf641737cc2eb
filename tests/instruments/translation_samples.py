"""The small sample instrument in English and Spanish, as files: `mini.yaml` and `mini.es.yaml`."""

from __future__ import annotations

import tempfile
from pathlib import Path

from instrument_samples import replace_once

from app.instruments.loader import load_source_document
from app.instruments.translation_files import NewEntry, overlay_document, overlay_header
from app.instruments.translations import TextEntry, source_hash, text_entries

BILINGUAL_INSTRUMENT = replace_once("languages: [en]", "languages: [en, es]")

# Every text of the sample, by its key in the translation file.
SPANISH = {
    "title": "Revisión breve de la preparación",
    "groups.leaders.label": "Líderes",
    "groups.staff.label": "Personal",
    "scales.agree.label": "Acuerdo",
    "scales.agree.options.1.label": "En desacuerdo",
    "scales.agree.options.2.label": "Neutral",
    "scales.agree.options.3.label": "De acuerdo",
    "scales.agree.options.dk.label": "No sé",
    "scales.yesno.options.yes.label": "Sí",
    "scales.yesno.options.no.label": "No",
    "domains.culture.title": "Cultura",
    "domains.resources.title": "Recursos",
    "items.employs_peers.text": "¿Emplean ustedes especialistas de apoyo entre pares?",
    "items.values_peers.text": "Los líderes valoran a los especialistas de apoyo entre pares.",
    "items.peer_supervision.text": "Reciben supervisión de alguien que conoce este trabajo.",
    "items.peer_supervision.help": "La supervisión puede ser dentro o fuera de la agencia.",
    "items.budget.text": "Hay una partida del presupuesto para los puestos de apoyo entre pares.",
    "scoring.levels.emerging.label": "Primeros pasos",
    "scoring.levels.developing.label": "En desarrollo",
    "scoring.levels.established.label": "Establecido",
    "actions.name_a_champion.title": "Nombrar a un líder que promueva el programa",
    "actions.name_a_champion.rationale": "Los puestos de pares duran cuando un líder se hace cargo de ellos.",
    "actions.name_a_champion.steps[0]": "Elegir a un líder.",
    "actions.name_a_champion.steps[1]": "Anunciar el puesto.",
    "actions.name_a_champion.timeframe": "1 mes",
    "actions.fund_roles.title": "Financiar los puestos de pares",
    "actions.fund_roles.rationale": "Los fondos estables mantienen los puestos de pares.",
    "actions.fund_roles.steps[0]": "Agregar una partida al presupuesto.",
    "actions.fund_roles.timeframe": "6 meses",
}


def spanish_overlay(instrument_text: str = BILINGUAL_INSTRUMENT, skip: tuple[str, ...] = ()) -> str:
    """mini.es.yaml for this English text: every entry stamped with the hash of its English."""
    entries = []
    for entry in _entries(instrument_text):
        if entry.key in skip:
            continue
        assert isinstance(entry.value, str)
        entries.append(NewEntry(entry.key, SPANISH[entry.key], source_hash(entry.value)))
    return overlay_document(entries, header=overlay_header("mini.yaml", "es", "en"))


def _entries(instrument_text: str) -> list[TextEntry]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mini.yaml"
        path.write_text(instrument_text, encoding="utf-8")
        instrument, _ = load_source_document(path)
    return text_entries(instrument)


def write_pair(folder: Path, instrument_text: str = BILINGUAL_INSTRUMENT, overlay: str | None = None) -> Path:
    """mini.yaml and mini.es.yaml in `folder`; returns the instrument's path."""
    path = folder / "mini.yaml"
    path.write_text(instrument_text, encoding="utf-8")
    (folder / "mini.es.yaml").write_text(
        spanish_overlay(instrument_text) if overlay is None else overlay, encoding="utf-8"
    )
    return path
