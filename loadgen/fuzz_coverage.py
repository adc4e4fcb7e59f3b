"""What a fuzz run exercised: examples sent and failed per mutation kind and per expected error code,
attribute paths violated out of the schema's, operations called.

Why: a green run says nothing when a kind was never drawn or an operation never called; the table at the
end of ``loadgen fuzz`` (and its copy in ``fuzz-report.json`` and the JUnit properties) shows the gaps.
Counts are every example Hypothesis ran, shrink attempts included, so "failed" can exceed one per bug.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from loadgen.errors import Code
from loadgen.schema import Attribute, Schema

#: The kind of a valid JSON document of the wrong top-level type (``strategies.wrong_shape``).
WRONG_SHAPE = "wrong_shape"


@dataclass(frozen=True)
class Exercise:
    """What one example exercises: its mutation kind (None: not malformed), the error code it expects
    (None: success) and the attribute path it violates (None: none)."""

    kind: str | None = None
    code: int | None = None
    path: str | None = None


@dataclass
class Tally:
    sent: int = 0
    failed: int = 0


@dataclass
class Coverage:
    """The counters of one fuzz session; ``kinds`` and ``codes`` start with every row, so a row never
    exercised shows as 0 instead of missing."""

    kinds: dict[str, Tally]
    codes: dict[str, Tally]
    paths_total: int
    paths: set[str] = field(default_factory=set)
    operations: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, schema: Schema, kinds: tuple[str, ...], codes: tuple[Code, ...]) -> Coverage:
        return cls(kinds={k: Tally() for k in (*kinds, WRONG_SHAPE)},
                   codes={Code(c).label: Tally() for c in (Code.INVALID_ARGUMENT, *codes)},
                   paths_total=len(schema_paths(schema.attributes)))

    def tallies(self, what: Exercise) -> list[Tally]:
        """The rows an example counts in (created on first sight: a code outside the catalogue still shows)."""
        rows = []
        if what.kind is not None:
            rows.append(self.kinds.setdefault(what.kind, Tally()))
        if what.code is not None:
            rows.append(self.codes.setdefault(_label(what.code), Tally()))
        if what.path is not None:
            self.paths.add(what.path)
        return rows

    def lines(self, width: int = 110) -> list[str]:
        """The table printed at the end of the run: ``name sent/failed`` items, wrapped between items."""
        calls = [f"{op} {n}" for op, n in sorted(self.operations.items())] or ["none"]
        return ["examples sent/failed (shrink attempts included)",
                *_wrap("mutation kinds", [f"{k} {t.sent}/{t.failed}" for k, t in self.kinds.items()], width),
                *_wrap("expected codes", [f"{k} {t.sent}/{t.failed}" for k, t in self.codes.items()], width),
                f"attribute paths violated: {len(self.paths)} of {self.paths_total}",
                *_wrap("operations called", calls, width)]

    def to_json(self) -> dict[str, object]:
        return {"kinds": {k: {"sent": t.sent, "failed": t.failed} for k, t in self.kinds.items()},
                "codes": {k: {"sent": t.sent, "failed": t.failed} for k, t in self.codes.items()},
                "paths_violated": sorted(self.paths), "paths_total": self.paths_total,
                "operations": dict(sorted(self.operations.items()))}

    def properties(self) -> list[tuple[str, str]]:
        """The same numbers as flat (name, value) pairs: JUnit ``<property>`` elements."""
        out = [(f"coverage.kind.{k}", f"{t.sent} sent, {t.failed} failed") for k, t in self.kinds.items()]
        out += [(f"coverage.code.{k}", f"{t.sent} sent, {t.failed} failed") for k, t in self.codes.items()]
        out.append(("coverage.paths", f"{len(self.paths)} of {self.paths_total}"))
        out += [(f"coverage.operation.{op}", str(n)) for op, n in sorted(self.operations.items())]
        return out


def schema_paths(attrs: tuple[Attribute, ...], base: str = "") -> list[str]:
    """Every attribute path of the schema, as ``schema_violations`` names them (``/statuses/status``)."""
    out = []
    for attr in attrs:
        path = f"{base}/{attr.name}"
        out.append(path)
        if attr.is_object or attr.is_plural:
            out.extend(schema_paths(attr.attrs, path))
    return out


def _wrap(title: str, items: list[str], width: int) -> list[str]:
    """``title: a, b, c`` over as many lines as ``width`` needs, never breaking an item."""
    lines, line = [], f"{title}:"
    for item in items:
        if len(line) + len(item) + 2 > width and line.strip().endswith(","):
            lines.append(line)
            line = "   "
        line += f" {item},"
    return [*lines, line.rstrip(",")]


def _label(code: int) -> str:
    try:
        return Code(code).label
    except ValueError:
        return str(code)
