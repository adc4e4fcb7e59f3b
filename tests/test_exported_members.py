"""The public face: every name in ``loadgen.__all__`` resolves, once, and importing the package stays light."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import loadgen


def test_all_exports_resolve_to_the_real_objects() -> None:
    assert len(loadgen.__all__) == len(set(loadgen.__all__)), "a name is exported twice"
    for name in loadgen.__all__:
        value = getattr(loadgen, name)
        home = importlib.import_module(loadgen._WHERE[name])
        assert value is getattr(home, name), name
        assert getattr(value, "__name__", name) == name or not callable(value), name


def test_the_type_checking_imports_are_the_same_names_from_the_same_modules() -> None:
    """Type checkers read the ``TYPE_CHECKING`` block; it must say what the lazy table does."""
    tree = ast.parse(Path(loadgen.__file__).read_text(encoding="utf-8"))
    block = next(node for node in tree.body if isinstance(node, ast.If)
                 and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
    static = {alias.asname or alias.name: node.module for node in block.body
              if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert static == loadgen._WHERE


def test_the_result_types_are_exported() -> None:
    for name in ("RunResult", "CleanupResult", "Comparison", "Report", "Created", "BulkResult", "Answer"):
        assert name in loadgen.__all__, name
    from loadgen.report.document import Report

    assert loadgen.Report is Report


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        _ = loadgen.NoSuchThing  # type: ignore[attr-defined]


def test_import_loadgen_never_pulls_in_locust_or_heavy_stacks() -> None:
    code = ("import sys, loadgen; from loadgen import CaptureClient, ProfileFactory, validate, parse_answer; "
            "print(sorted(m for m in ('locust', 'gevent', 'starlette', 'hypothesis') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_loading_a_result_type_leaves_the_function_under_its_name() -> None:
    code = ("import loadgen; loadgen.CleanupResult, loadgen.RunResult; from loadgen import cleanup, run; "
            "print(type(cleanup).__name__, type(run).__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["function", "function"]


def test_from_loadgen_import_cleanup_is_the_function_even_after_the_module_was_imported() -> None:
    """No module shares a name with a public function: importing a submodule sets ``loadgen.<module>``."""
    code = ("import loadgen.cleaner, loadgen.runner; from loadgen import cleanup, run; "
            "print(type(cleanup).__name__, type(run).__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["function", "function"]
