"""The package layout holds: no import circles, every module imports on its own without a
database, the core never imports the web layer, and one module talks to psycopg2.

The import graph is read from the source with :mod:`ast`: every ``import`` and
``from … import`` at module level (including those under a module-level ``if`` or
``try``), not those inside functions, which run later and cannot form a circle at import
time. ``from package import name`` counts as importing ``package.name`` when that is a
module.
"""

import ast
import subprocess
import sys

import pytest

from tests.conftest import REPO

PACKAGES = ("geo", "webmap")


def _modules():
    """``{dotted name: path}`` of every module of geo and webmap."""
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if "node_modules" in parts:
                continue
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imported(name, path, nodes):
    """Dotted names imported by the import statements among ``nodes``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in nodes:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            yield target
            for alias in node.names:
                if f"{target}.{alias.name}" in MODULES:
                    yield f"{target}.{alias.name}"


def _module_level(tree):
    """Statements run when the module is imported: the body, and what module-level
    ``if``/``try``/``with`` blocks hold, but not function or class bodies."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.If, ast.Try, ast.With)):
            for field in ("body", "orelse", "finalbody"):
                stack.extend(getattr(node, field, []))
            for handler in getattr(node, "handlers", []):
                stack.extend(handler.body)


def _trees():
    return {name: ast.parse(path.read_text(encoding="utf-8"), str(path))
            for name, path in MODULES.items()}


def module_graph():
    """``{module: set of geo/webmap modules it imports at module level}``."""
    graph = {}
    for name, tree in _trees().items():
        imported = set(_imported(name, MODULES[name], _module_level(tree)))
        # Importing a.b.c runs a and a.b first.
        imported |= {".".join(m.split(".")[:i]) for m in imported
                     for i in range(1, m.count(".") + 1)}
        graph[name] = {m for m in imported if m in MODULES and m != name}
    return graph


def all_imports():
    """``{module: every dotted name it imports anywhere}`` (function bodies included)."""
    return {name: set(_imported(name, MODULES[name], ast.walk(tree)))
            for name, tree in _trees().items()}


def find_cycle(graph):
    """One import circle as a list of modules, or None."""
    state = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt, path + [nxt])
                if found:
                    return found
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_the_graph_reader_sees_imports_and_circles():
    # The reader itself, on hand-made source: a checker that finds nothing proves nothing.
    tree = ast.parse("import a.b\nfrom . import c\nif x:\n    from .d import e\n"
                     "def f():\n    import g\n")
    names = set(_imported("pkg.mod", REPO / "pkg" / "mod.py", _module_level(tree)))
    assert names == {"a.b", "pkg", "pkg.d"}
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_layout_is_read_whole():
    graph = module_graph()
    assert {"geo.store.db", "geo.grids.codes", "webmap.cli", "webmap.views.pages"} <= set(graph)
    assert "geo.store.db" in graph["geo.grids.assign"]
    assert "geo.grids.codes" in graph["geo.grids.validation"]


def test_no_import_circles():
    assert find_cycle(module_graph()) is None


def test_the_core_never_imports_the_web_layer():
    web = ("flask", "flask_babel", "werkzeug", "folium", "branca", "jinja2", "webmap")
    leaks = sorted((name, imp) for name, imports in all_imports().items()
                   if name.split(".")[0] == "geo" for imp in imports
                   if imp.split(".")[0] in web)
    assert leaks == []


def test_only_the_database_gateway_imports_psycopg2():
    users = sorted(name for name, imports in all_imports().items()
                   if any(imp.split(".")[0] == "psycopg2" for imp in imports))
    assert users == ["geo.store.db"]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_imports_alone_without_a_database(module):
    # A fresh interpreter per module, so no other import hides a missing one or a circle;
    # no database settings, so a module that connects at import time fails.
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "CIVGRID_DATA_DIR": "/nonexistent",
           "CIVGRID_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    out = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
