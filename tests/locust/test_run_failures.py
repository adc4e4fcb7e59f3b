"""A load run's failures as data: the first examples of each failure label in the run folder's failures.jsonl,
written by the master from its workers' batches, replayable and without the secret."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from loadgen.client import CaptureClient
from loadgen.errors import UsageError
from loadgen.failures import EXAMPLES_PER_LABEL, Expected, Failure, read_failures, write_failures
from loadgen.replay import Outcome, Replayer, replay
from loadgen.runfolder import FAILURES
from loadgen.runner import RunOptions, run
from loadgen.sandbox import Sandbox

pytestmark = pytest.mark.slow


@pytest.fixture
def use(monkeypatch: pytest.MonkeyPatch) -> Callable[[Sandbox], Sandbox]:
    def credentials(sandbox: Sandbox) -> Sandbox:
        monkeypatch.setenv("CAPTURE_CLIENT_ID", sandbox.client_id)
        monkeypatch.setenv("CAPTURE_CLIENT_SECRET", sandbox.client_secret)
        return sandbox
    return credentials


def _replay(failures: list[Failure], sandbox: Sandbox) -> list[Outcome]:
    with CaptureClient(sandbox.url, None) as client, Replayer(client) as replayer:
        return [v.outcome for v in replay(failures, replayer)]


def test_a_distributed_run_keeps_the_first_examples_of_each_failure(
        sandbox_factory: Callable[..., Sandbox], tmp_path: Path, use: Callable[[Sandbox], Sandbox]) -> None:
    flaky = use(sandbox_factory(faults={"error_rate": 0.1}))   # 160 creates: 16 errors expected, 5 kept
    result = run(RunOptions(url=flaky.url, scenario="create", duration=4, create_rate=40, workers=2, out=tmp_path,
                            run_id="fail"))
    path = result.run_dir / FAILURES
    assert flaky.client_secret not in path.read_text()
    failures = read_failures(path)
    labels = Counter(f.label for f in failures)
    assert labels == {"create: 500 unexpected_error": EXAMPLES_PER_LABEL}, labels
    assert {(f.source, f.url, f.operation) for f in failures} == {("run", flaky.url, "entity.create")}
    # a 500 drawn at random is gone on a sandbox without faults: FIXED, and the records made are deleted
    fixed = use(sandbox_factory())
    assert _replay(failures[:2], fixed) == [Outcome.FIXED] * 2
    assert fixed.stats()["records"].get("user", 0) == 0


def test_a_wrongly_judged_bad_request_of_the_error_path_replays_as_still_failing_then_fixed(
        sandbox_factory: Callable[..., Sandbox], tmp_path: Path, use: Callable[[Sandbox], Sandbox]) -> None:
    broken = use(sandbox_factory(faults={"accept_nan": True}))
    result = run(RunOptions(url=broken.url, scenario="error_path", duration=3, create_rate=30, malformed_share=0.9,
                            out=tmp_path, run_id="nan"))
    # NaN parsed: the record is judged (341 at the attribute) instead of refused as unparseable (200)
    nan = [f for f in read_failures(result.run_dir / FAILURES) if "got 341 invalid_json_type" in f.label]
    assert nan and all(f.expected.code == 200 and f.expected.argument == "attributes" for f in nan), nan
    assert _replay(nan[:1], broken) == [Outcome.STILL_FAILING]
    assert _replay(nan[:1], use(sandbox_factory())) == [Outcome.FIXED]


def test_a_corpus_joins_the_malformed_share(sandbox_factory: Callable[..., Sandbox], tmp_path: Path,
                                            use: Callable[[Sandbox], Sandbox]) -> None:
    """A recorded request that the contract says must be refused, but which is a valid record: every sandbox
    accepts it, so the run's own failures show that the corpus was sent."""
    sandbox = use(sandbox_factory())
    corpus = tmp_path / "corpus.jsonl"
    record = Failure(label="x", operation="entity.create", form="type_name=user&attributes=%7B%22email%22%3A%22"
                     "corpus%40example.com%22%7D", expected=Expected(200, argument="attributes"), got="stat ok",
                     status=200, answer="", url=sandbox.url)
    write_failures(corpus, [record])
    result = run(RunOptions(url=sandbox.url, scenario="error_path", duration=2, create_rate=20, malformed_share=0.5,
                            corpus=str(corpus), out=tmp_path, run_id="corpus", capture_auth="legacy"))
    text = (result.run_dir / FAILURES).read_text()
    assert sandbox.client_secret not in text
    assert "client_secret=" not in text.replace("client_secret=$CAPTURE_CLIENT_SECRET", "")   # the form's left out
    sent = [f for f in read_failures(result.run_dir / FAILURES) if f.label.startswith("malformed: ")]
    assert any("corpus@example.com" in f.params["attributes"] for f in sent), [f.label for f in sent]
    assert all(f.scheme == "legacy" and "$CAPTURE_CLIENT_SECRET" in f.curl() for f in sent)
    write_failures(corpus, [replace(record, expected=Expected())])   # a request that must succeed: no bad request
    with pytest.raises(UsageError, match=r"no recorded bad entity\.create request"):
        run(RunOptions(url=sandbox.url, scenario="error_path", duration=2, corpus=str(corpus), out=tmp_path))
