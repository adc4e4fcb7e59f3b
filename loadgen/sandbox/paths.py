"""``attribute_name``: the part of a record that ``entity``, ``entity.update``, ``entity.replace`` and
``entity.delete`` read or change instead of the whole record.

A path names attributes from the top, ``/``-separated, with a leading ``/`` or not
(``primaryAddress``, ``/primaryAddress/city``, ``uuid``). A plural's element is named by its id with
``#`` (``statuses#4``), and a path may go on inside that element (``/profiles#68507/profile``).

A write is validated by wrapping its value back into a record at that path (``wrap``) and running
the one validator over it, so error paths come out as for a whole record; ``Edit.apply`` then
changes only that part of the stored document.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from loadgen.errors import CaptureError, Code, capture_error
from loadgen.sandbox.records import Prepared, merge, updated
from loadgen.schema import Attribute, Schema, Violation

_MAX_ID_DIGITS = 18
#: Deeper than any schema: a longer path fails on its last part without splitting all of a hostile one.
_MAX_STEPS = 64


@dataclass(frozen=True, slots=True)
class Step:
    """One attribute of a path, and the plural element it picks (``statuses#4``: 4)."""

    attr: Attribute
    element: int | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """A resolved ``attribute_name``: ``text`` as Capture names it (``/statuses#4``) and its steps."""

    text: str
    steps: tuple[Step, ...]

    @property
    def attr(self) -> Attribute:
        return self.steps[-1].attr

    def covers(self, violation: Violation) -> bool:
        """Whether a violation of the wrapped record is about the supplied value (and not, say, about a
        required attribute that the wrapping left out)."""
        path = self.attr.path
        return violation.path == path or violation.path.startswith(path + "/")

    def read(self, record: Mapping[str, Any]) -> Any:
        """The value at this path in a rendered record (310 for an element id it lacks)."""
        node: Any = record
        for step in self.steps:
            node = node.get(step.attr.name) if isinstance(node, dict) else None
            if step.element is not None:
                node = self._element(node, step)
        return node

    def _element(self, elements: Any, step: Step) -> dict[str, Any]:
        for element in elements if isinstance(elements, list) else ():
            if isinstance(element, dict) and element.get("id") == step.element:
                return element
        raise capture_error(Code.RECORD_NOT_FOUND, f"no element with id {step.element} in {step.attr.path}",
                            attribute_name=self.text)


def unknown(text: str) -> CaptureError:
    """223 in Capture's own wording (``attribute does not exist: /emailer``)."""
    path = "/" + text.strip("/")
    return capture_error(Code.UNKNOWN_ATTRIBUTE, f"attribute does not exist: {path[:1000]}",
                         attribute_name=path[:1000])


def parse(text: str, schema: Schema) -> Target:
    """The target of an ``attribute_name``; 223 if it names nothing in the schema."""
    steps: list[Step] = []
    for part in text.strip().strip("/").split("/", _MAX_STEPS):
        name, sharp, digits = part.partition("#")
        previous = steps[-1] if steps else None
        if previous is None:
            attr = schema.get(name)
        elif previous.attr.is_object or (previous.attr.is_plural and previous.element is not None):
            attr = previous.attr.child(name)
        else:  # inside a scalar, or inside a plural without naming the element
            attr = None
        ok_id = digits.isascii() and digits.isdigit() and len(digits) <= _MAX_ID_DIGITS
        if attr is None or (sharp and not (attr.is_plural and ok_id)):
            raise unknown(text)
        steps.append(Step(attr, int(digits) if sharp else None))
    return Target("/" + "/".join(f"{s.attr.name}#{s.element}" if s.element is not None else s.attr.name
                                 for s in steps), tuple(steps))


def wrap(target: Target, value: Any) -> dict[str, Any]:
    """The whole-record shape of a value written at ``target``: ``statuses#4`` and ``{"status": "x"}``
    give ``{"statuses": [{"status": "x", "id": 4}]}``."""
    node = value
    for step in reversed(target.steps):
        if step.element is not None:
            node = [{**node, "id": step.element}] if isinstance(node, dict) else [node]
        node = {step.attr.name: node}
    assert isinstance(node, dict)
    return node


def unwrap(target: Target, data: Mapping[str, Any]) -> Any:
    """The (normalised) value back out of a prepared wrapped record."""
    node: Any = data
    for step in target.steps:
        node = node[step.attr.name]
        if step.element is not None:
            node = node[0]
    return node


Mode = Literal["update", "replace", "delete"]


@dataclass(frozen=True, slots=True)
class Edit:
    """What one write does to a stored record: ``entity.update``, ``entity.replace`` or ``entity.delete``
    of the whole record (``target`` None) or of the part that ``target`` names.

    ``item`` is the prepared (normalised, passwords hashed) record, the wrapped one for a target.
    """

    mode: Mode
    item: Prepared = field(default_factory=lambda: Prepared({}))
    target: Target | None = None

    def apply(self, old: dict[str, Any], schema: Schema) -> dict[str, Any]:
        """The stored document after this write (a new dict; ``old`` is not changed)."""
        if self.target is None:
            return merge(old, self.item.data, schema) if self.mode == "update" else dict(self.item.data)
        target = self.target
        if target.attr.is_password and len(target.steps) == 1:
            return dict(old)  # a top-level password lives with the hashes (see ``secret``)
        value = None if self.mode == "delete" else unwrap(target, self.item.data)
        return _changed(old, target, 0, lambda before: self._new(target.steps[-1], before, value))

    def _new(self, step: Step, before: Any, value: Any) -> Any:
        """The part at the end of the path after this write (None: unset, or an element removed)."""
        if self.mode == "delete":
            return None
        if step.element is not None:
            value = {**value, "id": step.element}
            return {**before, **value} if self.mode == "update" else value
        return updated(step.attr, before, value) if self.mode == "update" else value

    def secret(self, old: Mapping[str, Any]) -> dict[str, Any]:
        """The password hashes after this write (a hash of None removes that password)."""
        target = self.target
        if target is None:
            hashes = {**old, **self.item.secret} if self.mode == "update" else dict(self.item.secret)
        elif target.attr.is_password and len(target.steps) == 1:
            hashes = {**old, target.attr.name: self.item.secret.get(target.attr.name)}
        else:
            hashes = dict(old)
        return {k: v for k, v in hashes.items() if v is not None}


def _changed(container: Mapping[str, Any], target: Target, at: int, change: Callable[[Any], Any]) -> dict[str, Any]:
    """A copy of ``container`` whose part at ``target.steps[at:]`` is ``change(part)``: only the objects
    and lists on the path are copied. An element that ``change`` turns into None is removed."""
    step = target.steps[at]
    last = at == len(target.steps) - 1
    out = dict(container)
    current = container.get(step.attr.name)
    if step.element is None:
        if last:
            out[step.attr.name] = change(current)
        else:
            out[step.attr.name] = _changed(current if isinstance(current, dict) else {}, target, at + 1, change)
        return out
    elements = list(current) if isinstance(current, list) else []
    i = next((i for i, e in enumerate(elements) if isinstance(e, dict) and e.get("id") == step.element), None)
    if i is None:
        raise capture_error(Code.RECORD_NOT_FOUND, f"no element with id {step.element} in {step.attr.path}",
                            attribute_name=target.text)
    if not last:
        elements[i] = _changed(elements[i], target, at + 1, change)
    elif (new := change(elements[i])) is None:
        del elements[i]
    else:
        elements[i] = new
    out[step.attr.name] = elements
    return out
