"""The CSV rows of a chunk of profiles as generated code, like :mod:`loadgen._fast.builder` builds them.

Why: ``loadgen generate --format csv`` reads every cell of every profile; a loop over the column groups
(:func:`row_makers_plain`, which it replaces) spends more on looping than on reading, and placing the
JSON cells back by index is one more loop per row. One generated function per job, with the keys as
literals in one list display per row, does the same faster (``bench/fast.py``'s ``csv_rows`` ratio).
It also reads what the factory knows: a cell every profile holds by subscript (no default to pass), a
cell no profile holds (a plural sized 0..0) as the literal ``''``. No other library's internals:
``exec`` of source we write, whose only inputs are keys as ``repr()`` literals, so no text from a schema
file becomes code.

A column is ``(object, key)``: ``(None, "email")`` or ``("primaryAddress", "city")``, with its
:data:`Presence` in the records. The JSON columns (plurals, non-text types) are made in two steps:
``values(records)`` lists their values in row order (none for a column no profile holds), and
``rows(records, cells)`` puts ``cells`` (those values made ready to write) in their places.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from itertools import repeat
from typing import Any, Literal

Column = tuple[str | None, str]
#: Whether every record holds a column, some do, or none.
Presence = Literal["always", "sometimes", "never"]
Values = Callable[[list[dict[str, Any]]], list[Any]]
Rows = Callable[[list[dict[str, Any]], list[Any]], list[list[Any]]]

_EMPTY: dict[str, Any] = {}


def row_makers_plain(columns: Sequence[Column], json: Collection[int],
                     presence: Sequence[Presence]) -> tuple[Values, Rows]:
    """``values`` and ``rows`` as loops: an absent object or key is the empty cell ``""``."""
    groups: list[tuple[str | None, list[str]]] = []  # runs of columns of one object (None: top level)
    for parent, key in columns:
        if not groups or groups[-1][0] != parent:
            groups.append((parent, []))
        groups[-1][1].append(key)
    where = sorted(i for i in json if presence[i] != "never")
    json_columns = [columns[i] for i in where]

    def cells(rec: dict[str, Any]) -> list[Any]:
        row: list[Any] = []
        for parent, keys in groups:
            source = rec if parent is None else (rec.get(parent) or _EMPTY)
            row += map(source.get, keys, repeat(""))
        return row

    def values(records: list[dict[str, Any]]) -> list[Any]:
        out = []
        for rec in records:
            for parent, key in json_columns:
                out.append((rec if parent is None else (rec.get(parent) or _EMPTY)).get(key, ""))
        return out

    def rows(records: list[dict[str, Any]], ready: list[Any]) -> list[list[Any]]:
        out = [cells(rec) for rec in records]
        placed = iter(ready)
        for row in out:
            for i in where:
                row[i] = next(placed)
        return out

    return values, rows


def row_makers(columns: Sequence[Column], json: Collection[int],
               presence: Sequence[Presence]) -> tuple[Values, Rows]:
    """The same two functions as :func:`row_makers_plain`, as straight-line generated code."""
    objects = list(dict.fromkeys(parent for parent, _ in columns if parent is not None))
    alias = {parent: f"o{i}" for i, parent in enumerate(objects)}
    # an object that holds a cell of every record is in every record
    sure = {parent for (parent, _), kind in zip(columns, presence, strict=True) if kind == "always"}

    def read(i: int) -> str:
        parent, key = columns[i]
        source = "rec" if parent is None else alias[parent]
        if presence[i] == "never":
            return "''"
        return f"{source}[{key!r}]" if presence[i] == "always" else f"{source}.get({key!r}, '')"

    def loop(name: str, args: str, head: list[str], line: str) -> list[str]:
        used = [p for p in objects if f"{alias[p]}[" in line or f"{alias[p]}.get(" in line]
        return [f"def {name}(records{args}):", *head, "    for rec in records:",
                *(f"        {alias[p]} = rec[{p!r}]" if p in sure else f"        {alias[p]} = rec.get({p!r}) or EMPTY"
                  for p in used), line, "    return out"]

    made = [i for i in sorted(json) if presence[i] != "never"]
    row_cells = ["nxt()" if i in made else read(i) for i in range(len(columns))]
    values = (loop("values", "", ["    out = []", "    extend = out.extend"],
                   f"        extend(({''.join(read(i) + ', ' for i in made)}))")
              if made else ["def values(records):", "    return []"])
    rows = loop("rows", ", ready", ["    out = []", "    append = out.append", "    nxt = iter(ready).__next__"],
                f"        append([{', '.join(row_cells)}])")
    source = "\n".join([*values, *rows])
    env: dict[str, Any] = {"EMPTY": _EMPTY}
    exec(source, env)
    return env["values"], env["rows"]
