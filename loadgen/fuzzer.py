"""The machinery that runs the conformance properties against one target, apart from the properties.

A :class:`Fuzzer` is what each property of ``loadgen.conformance`` receives (the ``capture_fuzz``
fixture of ``loadgen.pytest_plugin``): the client and schema, a raw form sender that never raises for
what the server does, the tracker of created records (deleted when the session ends), unique-value
tagging, and the Hypothesis runs, seeded from the command line, each filling one row of the summary
table. ``ServerErrorWatch`` ends a property at a server error (HTTP 5xx, or code 500/504/510): the
server's trouble, not a contract finding. ``suite_args`` are the pytest arguments that run the suite.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import secrets
import signal
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import given
from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

from loadgen._fast.hypothesis_seed import seed_and_key, seed_machine
from loadgen.answers import parse_answer
from loadgen.auth import BasicAuth, CaptureAuth
from loadgen.client import CaptureClient
from loadgen.errors import CaptureError, ContractFailure, NotFoundError, TransportError
from loadgen.failures import Expected, Failure, describe, write_failures
from loadgen.fuzz_coverage import Coverage, Exercise
from loadgen.retry import retry_transient
from loadgen.runfolder import FAILURES, FUZZ_REPORT
from loadgen.schema import Attribute, Schema, unique_key
from loadgen.strategies import MALFORMED_KINDS, VIOLATION_CODES
from loadgen.wire import curl_command


@dataclass(frozen=True)
class Answer:
    """What the server sent back for one raw request (``status`` None: no answer at all)."""

    status: int | None
    body: dict[str, Any] | None
    text: str
    #: the request again, as a curl command (credentials from the environment; "" for a signed request)
    curl: str = ""
    #: the request as sent: the operation and its urlencoded form body, without credentials
    operation: str = ""
    form: str = ""

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.text[:300]}" if self.status is not None else self.text


@dataclass
class PropertyResult:
    """One row of the summary table."""

    name: str
    examples: int = 0
    passed: bool | None = None
    failing: str = ""
    answer: str = ""
    interrupted: bool = False
    #: the first server error answer that stopped the property ("" when none)
    server_error: str = ""
    #: the failing request as a curl command ("" when the failure was not in an answer)
    curl: str = ""
    #: the shrunk failure as a ``failures.jsonl`` record (None when no answer broke an expectation)
    failure: Failure | None = None


class ServerErrorSeen(BaseException):
    """A server error answered in the middle of a property; it ends the property at once.

    A ``BaseException``, like ``KeyboardInterrupt``, so Hypothesis neither shrinks nor replays it:
    a random 500 does not come back when the example is replayed, and Hypothesis would bury it in
    hundreds of lines of "flaky" reports (``FlakyStrategyDefinition``) instead of saying what the
    server answered.
    """

    def __init__(self, answer: str) -> None:
        super().__init__(answer)
        self.answer = answer


class ServerErrorWatch(httpx.BaseTransport):
    """The transport of every request the fuzzers send: while ``armed``, a server error raises ``ServerErrorSeen``."""

    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        self.inner = inner if inner is not None else httpx.HTTPTransport()
        self.armed = False
        #: requests per operation while armed (the coverage table's "operations called")
        self.calls: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.armed:
            self.calls[request.url.path.rsplit("/", 1)[-1]] += 1
        response = self.inner.handle_request(request)
        if self.armed:
            response.read()
            what = server_error(response.status_code, response.content)
            if what:
                raise ServerErrorSeen(f"{request.url.path}: {what}")
        return response

    def close(self) -> None:
        self.inner.close()


def server_error(status: int, content: bytes) -> str:
    """The answer, quoted, when it is the server's trouble, never the answer a property expects: HTTP status
    >= 500, or a code a retry may fix (500, 504, 510: ``CaptureError.retryable``); else ""."""
    answer = parse_answer(status, content)
    if status >= 500 or (answer.error is not None and answer.error.retryable):
        return str(Answer(status, answer.body, content[:300].decode("utf-8", "replace")))
    return ""


class Tracker:
    """Every uuid the fuzzers created, deleted at the end of the session."""

    def __init__(self, client: CaptureClient) -> None:
        self.client = client
        self.uuids: list[str] = []

    def add(self, uuid: str) -> None:
        self.uuids.append(uuid)

    def cleanup(self) -> str:
        deleted = gone = failed = 0
        for uuid in dict.fromkeys(self.uuids):
            try:   # a server that answered 500s to the properties may do so here too
                retry_transient(lambda: self.client.delete(uuid=uuid))  # noqa: B023 (called at once)
                deleted += 1
            except NotFoundError:
                gone += 1
            except Exception:  # report and carry on: the rest must still be deleted
                failed += 1
        return (f"capture: the fuzzers created {len(set(self.uuids))} records: {deleted} deleted, "
                f"{gone} already gone, {failed} could not be deleted")


class Fuzzer:
    """The target of the properties: client, schema, raw sender, tracker, settings and results."""

    def __init__(self, client: CaptureClient, schema: Schema, *, settings: Settings, seed: int | None,
                 remote: bool, allow_writes: bool, label: str, count_checks: bool = True,
                 watch: ServerErrorWatch | None = None) -> None:
        self.client, self.schema, self.settings, self.seed = client, schema, settings, seed
        self.remote, self.allow_writes, self.label = remote, allow_writes, label
        self.count_checks = count_checks
        self.binary = isinstance(client.auth, BasicAuth)  # invalid UTF-8 cannot be signed, only sent
        self.scheme = client.auth.scheme if isinstance(client.auth, CaptureAuth) else "basic"
        self.tracker = Tracker(client)
        self.results: dict[str, PropertyResult] = {}
        self.last: Answer | None = None
        #: what the last ``expect`` required of ``last`` (for the failure record)
        self.expected: Expected | None = None
        #: the transport of ``client`` too (the plugin builds it so): a server error ends the property
        self.watch = watch if watch is not None else ServerErrorWatch()
        self._http = httpx.Client(base_url=client.base_url, auth=client.auth, timeout=client.timeout,
                                  transport=self.watch)
        self._tag = "fz" + "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(4))
        self._serial = 0
        self._nested_unique = _nested_unique(schema.attributes)
        self.stopping = False
        self.coverage = Coverage.of(schema, MALFORMED_KINDS if self.binary else MALFORMED_KINDS[:-1],
                                    VIOLATION_CODES)
        self.coverage.operations = self.watch.calls  # one counter: the transport sees every request

    def on_ctrl_c(self, signum: int, frame: object) -> None:
        """SIGINT handler: only note it; :meth:`checkpoint` stops before the next request.

        Raised at once, a KeyboardInterrupt could cut a create after the server stored the record
        but before the tracker saw its uuid (a record left behind), or land in one of Hypothesis's gc
        callbacks, where Python swallows it and the run goes on.
        """
        self.stopping = True

    def checkpoint(self) -> None:
        """Stop here, between requests, if Ctrl-C was pressed (every example and step passes here)."""
        if self.stopping:
            raise KeyboardInterrupt

    def close(self) -> None:
        self._http.close()

    def require_writes(self) -> None:
        if self.remote and not self.allow_writes:
            # a failure, not a skip: a CI job whose every property skipped would look green
            pytest.fail(f"this property writes to {self.label}: pass --capture-allow-writes to allow it",
                        pytrace=False)

    def send(self, op: str, params: dict[str, str | bytes]) -> Answer:
        """POST a raw form (values may be invalid UTF-8 bytes); never raises for what the server does."""
        self.checkpoint()
        form = {"type_name": self.client.type_name, **params}
        body = urlencode(form).encode("ascii")
        url = f"{self.client.base_url.rstrip('/')}/{op}"
        curl = "" if self.scheme == "signed" else curl_command(url, form, scheme=self.scheme)
        sent = {"curl": curl, "operation": op, "form": body.decode("ascii")}
        try:
            response = self._http.post(f"/{op}", content=body,
                                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        except httpx.TimeoutException as exc:
            self.last = Answer(None, None, f"no answer within {self.client.timeout:g}s ({type(exc).__name__})",
                               **sent)
        except httpx.TransportError as exc:
            self.last = Answer(None, None, f"connection failed: {type(exc).__name__}", **sent)
        else:
            parsed = parse_answer(response.status_code, response.content)
            text = response.content[:400].decode("utf-8", "replace")
            self.last = Answer(response.status_code, parsed.body, text, **sent)
        return self.last

    def count(self) -> int | None:
        """entity.count, or None with count checks off: a real domain's count lags new records by minutes
        (and other clients write to it), so there only the answers and reads by uuid are checked."""
        return self.client.count() if self.count_checks else None

    def unique(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record with its unique values tagged for this run, so no example collides with stored data."""
        return self.tag_batch([record], [True])[0]

    def tag_batch(self, records: list[dict[str, Any]], created: list[bool]) -> list[dict[str, Any]]:
        """Tag the unique values of the records expected to be created (or refused with 361).

        Each distinct value (as compared for uniqueness) gets a fresh fixed-width tag of letters, which
        every constraint accepts (alphabetic, email local part...): equal values stay equal, so an
        expected 361 stays expected, and distinct ones stay distinct even when cut to ``length``.
        A unique value below the top level (``/profiles/identifier``) gets a tag of its own at each
        place: the strategies expect no 361 there.
        """
        tags: dict[tuple[str, str], str] = {}
        out = []
        for record, ok in zip(records, created, strict=True):
            record = copy.deepcopy(record) if ok and self._nested_unique else dict(record)
            for attr in self.schema.unique if ok else ():
                value = record.get(attr.name)
                if isinstance(value, str):
                    tag = tags.setdefault((attr.name, unique_key(attr, value)), self._next_tag())
                    record[attr.name] = self._tagged(attr, tag + value)
            for chain in self._nested_unique if ok else ():
                self._tag_nested(record, chain)
            out.append(record)
        return out

    def _tagged(self, attr: Attribute, value: str) -> str:
        return value if "email-address" in attr.constraints else value[: attr.length]

    def _tag_nested(self, node: Any, chain: tuple[Attribute, ...]) -> None:
        """Tag, in place, every string at ``chain`` below ``node`` (through objects and plural elements)."""
        if not isinstance(node, dict):
            return
        head, rest = chain[0], chain[1:]
        value = node.get(head.name)
        if not rest:
            if isinstance(value, str):
                node[head.name] = self._tagged(head, self._next_tag() + value)
            return
        for child in value if isinstance(value, list) else [value]:
            self._tag_nested(child, rest)

    def _next_tag(self) -> str:
        self._serial += 1
        n, letters = self._serial, ""
        for _ in range(4):
            n, digit = divmod(n, 26)
            letters += chr(97 + digit)
        return self._tag + letters

    def run(self, name: str, strategy: st.SearchStrategy[Any], body: Callable[[Any], None],
            exercise: Callable[[Any], Exercise] | None = None) -> None:
        """Search ``strategy`` for an example that breaks ``body``; keep the row for the summary table.

        ``exercise`` says what an example exercises, for the coverage table.
        """
        result = self.results.setdefault(name, PropertyResult(name))

        def example(value: Any) -> None:
            self.checkpoint()
            result.examples += 1
            what = exercise(value) if exercise is not None else Exercise()
            rows = self.coverage.tallies(what)
            for row in rows:
                row.sent += 1
            self.last, self.expected = None, None
            try:
                body(value)
            except Exception as exc:
                for row in rows:
                    row.failed += 1
                result.failing = _show(value)
                result.answer = str(self.last) if self.last is not None else _first_line(exc)
                result.curl = exc.curl if isinstance(exc, ContractFailure) else ""
                result.failure = self._failure(name, what, exc)
                raise

        # One database key per property (the inner functions share their source), and the seed kept with
        # the database on: a failure found with --capture-seed is reproducible and replayed next run.
        test = seed_and_key(self.settings(given(strategy)(example)), self.seed, f"loadgen.conformance:{name}")
        self._finish(result, test)

    def run_machine(self, name: str, machine: type[RuleBasedStateMachine]) -> None:
        result = self.results.setdefault(name, PropertyResult(name))
        steps = Settings(self.settings, max_examples=max(5, self.settings.max_examples // 10),
                         stateful_step_count=15)
        seed_machine(machine, self.seed)
        self._finish(result, lambda: run_state_machine_as_test(machine, settings=steps))

    def _finish(self, result: PropertyResult, test: Callable[[], None]) -> None:
        """Run one property and keep its row; a Ctrl-C ends it (and skips the properties after it) as a skip.

        A KeyboardInterrupt let through would reach pytest, which prints its ``!!! KeyboardInterrupt !!!``
        banner and the line that raised it; the plugin makes the session's exit status "interrupted".
        """
        if self.stopping:
            pytest.skip("not run: interrupted by Ctrl-C")
        main = threading.current_thread() is threading.main_thread()  # signal handlers live there only
        previous = signal.signal(signal.SIGINT, self.on_ctrl_c) if main else None  # only while a property runs
        self.watch.armed = True
        try:
            test()
        except KeyboardInterrupt:
            result.interrupted = True
        except ServerErrorSeen as exc:
            result.passed, result.server_error = False, exc.answer
        except BaseException as exc:
            result.passed = False
            if not result.failing:  # a state machine: Hypothesis prints the minimal program above
                result.failing, result.answer = "the minimal program printed above", _first_line(exc)
            raise
        finally:
            self.watch.armed = False
            if main:
                signal.signal(signal.SIGINT, previous)
        if result.interrupted:    # outside the except, as the failure below
            pytest.skip("interrupted by Ctrl-C")
        if result.server_error:   # failed here, outside the except: no chained traceback in the output
            pytest.fail(f"the server answered a server error after {result.examples} examples (the answer is in "
                        "the capture conformance table)", pytrace=False)
        result.passed = True

    def _failure(self, name: str, what: Exercise, exc: Exception) -> Failure | None:
        """The record of a failed example, when an answer broke an expectation (not a count or a read back)."""
        answer, expected = self.last, self.expected
        if not isinstance(exc, ContractFailure) or answer is None or expected is None or not answer.operation:
            return None
        kind = what.kind or (str(what.code) if what.code is not None else "")
        return Failure(label=name, operation=answer.operation, form=answer.form, expected=expected,
                       got=describe(answer.status, answer.body, answer.text), status=answer.status,
                       answer=answer.text[:300], url=self.client.base_url, kind=kind, scheme=self.scheme)

    def expect(self, answer: Answer, expected: Expected) -> None:
        """The answer must be ``expected`` exactly; else a ``ContractFailure`` (kept for ``failures.jsonl``)."""
        self.expected = expected
        if not expected.met_by(answer.status, answer.body):
            raise ContractFailure(f"expected {expected}, got {answer}", curl=answer.curl)

    def expect_invalid(self, answer: Answer, argument: str) -> None:
        """The answer must be exactly 200 invalid_argument at ``argument``; else a ``ContractFailure``."""
        self.expect(answer, Expected(200, argument=argument))

    def track(self, answer: Answer, *, keep: bool = True) -> None:
        """Track anything a (wrongly) successful answer created, so cleanup removes it.

        ``keep=False`` also deletes what a ``stat ok`` answer created at once, for properties where
        creating is the failure: the seed records repeat their unique values, so a record kept would
        turn the next example's answer (a shrink candidate's, the shrunk failure's replay) into a 361.
        Only ``stat ok``: an error answer that still created a record must stay for the count check.
        Cleanup then counts the record as already gone, or retries it if this delete failed.
        """
        body = answer.body or {}
        uuids = body.get("uuid_results") if isinstance(body.get("uuid_results"), list) else [body.get("uuid")]
        for uuid in uuids or []:
            if isinstance(uuid, str):
                self.tracker.add(uuid)
                if not keep and body.get("stat") == "ok":
                    with contextlib.suppress(CaptureError, TransportError):
                        self.client.delete(uuid=uuid)


def _nested_unique(attrs: tuple[Attribute, ...], parents: tuple[Attribute, ...] = ()
                   ) -> list[tuple[Attribute, ...]]:
    """The chains (parents..., attribute) of every unique attribute inside an object or plural."""
    out: list[tuple[Attribute, ...]] = []
    for attr in attrs:
        if parents and attr.unique:
            out.append((*parents, attr))
        if attr.is_object or attr.is_plural:
            out.extend(_nested_unique(attr.attrs, (*parents, attr)))
    return out


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:300] if lines else ''}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 300 else text[:297] + "..."


# -- running the suite ------------------------------------------------------------------------------

def plugin_args() -> list[str]:
    """``-p loadgen.pytest_plugin`` unless pytest already autoloads the plugin.

    pytest skips an entry point whose name is taken by one of its own plugins (``capture`` is
    pytest's output capturing), and loads none with ``PYTEST_DISABLE_PLUGIN_AUTOLOAD``; naming the
    plugin twice would fail, so it is named only when autoloading cannot have happened.
    """
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group="pytest11") if ep.value == "loadgen.pytest_plugin"}
    autoloaded = bool(names - {"capture"}) and not os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    return [] if autoloaded else ["-p", "loadgen.pytest_plugin"]


def suite_args(*, url: str | None = None, auth: str | None = None, max_examples: int = 100,
               seed: int | None = None, junit: str | None = None, allow_writes: bool = False,
               count_checks: str = "auto", out: str | None = None, database: str | None = None) -> list[str]:
    """The pytest arguments that run these properties (``loadgen fuzz`` and the tests use them)."""
    args = [*plugin_args(), "--pyargs", "loadgen.conformance", "-p", "no:cacheprovider", "-W", "error",
            f"--capture-max-examples={max_examples}", f"--capture-count-checks={count_checks}"]
    if auth:
        args.append(f"--capture-auth={auth}")
    if url:
        args.append(f"--capture-url={url}")
    if allow_writes:
        args.append("--capture-allow-writes")
    if seed is not None:
        args.append(f"--capture-seed={seed}")
    if junit:
        args.append(f"--junit-xml={junit}")
    if out:
        args.append(f"--capture-out={out}")
    if database:
        args.append(f"--capture-database={database}")
    return args


def write_fuzz_outputs(folder: Path, *, label: str, seed: int | None, results: list[PropertyResult],
                       coverage: Coverage) -> None:
    """``failures.jsonl`` (one shrunk failure per property whose answer broke its contract) and
    ``fuzz-report.json`` (every property's row and the coverage) in ``folder``. No secret is in either:
    requests are kept without their credentials, and curl lines name ``$CAPTURE_CLIENT_SECRET``."""
    folder.mkdir(parents=True, exist_ok=True)
    write_failures(folder / FAILURES, [r.failure for r in results if r.failure is not None])
    rows = [{"property": r.name, "examples": r.examples,
             "result": "interrupted" if r.interrupted else {True: "passed", False: "failed", None: "not run"}[r.passed],
             "failing": r.failing, "answer": r.answer, "server_error": r.server_error} for r in results]
    report = {"kind": "capture-loadgen.fuzz-report", "version": 1, "target": label, "seed": seed,
              "properties": rows, "coverage": coverage.to_json()}
    (folder / FUZZ_REPORT).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
