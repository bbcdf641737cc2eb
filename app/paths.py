"""Where the shipped instruments, templates and report templates are.

In a source checkout they sit at the top of the repository; in an installed wheel they are
carried inside the package under `_shipped/` (see pyproject.toml).
"""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    shipped = PACKAGE_DIR / "_shipped" / name
    if shipped.is_dir():
        return shipped
    return PACKAGE_DIR.parent / name


INSTRUMENTS_DIR = resource_dir("instruments")
TEMPLATES_DIR = resource_dir("templates")
REPORT_TEMPLATES_DIR = resource_dir("reports")
STATIC_DIR = PACKAGE_DIR / "web" / "static"
MIGRATIONS_DIR = PACKAGE_DIR / "db" / "migrations"
