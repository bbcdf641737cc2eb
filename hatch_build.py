"""Build hook: compile the gettext catalogs (app/locale/*/LC_MESSAGES/*.po) into the wheel.

Compiled `.mo` files are build output and are not committed. A source checkout (or an editable
install) needs no compiled files: app/i18n.py compiles a catalog in memory when its `.mo` is
missing, so a translator's edit shows at the next start without a build step.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


def compile_catalogs(locale_dir: Path, out_dir: Path) -> dict[str, str]:
    """Compile every `.po` under `locale_dir` into `out_dir`; returns {compiled file: path in the
    wheel}. Fuzzy entries are left out, as at run time."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written: dict[str, str] = {}
    for po_path in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
        lang = po_path.parent.parent.name
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=lang)
        relative = po_path.relative_to(locale_dir).with_suffix(".mo")
        target = out_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)
        written[str(target)] = f"app/locale/{relative.as_posix()}"
    return written


class CatalogBuildHook(BuildHookInterface):  # type: ignore[misc]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return  # an editable install reads the .po files (see the module docstring)
        self._out = tempfile.TemporaryDirectory(prefix="peerready-mo-")
        compiled = compile_catalogs(Path(self.root) / "app" / "locale", Path(self._out.name))
        build_data.setdefault("force_include", {}).update(compiled)

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        out = getattr(self, "_out", None)
        if out is not None:
            out.cleanup()
