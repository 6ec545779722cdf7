"""One exception root, one destination parser, and the CLI's one-line errors."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from cnnprov_rdf import errors
from cnnprov_rdf.cli import main
from cnnprov_rdf.errors import CnnprovError, ConfigurationError
from cnnprov_rdf.storage.destination import (
    Endpoint,
    StoreLocation,
    default_store_path,
    destination_from,
    parse_destination,
)

ERROR_CLASSES = [
    cls for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, Exception) and cls.__module__ == errors.__name__
]

#: The built-in each error also is, so that callers catching it keep working.
BUILT_IN = {
    "ConfigurationError": ValueError,
    "StoreError": RuntimeError,
    "StoreLockedError": RuntimeError,
    "StoreNotFoundError": RuntimeError,
    "EndpointError": RuntimeError,
    "SourceError": RuntimeError,
    "ServerError": RuntimeError,
    "QueryError": ValueError,
    "RunNotFoundError": LookupError,
    "ExportError": ValueError,
    "InterchangeError": ValueError,
    "ProvImportError": ValueError,
    "RenderError": ValueError,
}


def test_every_error_class_is_listed_and_derives_from_the_root_and_its_built_in() -> None:
    names = {cls.__name__ for cls in ERROR_CLASSES}
    assert names == {"CnnprovError", *BUILT_IN}
    assert set(errors.__all__) == names
    for cls in ERROR_CLASSES:
        assert issubclass(cls, CnnprovError)
        if cls is not CnnprovError:
            assert issubclass(cls, BUILT_IN[cls.__name__]), cls
            error = cls("one line") if cls is not errors.EndpointError else cls("one line", transient=False)
            assert str(error) == "one line"


def test_the_root_is_exported_by_the_package() -> None:
    import cnnprov_rdf

    assert cnnprov_rdf.CnnprovError is CnnprovError


def test_no_module_defines_its_own_exception_class() -> None:
    package = Path(errors.__file__).parent
    offenders = [
        f"{path.relative_to(package)}: {line.strip()}"
        for path in package.rglob("*.py") if path.name != "errors.py"
        for line in path.read_text().splitlines()
        if line.startswith("class ") and ("Error(" in line or "Exception(" in line)
    ]
    assert offenders == []


@pytest.mark.parametrize(("given", "query", "update"), [
    ("http://127.0.0.1:7878", "http://127.0.0.1:7878/query", "http://127.0.0.1:7878/update"),
    ("http://127.0.0.1:7878/", "http://127.0.0.1:7878/query", "http://127.0.0.1:7878/update"),
    ("http://h:1/query", "http://h:1/query", "http://h:1/update"),
    ("https://h/ds/update", "https://h/ds/query", "https://h/ds/update"),
    ("http://h:8890/sparql", "http://h:8890/sparql", "http://h:8890/sparql"),
    ("HTTP://H:8890/sparql/", "HTTP://H:8890/sparql", "HTTP://H:8890/sparql"),
])
def test_an_endpoint_url_is_an_endpoint_with_its_query_and_update_urls(given: str, query: str, update: str) -> None:
    destination = parse_destination(given)
    assert destination == Endpoint(given)
    assert isinstance(destination, Endpoint)
    assert (destination.query_url, destination.update_url) == (query, update)


@pytest.mark.parametrize("given", ["provenance", "runs/store", "./http-store", "C:store", Path("/tmp/x")])
def test_anything_else_is_a_store_path(given: str | Path) -> None:
    assert parse_destination(given) == StoreLocation(Path(given))


def test_none_is_the_default_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CNNPROV_STORE", raising=False)
    assert parse_destination(None) == StoreLocation(Path("provenance"))
    monkeypatch.setenv("CNNPROV_STORE", str(tmp_path))
    assert parse_destination(None) == StoreLocation(tmp_path) == StoreLocation(default_store_path())


@pytest.mark.parametrize(("given", "message"), [
    ("", "empty string"),
    ("ftp://host/store", "neither a store path nor an http(s) SPARQL endpoint URL"),
    ("http://", "names no host"),
    (42, "expected a store path or an endpoint URL, got int"),
])
def test_a_wrong_destination_is_a_configuration_error(given: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_destination(given)  # type: ignore[arg-type]


def test_store_and_endpoint_arguments() -> None:
    assert destination_from(None, "http://h:1") == Endpoint("http://h:1")
    assert destination_from("s", None) == StoreLocation(Path("s"))
    with pytest.raises(ConfigurationError, match="either a store or an endpoint"):
        destination_from("s", "http://h:1")
    with pytest.raises(ConfigurationError, match="takes an http"):
        destination_from(None, "not-a-url")


@pytest.mark.parametrize("argv", [
    ["query", "runs", "--store", "{missing}"],
    ["query", "no-such-query", "--store", "{missing}"],
    ["query", "runs", "--endpoint", "ftp://nowhere"],
    ["query", "runs", "--param", "novalue", "--store", "{missing}"],
    ["export", "--store", "{missing}"],
    ["federate", "compare-runs", "--a", "x", "--b", "y"],
])
def test_user_errors_end_in_one_line_and_exit_2(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [a.replace("{missing}", str(tmp_path / "missing")) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("cnnprov: error: ") and err.count("\n") == 1, err
    assert not (tmp_path / "missing").exists()  # nothing was created


def test_export_takes_a_store_path_and_refuses_an_endpoint_with_a_clear_error(captured) -> None:
    from cnnprov_rdf import export
    from cnnprov_rdf.storage.store import open_for_reading

    assert export(captured.store, "ntriples") == export(open_for_reading(captured.store), "ntriples")
    with pytest.raises(ConfigurationError, match=re.escape("export reads an embedded store, and http://127.0.0.1:9")):
        export("http://127.0.0.1:9")
