"""One generated function that builds a profile's dict, like ``dataclasses`` generates ``__init__``.

Why: a profile is a dict of a few dozen keys, each from its own generator closure; straight-line code
with a literal dict for the leading keys that are always present (no loop, no tuple unpacking, no
per-key test for the required ones) builds it faster than :func:`builder_plain`, the loop it replaces.
No other library's internals: ``exec`` of source we write, whose only inputs are generator names
``g0, g1...`` and keys as ``repr()`` literals, so no text from a schema file becomes code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Gen = Callable[[], Any]
#: (key, generator, may leave the key out by returning ``skip``).
Slot = tuple[str, Gen, bool]


def builder_plain(slots: Sequence[Slot], skip: object) -> Gen:
    """A function that calls each generator in order and keeps what is not ``skip`` (for optional slots)."""
    frozen = tuple(slots)

    def build() -> dict[str, Any]:
        d: dict[str, Any] = {}
        for key, gen, optional in frozen:
            v = gen()
            if not optional or v is not skip:
                d[key] = v
        return d
    return build


def builder(slots: Sequence[Slot], skip: object) -> Gen:
    """The same function as :func:`builder_plain`, as straight-line generated code."""
    env: dict[str, Any] = {"SKIP": skip}
    head: list[str] = []
    body: list[str] = []
    for i, (key, gen, optional) in enumerate(slots):
        env[f"g{i}"] = gen
        if optional:
            body += [f"    v = g{i}()", f"    if v is not SKIP: d[{key!r}] = v"]
        elif body:
            body.append(f"    d[{key!r}] = g{i}()")
        else:
            head.append(f"{key!r}: g{i}()")
    source = "\n".join(["def build():", f"    d = {{{', '.join(head)}}}", *body, "    return d"])
    exec(source, env)
    build: Gen = env["build"]
    return build
