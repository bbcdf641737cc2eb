"""The layout rules of README.md ("How it fits together"), checked on the source.

1. All database access lives in `app/services/` (one module per pipeline stage) and `app/db/`
   (engine, table models, migrations). Everything else may pass a `Session` or an `Engine`
   along, but never builds a query: no query constructs from SQLAlchemy or SQLModel, and no
   `session.exec/get/add/...` calls.
2. The core is pure: the instrument models and catalog, the scoring rules, the portfolio's
   parameters, privacy rules and view, and the report's data models and chart import nothing from
   the web, the database, the services or the settings.
3. Nothing below the web layer imports it: the services, the core, reports and portfolio work
   without FastAPI (only the web app itself and `peerready serve` do).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"

QUERY_HOMES = ("app/services/", "app/db/")
# Types that may be passed through; everything else from these packages builds or runs queries.
PASS_THROUGH = {"Session", "Engine", "Connection"}  # handles a route passes on to a service
DATABASE_PACKAGES = ("sqlalchemy", "sqlmodel")
SESSION_NAMES = {"session", "db", "separate", "connection", "conn"}
QUERY_METHODS = {
    "exec",
    "execute",
    "scalar",
    "scalars",
    "scalar_one",
    "get",
    "get_one",
    "add",
    "add_all",
    "delete",
    "merge",
    "refresh",
    "flush",
    "query",
    "bulk_save_objects",
    "bulk_insert_mappings",
}
PURE = (
    "app/instruments/",
    "app/scoring/",
    "app/disclosure/",
    "app/portfolio/params.py",
    "app/portfolio/privacy.py",
    "app/portfolio/view.py",
    "app/portfolio/schemas.py",
    "app/portfolio/sample.py",
    "app/reports/models.py",
    "app/reports/charts.py",
)
IMPURE_FOR_THE_CORE = (
    "fastapi",
    "starlette",
    "sqlalchemy",
    "sqlmodel",
    "weasyprint",
    "app.db",
    "app.web",
    "app.services",
    "app.cli",
    "app.config",
)
WEB = ("fastapi", "starlette", "app.web")


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(APP.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if "/migrations/" in relative or "/_shipped/" in relative:
            continue
        yield relative, ast.parse(path.read_text(encoding="utf-8"), filename=relative)


MODULES = dict(_modules())


def _imports(tree: ast.Module) -> Iterator[tuple[str, str | None, int]]:
    """(module, imported name or None, line) for every import, at any depth (lazy ones too)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                yield node.module, alias.name, node.lineno


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _query_violations(path: str, tree: ast.Module) -> list[str]:
    found = []
    for module, name, line in _imports(tree):
        if _within(module, DATABASE_PACKAGES) and name not in PASS_THROUGH:
            found.append(f"{path}:{line}: imports {name or module} from {module}")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in QUERY_METHODS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in SESSION_NAMES
        ):
            found.append(f"{path}:{node.lineno}: calls {node.func.value.id}.{node.func.attr}()")
    return found


def test_queries_live_in_the_services_and_db_packages_only():
    violations = [
        problem
        for path, tree in MODULES.items()
        if not path.startswith(QUERY_HOMES)
        for problem in _query_violations(path, tree)
    ]
    assert violations == [], "queries outside app/services and app/db:\n" + "\n".join(violations)


def test_the_check_finds_a_query_where_it_does_not_belong():
    tree = ast.parse(
        "from sqlmodel import Session, select\n"
        "def page(session: Session):\n"
        "    return session.exec(select(User)).all(), request.session.get('user_id')\n"
    )
    assert _query_violations("app/web/routes/x.py", tree) == [
        "app/web/routes/x.py:1: imports select from sqlmodel",
        "app/web/routes/x.py:3: calls session.exec()",
    ]


@pytest.mark.parametrize("path", [p for p in MODULES if p.startswith(PURE)])
def test_the_core_is_pure(path):
    impure = [
        f"{path}:{line}: imports {module}"
        for module, _, line in _imports(MODULES[path])
        if _within(module, IMPURE_FOR_THE_CORE)
    ]
    assert impure == []


def test_nothing_below_the_web_layer_imports_it():
    found = [
        f"{path}:{line}: imports {module}"
        for path, tree in MODULES.items()
        if not path.startswith(("app/web/", "app/cli/"))
        for module, _, line in _imports(tree)
        if _within(module, WEB)
    ]
    assert found == []


def test_every_pure_area_exists():
    # A renamed module must not silently drop out of the purity check.
    for entry in PURE:
        assert (ROOT / entry).exists(), entry


def test_the_readme_layout_table_names_what_exists():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## How it fits together", 1)[1].split("\n## ", 1)[0]
    named = [p for p in re.findall(r"`([^`\s]+)`", section) if "/" in p and not p.startswith("/")]
    assert len(named) > 15
    for path in named:
        assert list(ROOT.glob(path.rstrip("/"))), f"README.md names {path}, which does not exist"
    stages = [
        line.split("|")[1].strip()
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith("| stage")
    ]
    assert stages[:9] == [
        "instrument YAML",
        "validated model",
        "web form",
        "stored answers",
        "scorecard (rules)",
        "disclosure control",
        "action plan",
        "PDF",
        "portfolio",
    ]


HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def _route_functions() -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for path, tree in MODULES.items():
        if not path.startswith("app/web/routes/"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr in HTTP_METHODS
                for d in node.decorator_list
            ):
                yield path, node


def test_routes_take_no_parameter_they_do_not_use():
    """A parameter that is only there for its side effect (say, `admin: AdminUser` to require an
    administrator) belongs in a router- or route-level `dependencies=[...]` instead."""
    unused = []
    for path, node in _route_functions():
        used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        for argument in node.args.args + node.args.kwonlyargs:
            if argument.arg not in used:
                unused.append(f"{path}:{node.lineno}: {node.name}({argument.arg})")
    assert unused == []


def test_every_admin_route_requires_an_administrator_through_the_router():
    from app.web.deps import require_admin
    from app.web.routes.admin import router

    assert [d.dependency for d in router.dependencies] == [require_admin]
    assert len(router.routes) >= 22
