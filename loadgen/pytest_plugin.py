"""pytest plugin (entry point ``pytest11: capture_loadgen``): fixtures that aim the conformance properties.

Loaded in every pytest run of a project that installs capture-loadgen, so it costs nothing until
one of its fixtures is used: module level imports pytest only; the client, the sandbox and the
properties are imported inside the fixtures (never Locust). Options::

    --capture-url URL           a real Capture domain (default: an embedded sandbox, temporary database)
    --capture-auth SCHEME       basic | signed | legacy (default CAPTURE_AUTH, else basic)
    --capture-schema FILE       the entity type (default: fetched from /entityType)
    --capture-type NAME         entity type name (default: the schema file's name, else user)
    --capture-allow-writes      allow the properties to create records on a --capture-url domain
    --capture-max-examples N    examples per property (default 100)
    --capture-seed S            make the search reproducible (default: a random seed, printed)
    --capture-count-checks M    auto | on | off: compare entity.count (auto: on loopback only)
    --capture-out DIR           write failures.jsonl and fuzz-report.json there
    --capture-database DIR      keep failing examples in this directory (Hypothesis's
                                DirectoryBasedExampleDatabase), e.g. one shared by CI and laptops

The ``capture_replay`` fixture sends recorded requests again (the tests ``loadgen fuzz --export-pytest``
writes use it) and deletes what they created.

Credentials for ``--capture-url`` come from ``CAPTURE_CLIENT_ID`` / ``CAPTURE_CLIENT_SECRET``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from loadgen.client import CaptureClient
    from loadgen.fuzz_coverage import Coverage
    from loadgen.fuzzer import Fuzzer, PropertyResult, ServerErrorWatch
    from loadgen.replay import Replayer
    from loadgen.sandbox import Sandbox
    from loadgen.schema import Schema

_REPORT = pytest.StashKey[tuple[str, list["PropertyResult"], str, "Coverage"]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("capture", "Capture Entity API conformance (capture-loadgen)")
    group.addoption("--capture-url", default=None, help="Capture domain to test (default: embedded sandbox)")
    group.addoption("--capture-auth", default=None, choices=("basic", "signed", "legacy"),
                    help="auth scheme (default: CAPTURE_AUTH, else basic)")
    group.addoption("--capture-schema", default=None, help="entity type JSON file (default: /entityType)")
    group.addoption("--capture-type", default=None,
                    help="entity type name (default: the --capture-schema's name, else user)")
    group.addoption("--capture-allow-writes", action="store_true",
                    help="let the properties create (and then delete) records on --capture-url")
    group.addoption("--capture-max-examples", type=int, default=100, help="examples per property (default 100)")
    group.addoption("--capture-seed", type=int, default=None, help="seed for a reproducible search")
    group.addoption("--capture-count-checks", default="auto", choices=("auto", "on", "off"),
                    help="compare entity.count before and after (auto: only on loopback, since a real "
                         "domain's count lags new records by minutes)")
    group.addoption("--capture-out", default=None, help="write failures.jsonl and fuzz-report.json in this folder")
    group.addoption("--capture-database", default=None,
                    help="keep failing examples in this directory (shared by CI and laptops)")


def pytest_configure(config: pytest.Config) -> None:
    """With ``--capture-url``, the URL and the environment's credentials are checked before any test runs.

    A missing credential is the user's to fix, once: one ``ERROR:`` line (pytest's usage error), not an
    error per property, whose long traceback (``--tb=long -l``) would print the frames reading them.
    """
    url = config.getoption("capture_url", None)
    if not url:
        return
    from loadgen.auth import credentials, resolve_url
    from loadgen.errors import UsageError

    try:
        resolve_url(url)
        credentials()
    except UsageError as exc:
        problem = str(exc)
    else:
        return
    raise pytest.UsageError(f"capture: {problem}")   # outside the except: no chained traceback


@pytest.fixture(scope="session")
def capture_sandbox(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                    ) -> Iterator[Sandbox | None]:
    """An embedded sandbox on a free 127.0.0.1 port with a temporary database; None with --capture-url."""
    config = request.config
    if config.getoption("capture_url"):
        yield None
        return
    from loadgen.sandbox import serve

    db = tmp_path_factory.mktemp("capture-sandbox") / "sandbox.db"
    with serve(db=db, admin=True, schema=config.getoption("capture_schema")) as sandbox:
        yield sandbox


@pytest.fixture(scope="session")
def capture_server_errors() -> ServerErrorWatch:
    """The transport of the fuzzers' requests: a server error answered while a property runs ends it at once."""
    from loadgen.fuzzer import ServerErrorWatch

    return ServerErrorWatch()


@pytest.fixture(scope="session")
def capture_client(request: pytest.FixtureRequest, capture_sandbox: Sandbox | None,
                   capture_server_errors: ServerErrorWatch) -> Iterator[CaptureClient]:
    """A ``CaptureClient`` for the target: the sandbox's owner client, or the environment's credentials."""
    from loadgen.auth import auth_from_env, make_auth
    from loadgen.client import CaptureClient
    from loadgen.schema import load_schema

    config = request.config
    scheme = config.getoption("capture_auth")
    schema_file = config.getoption("capture_schema")
    type_name = config.getoption("capture_type") or (load_schema(schema_file).name if schema_file else "user")
    if capture_sandbox is not None:
        url, auth = capture_sandbox.url, make_auth(scheme or "basic", capture_sandbox.client_id,
                                                  capture_sandbox.client_secret)
    else:
        url, auth = config.getoption("capture_url"), auth_from_env(scheme=scheme)
    with CaptureClient(url, auth, type_name=type_name, transport=capture_server_errors) as client:
        yield client


@pytest.fixture(scope="session")
def capture_schema(request: pytest.FixtureRequest, capture_client: CaptureClient) -> Schema:
    """The entity type: --capture-schema, else what the target's /entityType returns.

    Also the first call to the target: a wrong URL, bad credentials or a bad schema file fail here
    as one line, not as a traceback per property; a transient server error is tried again first.
    """
    from loadgen.errors import LoadgenError
    from loadgen.retry import retry_transient
    from loadgen.schema import load_schema

    path = request.config.getoption("capture_schema")
    try:
        return load_schema(Path(path) if path else retry_transient(capture_client.entity_type),
                           type_name=request.config.getoption("capture_type"))
    except LoadgenError as exc:
        error = f"capture: {capture_client.base_url}: {exc}"
    pytest.fail(error, pytrace=False)   # outside the except: one line, no chained traceback


@pytest.fixture(scope="session")
def capture_fuzz(request: pytest.FixtureRequest, capture_client: CaptureClient, capture_schema: Schema,
                 capture_sandbox: Sandbox | None, capture_server_errors: ServerErrorWatch) -> Iterator[Fuzzer]:
    """The properties' target; at the end of the session it deletes every record they created."""
    from urllib.parse import urlsplit

    from hypothesis import HealthCheck, settings

    from loadgen.auth import is_loopback
    from loadgen.fuzzer import Fuzzer

    config = request.config
    seed = config.getoption("capture_seed")
    seed = random.SystemRandom().randrange(2**32) if seed is None else seed
    search = settings(max_examples=max(1, config.getoption("capture_max_examples")), deadline=None,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                             HealthCheck.filter_too_much])
    if config.getoption("capture_database"):
        from hypothesis.database import DirectoryBasedExampleDatabase

        # asked for by name, so it wins over the ci profile's database=None (derandomize=True rules a
        # database out); the search stays reproducible through the seed
        search = settings(search, derandomize=False,
                          database=DirectoryBasedExampleDatabase(config.getoption("capture_database")))
    where = "embedded sandbox " if capture_sandbox is not None else ""
    mode = config.getoption("capture_count_checks")
    counts = mode == "on" or (mode == "auto" and is_loopback(urlsplit(capture_client.base_url).hostname or ""))
    label = (f"{where}{capture_client.base_url} ({capture_schema.name}, seed {seed}"
             f"{'' if counts else ', count checks off'})")
    fuzz = Fuzzer(capture_client, capture_schema, settings=search, seed=seed, remote=capture_sandbox is None,
                  allow_writes=config.getoption("capture_allow_writes"), label=label, count_checks=counts,
                  watch=capture_server_errors)
    record = _suite_property(request)
    try:
        yield fuzz
    finally:
        summary = fuzz.tracker.cleanup()
        fuzz.close()
        results = list(fuzz.results.values())
        config.stash[_REPORT] = (label, results, summary, fuzz.coverage)
        for name, value in fuzz.coverage.properties():
            record(name, value)
        if config.getoption("capture_out"):
            from loadgen.fuzzer import write_fuzz_outputs

            write_fuzz_outputs(Path(config.getoption("capture_out")), label=label, seed=seed, results=results,
                               coverage=fuzz.coverage)


def _suite_property(request: pytest.FixtureRequest) -> Any:
    """pytest's ``record_testsuite_property`` (JUnit ``<property>``), or a no-op without the junitxml plugin."""
    try:
        return request.getfixturevalue("record_testsuite_property")
    except pytest.FixtureLookupError:
        return lambda name, value: None


@pytest.fixture
def capture_replay(request: pytest.FixtureRequest, capture_client: CaptureClient,
                   capture_sandbox: Sandbox | None) -> Iterator[Replayer]:
    """Sends a recorded request (operation and form) again to the target; deletes what it created."""
    from loadgen.replay import Replayer

    if capture_sandbox is None and not request.config.getoption("capture_allow_writes"):
        pytest.fail(f"these tests write to {capture_client.base_url}: pass --capture-allow-writes to allow it",
                    pytrace=False)
    with Replayer(capture_client) as replayer:
        yield replayer


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session: pytest.Session) -> Iterator[None]:
    """A property cut by Ctrl-C ends as a skip (no KeyboardInterrupt banner): the session still exits as
    interrupted, so a stopped run never reads as passed."""
    yield
    report = session.config.stash.get(_REPORT, None)
    if report is not None and any(row.interrupted for row in report[1]):
        session.exitstatus = pytest.ExitCode.INTERRUPTED


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The table ``loadgen fuzz`` prints: property, examples, result, shrunk input and server answer."""
    report = config.stash.get(_REPORT, None)
    if report is None:
        return
    label, results, cleanup, coverage = report
    write = terminalreporter.write_line
    terminalreporter.write_sep("=", f"capture conformance: {label}")
    write(f"{'property':<46} {'examples':>8}  result")
    for row in results:
        outcome = "interrupted" if row.interrupted else {True: "passed", False: "FAILED", None: "not run"}[row.passed]
        write(f"{row.name:<46} {row.examples:>8}  {outcome if not row.server_error else 'SERVER ERROR'}")
        if row.server_error:
            write(f"    server answer: {row.server_error}")
        elif row.passed is False and row.failing:
            write(f"    shrunk input:  {row.failing}")
            write(f"    server answer: {row.answer or '(no request: the check failed before or after it)'}")
            if row.curl:
                write(f"    reproduce:     {row.curl}")
    write(cleanup)
    terminalreporter.write_sep("-", "what the fuzzers exercised")
    for line in coverage.lines():
        write(line)
