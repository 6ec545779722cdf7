"""Capture knows no RDF library, and takes the graph layer's IRI rules from one place."""

from __future__ import annotations

import ast
from pathlib import Path

CAPTURE = Path(__file__).resolve().parents[1] / "cnnprov_rdf" / "capture"


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every import in a file; relative modules keep their leading dots."""
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append(("." * node.level + (node.module or ""), [alias.name for alias in node.names]))
    return found


def test_capture_imports_no_rdf_library():
    for path in sorted(CAPTURE.glob("*.py")):
        for module, _ in imports(path):
            assert module.split(".")[0] not in ("pyoxigraph", "rdflib"), f"{path.name} imports {module}"


def test_capture_takes_only_iri_rules_and_the_metric_table_from_the_graph_layer_and_run_iris_in_one_place():
    users = []
    for path in sorted(CAPTURE.glob("*.py")):
        for module, names in imports(path):
            if module.startswith("..graph"):
                assert module in ("..graph.iris", "..graph.metrics", "..graph.vocabulary"), (path.name, module)
            if "RunIris" in names:
                users.append(path.name)
    assert users == ["run.py"]


def test_no_capture_module_exceeds_400_lines():
    assert {p.name: n for p in CAPTURE.glob("*.py") if (n := len(p.read_text().splitlines())) > 400} == {}
