"""Send recorded failures again and say what became of them: FIXED, STILL FAILING or FLAKY.

``loadgen replay`` and the ``capture_replay`` fixture of the pytest plugin (which the tests exported by
``loadgen fuzz --export-pytest`` use) both send through a :class:`Replayer`: the recorded operation and
form body, authenticated by the target's client (the secret is never in the record), every record an
answer created deleted again. Each failure is tried three times, because a fault that shows on some
tries only is neither fixed nor reliably failing: FLAKY.
"""

from __future__ import annotations

import enum
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import httpx

from loadgen.answers import parse_answer
from loadgen.client import CaptureClient
from loadgen.errors import CaptureError, Code, LoadgenError, Replay, TransportError, error_class
from loadgen.failures import Failure, describe
from loadgen.preflight import refused_credentials
from loadgen.retry import retry_transient, transport_replay

#: How often ``loadgen replay`` sends each failure.
TRIES = 3


@dataclass(frozen=True)
class Sent:
    """The answer to one replayed request (``status`` None: no answer at all)."""

    status: int | None
    body: dict[str, Any] | None
    text: str

    def __str__(self) -> str:
        return describe(self.status, self.body, self.text)


class Replayer:
    """Sends raw form requests with a client's URL and auth; :meth:`cleanup` deletes what they created."""

    def __init__(self, client: CaptureClient) -> None:
        self.client = client
        self._http = httpx.Client(base_url=client.base_url, auth=client.auth, timeout=client.timeout)
        #: (type_name, uuid) of every record an answer said it created and that is not deleted yet
        self.created: list[tuple[str, str]] = []

    def send(self, operation: str, params: Mapping[str, str | bytes]) -> Sent:
        """POST the form as it was recorded; never raises for what the server does.

        A server that takes the request and never answers is an answer (a hang can be the failure);
        a target nobody listens on is not, so it raises ``TransportError``: a wrong URL must not read
        as STILL FAILING.
        """
        try:
            response = self._http.post(f"/{operation}", content=urlencode(params).encode("ascii"),
                                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        except httpx.HTTPError as exc:
            if isinstance(exc, httpx.TransportError) and transport_replay(exc) is Replay.ANY_CALL:
                raise TransportError(f"{operation}: cannot connect to {self.client.base_url}: "
                                     f"{type(exc).__name__}", replay=Replay.ANY_CALL) from None  # nothing reached it
            return Sent(None, None, f"no answer: {type(exc).__name__}")
        body = parse_answer(response.status_code, response.content).body
        self._note_created(str(params.get("type_name") or self.client.type_name), body)
        return Sent(response.status_code, body, response.content[:300].decode("utf-8", "replace"))

    def _note_created(self, type_name: str, body: dict[str, Any] | None) -> None:
        if body is None or body.get("stat") != "ok":
            return
        results = body.get("uuid_results")
        for uuid in results if isinstance(results, list) else [body.get("uuid")]:
            if isinstance(uuid, str):
                self.created.append((type_name, uuid))

    def cleanup(self) -> int:
        """Delete every record noted as created; returns how many could not be deleted (kept for a retry).

        A server that answers 500s to the failures may answer them to the deletes too: each is tried again
        on transient errors (:func:`~loadgen.retry.retry_transient`), or a kept record would turn the next
        try's answer into a 361 and the failure into a false FLAKY."""
        left = []
        for type_name, uuid in self.created:
            def delete(type_name: str = type_name, uuid: str = uuid) -> None:
                sent = self.send("entity.delete", {"type_name": type_name, "uuid": uuid})
                body = sent.body or {}
                code = body.get("code")
                if body.get("stat") == "ok" or code == Code.RECORD_NOT_FOUND:   # 310: already gone
                    return
                code = code if isinstance(code, int) else 500    # no Capture answer at all: a server error
                raise error_class(code)(code, description=str(sent), http_status=sent.status)
            try:
                retry_transient(delete)
            except LoadgenError:
                left.append((type_name, uuid))
        self.created = left
        return len(left)

    def close(self) -> None:
        try:
            self.cleanup()
        finally:
            self._http.close()

    def __enter__(self) -> Replayer:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class Outcome(enum.Enum):
    FIXED = "FIXED"
    STILL_FAILING = "STILL FAILING"
    FLAKY = "FLAKY"


@dataclass(frozen=True)
class Verdict:
    """One failure replayed: the outcome and the answer of each try."""

    failure: Failure
    outcome: Outcome
    answers: tuple[str, ...]

    def line(self) -> str:
        f = self.failure
        kind = f" [{f.kind}]" if f.kind else ""
        tries = "; ".join(dict.fromkeys(self.answers))
        return f"{self.outcome.value:<13} {f.id} {f.label}{kind}: expected {f.expected}, got {tries}"


def replay(failures: Iterable[Failure], replayer: Replayer, *, tries: int = TRIES) -> list[Verdict]:
    """Send each failure ``tries`` times; every try's records are deleted before the next (a kept record
    would turn the next try's answer into a 361)."""
    verdicts = []
    for failure in failures:
        params = failure.raw_params()
        answers, met = [], []
        for _ in range(tries):
            sent = replayer.send(failure.operation, params)
            _refuse_auth_errors(sent, replayer.client.base_url)
            replayer.cleanup()
            answers.append(str(sent))
            met.append(failure.expected.met_by(sent.status, sent.body))
        outcome = Outcome.FIXED if all(met) else Outcome.STILL_FAILING if not any(met) else Outcome.FLAKY
        verdicts.append(Verdict(failure, outcome, tuple(answers)))
    return verdicts


def _refuse_auth_errors(sent: Sent, url: str) -> None:
    """Refused credentials are no answer to the failure: a one-line usage error (exit 2), as in the preflight of
    ``loadgen fuzz``, never STILL FAILING. Only the credentials and the scheme (402, 205): a 403 is one
    operation's permission, an answer like any other (and Capture gives transient ones on bulkCreate)."""
    if sent.body is not None and sent.body.get("stat") == "error":
        error = CaptureError.from_body(sent.body)
        if error.code in _REFUSED_CREDENTIALS:
            raise refused_credentials("replay", url, error.label)


_REFUSED_CREDENTIALS = frozenset({Code.INVALID_CLIENT_CREDENTIALS, Code.INVALID_AUTH_METHOD})


def junit_xml(verdicts: list[Verdict]) -> str:
    """JUnit XML: one testcase per failure (failure = STILL FAILING or FLAKY)."""
    bad = [v for v in verdicts if v.outcome is not Outcome.FIXED]
    suite = ET.Element("testsuite", name="loadgen.replay", tests=str(len(verdicts)), failures=str(len(bad)),
                       errors="0", skipped="0")
    for v in verdicts:
        case = ET.SubElement(suite, "testcase", classname=f"loadgen.replay.{v.failure.label}",
                             name=f"{v.failure.kind or v.failure.operation} {v.failure.id}")
        if v.outcome is not Outcome.FIXED:
            ET.SubElement(case, "failure", message=v.outcome.value).text = v.line()
        ET.SubElement(case, "system-out").text = v.line()
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


_TEST_FILE = '''"""Capture regression tests: the failures `loadgen fuzz` found, one case each.

Written by `loadgen fuzz --export-pytest` from {source}. Each case sends the recorded request again
(the credentials come from the target, never from this file) and expects what the API contract says;
records a case creates are deleted again. Run them against the embedded sandbox, or any URL:

    pytest {path}
    pytest {path} --capture-url URL --capture-allow-writes   # CAPTURE_CLIENT_ID / CAPTURE_CLIENT_SECRET
"""

import pytest

from loadgen.failures import Expected
from loadgen.replay import Replayer

CASES = [
{cases}]


@pytest.mark.parametrize(("operation", "params", "expected"), CASES)
def test_capture_regression(capture_replay: Replayer, operation: str, params: dict[str, str | bytes],
                            expected: Expected) -> None:
    answer = capture_replay.send(operation, params)
    assert expected.met_by(answer.status, answer.body), f"expected {{expected}}, got {{answer}}"
'''


def pytest_file(failures: list[Failure], *, source: str, path: str) -> str:
    """A readable pytest module with one parametrized case per failure (``loadgen fuzz --export-pytest``)."""
    cases = "".join(f"    pytest.param(\n        {f.operation!r},\n        {f.raw_params()!r},\n"
                    f"        {f.expected!r},\n        id={_case_id(f)!r},\n    ),\n" for f in failures)
    return _TEST_FILE.format(source=source, path=path, cases=cases)


def _case_id(failure: Failure) -> str:
    words = "".join(c if c.isalnum() else " " for c in f"{failure.label} {failure.kind}".lower()).split()
    return "-".join([*words, failure.id])
