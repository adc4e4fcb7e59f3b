"""A profile's CSV row as one generated function, like :mod:`loadgen._fast.builder` builds its dict.

Why: ``loadgen generate --format csv`` writes every cell of every profile. Building each profile's dicts
and then reading every cell back out of them cost a tenth of the whole CSV path; a row function calls
the same generators in the same order as the dict builders (so the same random draws make the same
profile) and lists their values in column order, an object's children in place of the object. No
other library's internals: ``exec`` of source we write, whose only inputs are generator names
``g0, g1...``, so no text from a schema file becomes code.

A cell is ``(generator, may leave the value out by returning skip)``; its generator is ``None`` for an
attribute always left out. A value left out is the empty cell ``""``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loadgen._fast.builder import Gen

Cell = tuple[Gen | None, bool]


def row_builder_plain(cells: Sequence[Cell], skip: object) -> Gen:
    """A function that calls each generator in order and lists the values, ``""`` for one left out."""
    frozen = tuple(cells)

    def row() -> list[Any]:
        out: list[Any] = []
        for gen, optional in frozen:
            v = "" if gen is None else gen()
            out.append("" if optional and v is skip else v)
        return out
    return row


def row_builder(cells: Sequence[Cell], skip: object) -> Gen:
    """The same function as :func:`row_builder_plain`, as straight-line generated code (one list display)."""
    env: dict[str, Any] = {"SKIP": skip}
    items: list[str] = []
    for i, (gen, optional) in enumerate(cells):
        env[f"g{i}"] = gen
        items.append("''" if gen is None else f"('' if (v := g{i}()) is SKIP else v)" if optional else f"g{i}()")
    exec("\n".join(["def row():", f"    return [{', '.join(items)}]"]), env)
    row: Gen = env["row"]
    return row
