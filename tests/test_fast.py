"""Each trick in ``loadgen/_fast`` gives what its plain twin gives, on many inputs.

The twins are the library's public API (``record_value``, ``json.dumps``, ``HTTPClient.request``'s own
head, ``@seed``) or, for the generated builder, a plain loop. The load generator's call sites are
checked end to end in tests/locust/test_fast_paths.py (the bytes on the wire, the recorded histogram).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from geventhttpclient import HTTPClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.database import InMemoryExampleDatabase

from loadgen import _profile_compiler
from loadgen._fast import builder, csv_rows, hdr, http_head, hypothesis_seed, json_text
from loadgen.profiles import default_factory
from loadgen.report.recorder import HIGHEST_NS, new_histogram

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=400)
@given(JSON)
def test_compact_json_writes_what_json_dumps_writes(value: Any) -> None:
    assert json_text.compact_json(value) == json_text.compact_dumps_plain(value)


def test_compact_json_on_profiles_and_on_what_json_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    for record in default_factory(seed=21, run_id="fast").batch(200):
        assert json_text.compact_json(record) == json_text.compact_dumps_plain(record)
    for bad in ({1, 2}, {"a": b"x"}, {(1,): 1}):
        with pytest.raises(TypeError) as fast_error:
            json_text.compact_json(bad)
        with pytest.raises(TypeError) as plain_error:
            json_text.compact_dumps_plain(bad)
        assert str(fast_error.value) == str(plain_error.value)
    monkeypatch.setattr(json.encoder, "c_make_encoder", None)  # an interpreter without the C encoder
    assert json_text.compact_dumps() is json_text.compact_dumps_plain


@settings(max_examples=300)
@given(st.lists(st.integers(1, HIGHEST_NS) | st.integers(1, 5_000_000), max_size=200))
def test_hdr_record_fills_the_histogram_as_record_value_does(values: list[int]) -> None:
    record = hdr.recorder_for(new_histogram())
    fast, plain = new_histogram(), new_histogram()
    for value in values:
        record(fast, value)
        hdr.record_plain(plain, value)
    assert fast.encode() == plain.encode()
    assert list(fast.counts) == list(plain.counts)
    assert (fast.get_total_count(), fast.get_min_value(), fast.get_max_value()) == \
        (plain.get_total_count(), plain.get_min_value(), plain.get_max_value())


def test_hdr_recorder_falls_back_on_a_foreign_layout() -> None:
    assert hdr.recorder_for(object()) is hdr.record_plain  # type: ignore[arg-type]


HEADER_NAME = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz-"), min_size=1, max_size=12) \
    .map(lambda name: "X-" + name.title())
HEADER_VALUE = st.text(st.sampled_from("aZ09 =:+/-;\t\x7f\xe9"), max_size=40)


@pytest.fixture(scope="module")
def client() -> Any:
    # never connects: only its head builder is used
    c = HTTPClient.from_url("http://127.0.0.1:9/", concurrency=1)
    yield c
    c.close()


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.sampled_from(["/entity.create", "/entity.bulkCreate", "/x?y=1"]),
       headers=st.dictionaries(HEADER_NAME, HEADER_VALUE, max_size=4)
       .filter(lambda h: len({name.lower() for name in h}) == len(h)),
       body=st.binary(max_size=300))
def test_filled_template_is_the_head_the_library_builds(client: Any, target: str, headers: dict[str, str],
                                                        body: bytes) -> None:
    head = http_head.template(client, target, tuple(headers))
    assert head is not None
    request = http_head.fill(head, tuple(headers.values()), body)
    joined = "".join(headers.values())
    if request is None:  # only for values the library checks itself
        assert not (joined.isascii() and joined.isprintable())
    else:
        assert request == client._build_request("POST", target, body=body, headers=headers).encode("latin-1") + body


def test_framing_headers_get_no_template(client: Any) -> None:
    for names in (("Content-Length",), ("Host", "Date"), ("transfer-encoding",), ("Expect",)):
        assert http_head.template(client, "/entity.create", names) is None


SKIP = _profile_compiler.SKIP
SLOTS = st.lists(st.tuples(st.text(max_size=6), st.sampled_from([0, 1, "v", None, SKIP]), st.booleans()),
                 max_size=12)


@given(SLOTS)
def test_generated_builder_builds_what_the_loop_builds(spec: list[tuple[str, Any, bool]]) -> None:
    def slots(calls: list[int]) -> list[builder.Slot]:
        def gen(i: int, value: Any) -> Callable[[], Any]:
            return lambda: calls.append(i) or value
        return [(key, gen(i, value), optional) for i, (key, value, optional) in enumerate(spec)]

    fast_calls: list[int] = []
    plain_calls: list[int] = []
    fast = builder.builder(slots(fast_calls), SKIP)()
    plain = builder.builder_plain(slots(plain_calls), SKIP)()
    assert list(fast.items()) == list(plain.items())  # same keys, same order, same values
    assert fast_calls == plain_calls == list(range(len(spec)))  # every generator once, in order


def test_factory_with_the_loop_builder_makes_the_same_profiles(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = default_factory(seed=31, run_id="fast").batch(300)
    monkeypatch.setattr(_profile_compiler, "builder", builder.builder_plain)
    plain = default_factory(seed=31, run_id="fast").batch(300)
    assert [json.dumps(p) for p in fast] == [json.dumps(p) for p in plain]


def _draws(seeding: Callable[[Callable[[], None]], Callable[[], None]], db: InMemoryExampleDatabase) -> list[int]:
    seen: list[int] = []

    @settings(max_examples=30, database=db, derandomize=False)
    @given(st.integers(0, 10**9))
    def prop(n: int) -> None:
        seen.append(n)
        assert not math.isnan(n)

    seeding(prop)()
    return seen


def test_seed_and_key_draws_what_seed_draws_and_keeps_the_database() -> None:
    plain_db, fast_db = InMemoryExampleDatabase(), InMemoryExampleDatabase()
    plain = _draws(lambda t: hypothesis_seed.seed_plain(t, 1234), plain_db)
    fast = _draws(lambda t: hypothesis_seed.seed_and_key(t, 1234, "loadgen.test:draws"), fast_db)
    assert fast == plain and len(set(fast)) > 10
    assert _draws(lambda t: hypothesis_seed.seed_plain(t, 99), InMemoryExampleDatabase()) != plain


def test_seed_and_key_saves_a_failure_under_its_key() -> None:
    db = InMemoryExampleDatabase()

    @settings(max_examples=50, database=db, derandomize=False)
    @given(st.integers(0, 100))
    def prop(n: int) -> None:
        assert n < 50

    with pytest.raises(AssertionError):
        hypothesis_seed.seed_and_key(prop, 7, "loadgen.test:fails")()
    assert list(db.fetch(b"loadgen.test:fails"))  # replayed first next run
    with pytest.raises(AssertionError):
        hypothesis_seed.seed_plain(prop, 7)()  # the plain twin: the same failure, nothing more saved
    assert set(db.data) == {key for key in db.data if key.startswith(b"loadgen.test:fails")}


#: a row's cells: a value (SKIP only from a generator that may leave it out), or no generator at all
CELLS = st.lists(st.one_of(st.tuples(st.sampled_from([0, "v", None, [1]]), st.booleans()),
                           st.tuples(st.just(SKIP), st.just(True)), st.tuples(st.none(), st.just(False))),
                 max_size=12)


@given(CELLS)
def test_generated_row_lists_what_the_loop_lists(spec: list[tuple[Any, bool]]) -> None:
    def cells(calls: list[int]) -> list[csv_rows.Cell]:
        def gen(i: int, value: Any) -> Callable[[], Any]:
            return lambda: calls.append(i) or value
        return [(None if value is None and not optional else gen(i, value), optional)
                for i, (value, optional) in enumerate(spec)]

    fast_calls: list[int] = []
    plain_calls: list[int] = []
    fast = csv_rows.row_builder(cells(fast_calls), SKIP)()
    plain = csv_rows.row_builder_plain(cells(plain_calls), SKIP)()
    assert fast == plain and len(fast) == len(spec) and SKIP not in fast
    assert fast_calls == plain_calls == [i for i, (v, opt) in enumerate(spec) if v is not None or opt]


def test_factory_with_the_loop_row_makes_the_same_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = default_factory(seed=32, run_id="fast").batch(300, rows=True)
    monkeypatch.setattr(_profile_compiler, "row_builder", csv_rows.row_builder_plain)
    plain = default_factory(seed=32, run_id="fast").batch(300, rows=True)
    assert fast == plain and len(fast[0]) == 26
