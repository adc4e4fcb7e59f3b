"""The public face: every name in ``loadgen.__all__`` resolves, and importing the package stays light."""

from __future__ import annotations

import subprocess
import sys

import loadgen


def test_all_exports_resolve_to_the_real_objects() -> None:
    assert sorted(loadgen.__all__) == sorted(loadgen._WHERE), "__all__ and the lazy table disagree"
    for name in loadgen.__all__:
        value = getattr(loadgen, name)
        assert getattr(value, "__name__", name) == name or not callable(value), name


def test_unknown_names_raise_attribute_error() -> None:
    try:
        _ = loadgen.NoSuchThing  # type: ignore[attr-defined]
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("an unknown name resolved")


def test_import_loadgen_never_pulls_in_locust_or_heavy_stacks() -> None:
    code = ("import sys, loadgen; from loadgen import CaptureClient, ProfileFactory, validate; "
            "print(sorted(m for m in ('locust', 'gevent', 'starlette', 'hypothesis') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
