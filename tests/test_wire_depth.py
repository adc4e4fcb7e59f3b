"""The nesting limit of ``loads_strict``, measured on the text: brackets inside strings never count."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.errors import JSONSyntaxError
from loadgen.wire import MAX_DEPTH, loads_strict


def _reference_depth(value: Any) -> int:
    """Nesting depth of a parsed value, the obvious way (a scalar is 0, ``[]`` is 1)."""
    if isinstance(value, dict):
        return 1 + max((_reference_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_reference_depth(v) for v in value), default=0)
    return 0


def _wrap(value: Any, depth: int, key: str) -> Any:
    for i in range(depth):
        value = [value] if i % 2 else {key: value}
    return value


_TRICKY = st.text(alphabet='[]{}"\\/:,é\u2028😀ab \n', max_size=8)
_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | _TRICKY,
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TRICKY, inner, max_size=3),
                       max_leaves=12)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(value=_VALUES, extra=st.integers(min_value=0, max_value=MAX_DEPTH + 3), key=_TRICKY,
       ascii_only=st.booleans(), indent=st.none() | st.just(1))
def test_depth_limit_matches_the_parsed_value(value: Any, extra: int, key: str, ascii_only: bool,
                                              indent: int | None) -> None:
    value = _wrap(value, extra, key)
    text = json.dumps(value, ensure_ascii=ascii_only, indent=indent)
    if _reference_depth(value) > MAX_DEPTH:
        with pytest.raises(JSONSyntaxError, match="nested deeper than"):
            loads_strict(text)
    else:
        assert loads_strict(text) == value


@pytest.mark.parametrize("text", [
    '["' + "[" * 200 + '"]',                                   # brackets in a string are not nesting
    json.dumps(_wrap("]" * 100, MAX_DEPTH - 1, '"]}\\')),      # escaped quotes and backslashes in keys
    json.dumps(_wrap("\\\"[[[", MAX_DEPTH, "[")),              # exactly at the limit
])
def test_text_at_or_under_the_limit_is_accepted(text: str) -> None:
    assert loads_strict(text) == json.loads(text)


@pytest.mark.parametrize("text", [
    json.dumps(_wrap("]]]]", MAX_DEPTH + 1, "}}}")),
    json.dumps([_wrap("x", MAX_DEPTH, "\\")] * 3),             # one level of list above the limit
    "[" * (MAX_DEPTH + 1) + '"\\"]]"' + "]" * (MAX_DEPTH + 1),
])
def test_text_over_the_limit_is_rejected(text: str) -> None:
    with pytest.raises(JSONSyntaxError, match=f"nested deeper than {MAX_DEPTH}"):
        loads_strict(text)


def test_custom_limit() -> None:
    assert loads_strict('[["[[["]]', max_depth=2) == [["[[["]]
    with pytest.raises(JSONSyntaxError, match="nested deeper than 1"):
        loads_strict('[["]"]]', max_depth=1)
