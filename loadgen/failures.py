"""Failures as data: ``failures.jsonl``, one failing request per line, the same for ``fuzz`` and ``run``.

A failure is kept as the request exactly as it went out (operation and urlencoded form body, without
credentials: the auth is added again on the way out), what the contract expected, what came back, and
two ways to send it again: a one-line ``curl`` (``wire.curl_command``, secret left as
``$CAPTURE_CLIENT_SECRET``) or, for a signed request whose signature covers a moving Date, a
``loadgen replay`` line. ``loadgen replay``, ``loadgen fuzz --export-pytest`` and ``loadgen run --corpus``
read the file back through :func:`read_failures`, which names ``file:line`` of a damaged line.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from loadgen.errors import Code, UsageError
from loadgen.wire import curl_command

#: Operations that only read: replaying them changes nothing, so they need no ``--allow-writes``.
READ_OPERATIONS = frozenset({"entity", "entity.count", "entity.find", "entityType"})
#: How many examples of each failure label a load run keeps (the first ones).
EXAMPLES_PER_LABEL = 5


@dataclass(frozen=True)
class Expected:
    """What the contract says the answer must be: ``stat ok`` (``code`` None), or this error code, at this
    argument or attribute when one is named."""

    code: int | None = None
    argument: str | None = None
    attribute: str | None = None

    def __str__(self) -> str:
        if self.code is None:
            return "stat ok"
        return _label(self.code) + _where(self.argument, self.attribute)

    def met_by(self, status: int | None, body: Mapping[str, Any] | None) -> bool:
        """Is this answer what the contract expects (judged by ``stat`` and ``code``, never by status alone)?"""
        if status is None or status >= 500 or body is None:
            return False
        if self.code is None:   # and for a bulkCreate, every record created
            slots = body.get("uuid_results")
            return (status == 200 and body.get("stat") == "ok"
                    and (not isinstance(slots, list) or all(isinstance(uuid, str) for uuid in slots)))
        return (body.get("stat") == "error" and body.get("code") == self.code
                and (self.argument is None or body.get("argument_name") == self.argument)
                and (self.attribute is None or body.get("attribute_name") == self.attribute))


def describe(status: int | None, body: Mapping[str, Any] | None, text: str) -> str:
    """An answer in the words of :class:`Expected`: ``stat ok``, ``361 unique_violation [attribute=email]``,
    else the HTTP status and the head of the body."""
    if status is not None and body is not None and body.get("stat") == "ok" and status == 200:
        return "stat ok"
    if status is not None and body is not None and body.get("stat") == "error" and isinstance(body.get("code"), int):
        return _label(body["code"]) + _where(body.get("argument_name"), body.get("attribute_name"))
    return f"HTTP {status}: {text[:120]}" if status is not None else text[:200]


def _label(code: int) -> str:
    try:
        return Code(code).label
    except ValueError:
        return f"{code} unknown_error"


def _where(argument: object, attribute: object) -> str:
    return "".join(f" [{k}={v}]" for k, v in (("argument", argument), ("attribute", attribute)) if v)


@dataclass(frozen=True)
class Failure:
    """One failing request and its answer: a line of ``failures.jsonl``.

    ``label`` is the property (fuzz) or the endpoint and failure label (run); ``kind`` what the input was
    (a mutation kind of ``malformed_json``, the code a schema violation expects, ``""``); ``form`` the body
    exactly as sent (urlencoded, so bytes that are not UTF-8 survive), without credentials.
    """

    label: str
    operation: str
    form: str
    expected: Expected
    got: str
    status: int | None
    answer: str
    url: str
    source: str = "fuzz"
    kind: str = ""
    scheme: str = "basic"

    @property
    def id(self) -> str:
        """A short stable name of the request, for ``loadgen replay --id``."""
        return hashlib.sha1(f"{self.operation}\n{self.form}".encode()).hexdigest()[:10]

    @property
    def params(self) -> dict[str, str]:
        """The form's parameters, for reading (bytes that are not UTF-8 shown as ``\\xff``)."""
        return dict(parse_qsl(self.form, keep_blank_values=True, errors="backslashreplace"))

    @property
    def writes(self) -> bool:
        return self.operation not in READ_OPERATIONS

    def raw_params(self) -> dict[str, str | bytes]:
        """The form's parameters as sent: text, or bytes where a value is not UTF-8 (urlencoded again, they
        give back ``form`` exactly)."""
        out: dict[str, str | bytes] = {}
        for key, value in parse_qsl(self.form, keep_blank_values=True, encoding="latin-1"):  # bytes one to one
            raw = value.encode("latin-1")
            try:
                out[key.encode("latin-1").decode("utf-8")] = raw.decode("utf-8")
            except UnicodeDecodeError:
                out[key] = raw
        return out

    def curl(self, url: str | None = None) -> str:
        """The one-line curl that sends it again ("" for a signed request: use :meth:`replay_line`)."""
        if self.scheme == "signed":
            return ""
        url = f"{(url or self.url).rstrip('/')}/{self.operation}"
        return curl_command(url, self.raw_params(), scheme=self.scheme)

    def replay_line(self, path: str | os.PathLike[str]) -> str:
        return (f"loadgen replay {shlex.quote(str(path))} --id {self.id} --url {shlex.quote(self.url)}"
                f"{'' if self.scheme == 'basic' else f' --auth {self.scheme}'}")

    def to_json(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "label": self.label, "kind": self.kind,
                "operation": self.operation, "params": self.params, "form": self.form,
                "expected": str(self.expected),
                "expect": {"code": self.expected.code, "argument": self.expected.argument,
                           "attribute": self.expected.attribute},
                "got": self.got, "status": self.status, "answer": self.answer, "url": self.url,
                "scheme": self.scheme, "curl": self.curl(), "replay": self.replay_line(path)}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Failure:
        """Read one line back; ``KeyError``/``TypeError``/``ValueError`` name what is wrong."""
        expect = obj["expect"]
        if not isinstance(expect, dict):
            raise TypeError("'expect' is not an object")
        code = expect.get("code")
        status = obj.get("status")
        if not (code is None or isinstance(code, int)) or not (status is None or isinstance(status, int)):
            raise TypeError("'expect.code' and 'status' must be integers or null")
        fields = {name: obj[name] for name in ("label", "operation", "form", "got", "url")}
        if not all(isinstance(v, str) for v in fields.values()):
            raise TypeError("label, operation, form, got and url must be strings")
        return cls(**fields, expected=Expected(code, _opt(expect.get("argument")), _opt(expect.get("attribute"))),
                   status=status, answer=str(obj.get("answer", "")), source=str(obj.get("source", "fuzz")),
                   kind=str(obj.get("kind", "")), scheme=str(obj.get("scheme", "basic")))


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def write_failures(path: str | os.PathLike[str], failures: Iterable[Failure], *, append: bool = False) -> int:
    """Write (or append) failures as JSON lines; returns how many. A process killed mid-write can leave a torn
    last line, which :func:`read_failures` reports with its file:line."""
    count = 0
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a" if append else "w", encoding="utf-8") as out:
        for failure in failures:
            out.write(json.dumps(failure.to_json(target), ensure_ascii=False) + "\n")
            count += 1
    return count


def read_failures(path: str | os.PathLike[str]) -> list[Failure]:
    """Every failure of a ``failures.jsonl``; a damaged line is one ``UsageError`` naming ``file:line``."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the failures file ({type(exc).__name__}: {exc})") from None
    out = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise TypeError("not a JSON object")
            out.append(Failure.from_json(obj))
        except (KeyError, TypeError, ValueError) as exc:
            what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc).splitlines()[0][:120]
            raise UsageError(f"{path}:{number}: not a failure record ({what})") from None
    return out


class FirstExamples:
    """The first :data:`EXAMPLES_PER_LABEL` failures of each label, waiting to be written (or sent to the
    master): a load run that fails a million times keeps a handful of examples per way of failing."""

    def __init__(self, per_label: int = EXAMPLES_PER_LABEL) -> None:
        self.per_label = per_label
        self.seen: Counter[str] = Counter()
        self.pending: list[Failure] = []

    def wants(self, label: str) -> bool:
        """Cheap, on the load generator's path: is another example of ``label`` still kept?"""
        return self.seen[label] < self.per_label

    def add(self, failure: Failure) -> None:
        if self.wants(failure.label):
            self.seen[failure.label] += 1
            self.pending.append(failure)

    def drain(self) -> list[Failure]:
        taken, self.pending = self.pending, []
        return taken
