"""The package's structure, as docs/architecture.md states it: layers, allowed imports, no cycle, small modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cnnprov_rdf"
MAX_LINES = 400

#: Layer of each module (by dotted name under cnnprov_rdf; the longest matching prefix wins).
LAYERS = {
    "errors": "base",
    "resources": "base",
    "capture.events": "events",
    "graph": "graph",
    "storage": "storage",
    "capture": "capture",
    "query": "query",
    "interop": "interop",
    "visual": "visual",
    "demo": "demo",
    "cli": "cli",
    "keras": "api",
    "__init__": "api",
}

#: What each layer may import from the package (besides itself): the "depends on" table of the docs.
ALLOWED = {
    "base": set(),
    "events": {"base"},
    "graph": {"base", "events"},
    "storage": {"base", "events", "graph"},
    "capture": {"base", "events", "graph", "storage"},
    "query": {"base", "graph", "storage"},
    "interop": {"base", "events", "graph", "storage", "query"},
    "visual": {"base", "graph", "storage", "query"},
    "demo": {"base", "capture"},
    "cli": {"base", "graph", "storage", "capture", "query", "interop", "visual", "demo"},
    "api": {"base", "events", "graph", "storage", "capture", "query", "interop"},
}

#: Libraries that only some layers may import: capture knows no RDF.
RDF_LIBRARIES = ("pyoxigraph", "rdflib", "owlrl", "pyshacl", "prov")
NO_RDF_LAYERS = {"base", "events", "capture", "demo"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(module: str) -> str:
    best = max((prefix for prefix in LAYERS if module == prefix or module.startswith(prefix + ".")), key=len)
    return LAYERS[best]


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "_data" not in p.parts}


def imports_of(module: str, path: Path) -> tuple[set[str], set[str]]:
    """(package modules, third-party top-level packages) imported anywhere in the file, functions included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    if module == "__init__":
        package = []
    internal, external = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
                names = [target] if node.module else [".".join([*base, a.name]) for a in node.names]
                for name in names:
                    # `from . import x` may name a submodule or an attribute: keep the module that exists
                    internal.add(name if name in known else name.rpartition(".")[0] or name)
            elif node.module and node.module.split(".")[0] == "cnnprov_rdf":
                internal.add(node.module.removeprefix("cnnprov_rdf").lstrip(".") or "__init__")
            elif node.module:
                external.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            external.update(alias.name.split(".")[0] for alias in node.names)
    return {m for m in internal if m}, external


known = set(modules())


def test_no_module_is_longer_than_the_limit() -> None:
    long = {name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


@pytest.mark.parametrize("module", sorted(known))
def test_a_module_imports_only_the_layers_below_it(module: str) -> None:
    path = modules()[module]
    internal, external = imports_of(module, path)
    layer = layer_of(module)
    wrong = {m for m in internal if m in known and layer_of(m) != layer and layer_of(m) not in ALLOWED[layer]}
    assert wrong == set(), f"{module} ({layer}) imports {wrong}"
    if layer in NO_RDF_LAYERS:
        assert external.isdisjoint(RDF_LIBRARIES), f"{module} ({layer}) imports an RDF library"


def test_no_import_cycle_between_modules() -> None:
    graph = {m: {t for t in imports_of(m, p)[0] if t in known and t != m} for m, p in modules().items()}
    # a package's __init__ that re-exports its submodules is not a cycle with them
    for module in graph:
        graph[module] = {t for t in graph[module] if not module.startswith(t + ".") or t == "__init__"}
    graph["__init__"] = set()  # the top-level package only re-exports
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, path: list[str]) -> bool:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycle.extend([*path[path.index(target):], target] if target in path else [node, target])
                return True
            if state.get(target) is None and visit(target, [*path, target]):
                return True
        state[node] = 2
        return False

    for start in sorted(graph):
        if state.get(start) is None and visit(start, [start]):
            break
    assert cycle == []
