"""The shape of the code: the layer contract holds and covers every module, services
leave committing to the edges, and modules stay small enough to read."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

import switchboard

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(switchboard.__file__).resolve().parent
# Not part of the layered application: a separate program and generated migrations.
OUTSIDE_LAYERS = ("switchboard.mivb_sim", "switchboard.migrations.versions")
# Modules allowed to commit: the unit of work, and the workers' own claim/record steps.
MAY_COMMIT = {"switchboard.core.uow", "switchboard.sync.worker", "switchboard.jobs.runner"}
SERVICE_LINE_LIMIT = 400
LONG_MODULES_ALLOWED = {"switchboard.i18n_catalog"}  # the catalogue tooling (issue 8 exempts it)


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if not name.startswith(OUTSIDE_LAYERS):
            found[name] = path
    return found


def _layers() -> list[list[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    return [[m.strip() for m in layer.replace("|", ":").split(":")] for layer in contract["layers"]]


def test_the_layer_contract_is_kept():
    from importlinter.cli import EXIT_STATUS_SUCCESS, lint_imports

    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True,
                        no_logo=True) == EXIT_STATUS_SUCCESS, "an import goes up a layer: see the lint-imports output"


def test_every_module_has_a_layer():
    listed = [module for layer in _layers() for module in layer]
    assert len(listed) == len(set(listed)), "a module is listed in two layers"
    homeless = []
    for name, path in _modules().items():
        is_package = path.name == "__init__.py"
        covered = any(name == m or name.startswith(m + ".") for m in listed)
        if not covered and not (is_package and any(m.startswith(name + ".") for m in listed)) and name != "switchboard":
            homeless.append(name)
    assert homeless == [], f"add these modules to a layer in pyproject.toml: {homeless}"


def test_packages_hold_no_code_that_escapes_the_layers():
    # A package's __init__ that no layer lists must stay a docstring.
    listed = {module for layer in _layers() for module in layer}
    for name, path in _modules().items():
        if path.name == "__init__.py" and name != "switchboard" and name not in listed:
            tree = ast.parse(path.read_text())
            body = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
            assert body == [], f"{name}/__init__.py holds code; put it in a module of a layer"


def _below_the_entry_points() -> list[str]:
    """Every module under the top layer (app, CLI, demo, bench, test runner): the edges,
    the services, the data and the core."""
    lower = [module for layer in _layers()[1:] for module in layer]
    return sorted(name for name in _modules()
                  if any(name == m or name.startswith(m + ".") for m in lower) and name not in MAY_COMMIT)


@pytest.mark.parametrize("name", _below_the_entry_points())
def test_only_the_unit_of_work_commits(name):
    assert ".commit()" not in _modules()[name].read_text(), \
        f"{name} commits: services flush and raise, the edge's unit of work commits"


def test_no_module_is_over_the_size_limit():
    too_long = {name: n for name, path in _modules().items()
                if (n := len(path.read_text().splitlines())) > SERVICE_LINE_LIMIT and name not in LONG_MODULES_ALLOWED}
    assert too_long == {}
