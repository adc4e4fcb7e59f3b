"""``loadgen generate``: the four formats, streaming memory, reproducible bytes and one-line errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import example, given
from hypothesis import strategies as st

from loadgen._profile_compiler import Compiler, _form_ready_value
from loadgen.cli import cli
from loadgen.generation import CHUNK, Generation, _Columns, _form_lines, json_and_form, write
from loadgen.profiles import ProfileFactory, default_factory, parse_profile
from loadgen.schema import Schema, default_schema, load_schema, validate
from loadgen.wire import (
    decode_form,
    dumps_fast,
    encode_form_lean,
    form_escape_lean,
    form_plain,
    form_ready,
    loads_strict,
)

LOADGEN = str(Path(sys.executable).parent / "loadgen")
ARGS = ["generate", "--seed", "7", "--today", "2026-11-25"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """The installed console script, as `make demo` runs it (stdout and stderr are pipes, not TTYs)."""
    return subprocess.run([LOADGEN, *args], cwd=cwd, capture_output=True, timeout=120, check=False)


def test_demo_writes_1000_valid_unique_profiles_and_says_where(tmp_path: Path) -> None:
    done = run("generate", "-n", "1000", "--seed", "7", "-o", "runs/demo-profiles.jsonl", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode() == "wrote 1,000 profiles to runs/demo-profiles.jsonl\n"  # no progress bar
    lines = (tmp_path / "runs" / "demo-profiles.jsonl").read_text(encoding="utf-8").splitlines()
    records = [loads_strict(line) for line in lines]
    assert len(records) == 1000
    assert all(validate(r, default_schema()) == [] for r in records)
    assert len({r["email"].casefold() for r in records}) == 1000


def test_same_arguments_give_the_same_bytes_in_another_process() -> None:
    first = run(*ARGS, "-n", "300", "--run-id", "r1", "--worker", "4")
    assert first.returncode == 0 and len(first.stdout.splitlines()) == 300
    assert run(*ARGS, "-n", "300", "--run-id", "r1", "--worker", "4").stdout == first.stdout
    assert run(*ARGS, "-n", "300", "--run-id", "r1", "--worker", "5").stdout != first.stdout


def _invoke(*args: str) -> Any:
    result = CliRunner().invoke(cli, [*ARGS, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return result


def test_jsonl_and_json_formats_hold_the_same_profiles() -> None:
    lines = _invoke("-n", "50").stdout.splitlines()
    array = loads_strict(_invoke("-n", "50", "--format", "json").stdout)
    assert [loads_strict(line) for line in lines] == array
    assert all(validate(r, default_schema()) == [] for r in array)
    assert loads_strict(_invoke("-n", "0", "--format", "json").stdout) == []


def test_form_lines_are_ready_to_send_entity_create_bodies() -> None:
    expected = [loads_strict(line) for line in _invoke("-n", "40").stdout.splitlines()]
    bodies = _invoke("-n", "40", "--format", "form").stdout.splitlines()
    assert len(bodies) == 40
    for body, record in zip(bodies, expected, strict=True):
        assert body.isascii() and " " not in body
        params = decode_form(body)
        assert params["type_name"] == "user"
        assert loads_strict(params["attributes"]) == record


_VALUES = st.text() | st.integers(-(2**63), 2**63 - 1) | st.lists(st.text(), max_size=3)


@given(st.lists(st.dictionaries(st.text(max_size=4), _VALUES | st.floats(allow_nan=False, allow_infinity=False),
                                max_size=4), min_size=1, max_size=6))
@example([{"givenName": "Xavière", "n": 1}, {"aboutMe": "tax\\x41 ñ"}, {"a": "x\x7f é"}, {"b": "50% & +1 é"},
          {"c&d é": [1e16, -2.5e-300, "\x00"]}])
def test_form_lines_are_the_bodies_encode_form_lean_writes(records: list[dict[str, Any]]) -> None:
    """A slice's form lines, from records made form-ready as the compiler makes a profile file's fixed values
    (every text, keys too, and a float written with ``+``), are the ``encode_form_lean`` body of each plain
    record (a letter x, a backslash, a DEL, a reserved character beside a non-ASCII letter)."""
    expected = b"".join(encode_form_lean({"type_name": "user", "attributes": dumps_fast(r).decode()}) + b"\n"
                        for r in records)
    assert _form_lines([_form_ready_value(r) for r in records], b"type_name=user&attributes=") == expected


@given(st.text())
@example("Zoë 50%+1 & \x7f\x00 \\x41 \"q\" 😀")
def test_form_ready_text_is_json_that_needs_no_escape(text: str) -> None:
    """orjson's text of the form-ready text is the form escape of orjson's text of the text; it reads back."""
    ready = form_ready(text)
    assert ready.isascii() and form_plain(ready) == text
    assert dumps_fast(ready) == form_escape_lean(dumps_fast(text))


def _every_generator(length: int | None = None) -> Schema:
    """A schema with an attribute for each generator the compiler picks by name (``parent.name`` in a plural
    of that parent's name, the others in an object), each ``length`` long at most, and one of each type:
    a generator added later is tested too."""
    names = Compiler(default_factory()).strings
    objects: dict[str, list[dict[str, Any]]] = {"plain": []}
    cut = {} if length is None else {"length": length}
    for name in names:
        parent, _, child = name.rpartition(".")
        objects.setdefault(parent or "plain", []).append({"name": child, "type": "string", **cut})
    types = ["date", "dateTime", "boolean", "integer", "decimal", "ipAddress", "json", "uuid", "password-bcrypt"]
    return load_schema({"name": "every", "attr_defs": [
        {"name": "email", "type": "string", "length": 100, "constraints": ["unique", "email-address", "required"]},
        *({"name": parent, "type": "object" if parent == "plain" else "plural", "attr_defs": attrs}
          for parent, attrs in objects.items()),
        *({"name": f"a_{kind.replace('-', '_')}", "type": kind} for kind in types)]})


#: Every text the compiler cuts, filters or takes from the profile file: names clipped below their length
#: and filtered to letters (ASCII or not), a city clipped, fixed values (non-ASCII, DEL, an object),
#: statuses and an attribute name outside ASCII.
CUT = load_schema({"name": "kunde", "attr_defs": [
    {"name": "email", "type": "string", "length": 100, "constraints": ["unique", "email-address", "required"]},
    {"name": "givenName", "type": "string", "length": 3, "constraints": ["unicode-letters"]},
    {"name": "familyName", "type": "string", "length": 5, "constraints": ["alphabetic"]},
    {"name": "middleName", "type": "string", "length": 2},
    {"name": "displayName", "type": "string", "length": 4},
    {"name": "aboutMe", "type": "string", "length": 7},
    {"name": "straße", "type": "string"},
    {"name": "note", "type": "string"},
    {"name": "address", "type": "object", "attr_defs": [
        {"name": "city", "type": "string", "length": 4, "constraints": ["alphanumeric"]},
        {"name": "address1", "type": "string", "length": 6}, {"name": "phone", "type": "string", "length": 5},
        {"name": "country", "type": "string"}, {"name": "tags", "type": "json"}]},
    {"name": "statuses", "type": "plural", "attr_defs": [{"name": "status", "type": "string"}]}]})


@pytest.mark.parametrize(("schema", "profile"), [
    (default_schema(), {}),
    (default_schema(), {"locales": {"ko_KR": 1, "ar_AA": 1, "he_IL": 1, "hi_IN": 1, "th_TH": 1, "vi_VN": 1,
                                    "hu_HU": 1, "uk_UA": 1, "zh_TW": 1, "hy_AM": 1}}),
    (CUT, {"fixed": {"note": "Zoë \x7f 50% ☃", "address": {"tags": {"ü&+": ["ß", 1, 1e17, 0.5]}}},
           "statuses": {"actif": 1, "geprüft": 1, "済み": 1, "on hold": 1}}),
    (None, {"statuses": {"on hold": 1, "geprüft": 2}}), (3, {"statuses": {"on hold": 1, "geprüft": 2}}),
], ids=["default", "ten-more-locales", "cut", "every-generator", "every-generator-cut-to-3"])
def test_form_bodies_are_the_plain_profiles_escaped(schema: Schema | int | None, profile: dict[str, Any]) -> None:
    """``generate --format form`` draws its profiles form-ready (``wire.form_ready``): the bytes are the
    ``encode_form_lean`` bodies of the plain profiles the other formats hold, in every locale, through
    every generator that cuts or filters text."""
    if not isinstance(schema, Schema):
        schema = _every_generator(schema)
    settings = parse_profile(profile)
    out = io.BytesIO()
    write(Generation(schema, settings, "form", 2 * CHUNK + 10, seed=3, today=date(2026, 11, 25)), out)
    plain = ProfileFactory(schema, settings, seed=3, today=date(2026, 11, 25))
    records = [*plain.chunk(0, CHUNK), *plain.chunk(1, CHUNK), *plain.chunk(2, 10)]
    prefix = {"type_name": schema.name}
    assert out.getvalue().splitlines() == [encode_form_lean({**prefix, "attributes": dumps_fast(r).decode()})
                                           for r in records]
    if schema is CUT:
        assert max(len(r["givenName"]) for r in records) == 3 and all(r["givenName"].isalpha() for r in records)
        assert any(not r["address"]["address1"].isascii() for r in records)


def test_csv_has_dotted_object_columns_and_json_plurals() -> None:
    expected = [loads_strict(line) for line in _invoke("-n", "60").stdout.splitlines()]
    rows = list(csv.DictReader(io.StringIO(_invoke("-n", "60", "--format", "csv").stdout)))
    assert "primaryAddress.zip" in rows[0] and "statuses" in rows[0] and "primaryAddress" not in rows[0]
    for row, record in zip(rows, expected, strict=True):
        rebuilt: dict[str, Any] = {}
        for column, text in row.items():
            if text == "":
                continue
            top, _, child = column.partition(".")
            if child:
                rebuilt.setdefault(top, {})[child] = text
            else:
                rebuilt[column] = json.loads(text) if text.startswith(("[", "{")) else text
        assert rebuilt == record


def test_memory_stays_flat_while_streaming(tmp_path: Path) -> None:
    """Peak RSS for 60,000 profiles is within a few MB of the peak for 2,000 (holding them would add ~100 MB)."""
    code = ("import resource, sys\nfrom loadgen.cli import cli\n"
            "cli.main(sys.argv[1:], standalone_mode=False)\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, file=sys.stderr)")

    def peak_mb(n: int) -> int:
        out = tmp_path / f"{n}.jsonl"
        done = subprocess.run([sys.executable, "-c", code, "generate", "-n", str(n), "-o", str(out)],
                              capture_output=True, timeout=120, check=True)
        assert out.stat().st_size > n * 500
        return int(done.stderr.decode().split()[-1])

    small, large = peak_mb(2_000), peak_mb(60_000)
    assert large - small < 15, (small, large)


@pytest.mark.parametrize(("files", "args", "problem"), [
    ({"s.json": '{"name": "user", "attr_defs": [{"name": "zip", "type": "strng"}]}'}, ["--schema", "s.json"],
     "s.json: attr_defs[0] (zip): unknown type 'strng'"),
    ({"s.json": "{not json"}, ["--schema", "s.json"],
     "s.json: the JSON is not syntactically valid: Expecting property name"),
    ({"p.toml": "[locales]\nxx_YY = 1\n"}, ["--profile", "p.toml"], "p.toml: locales: unknown locale 'xx_YY'"),
    ({"p.toml": "[fixed]\nbirthday = true\n"}, ["--profile", "p.toml"],
     "p.toml: fixed.birthday: expected a JSON value of type date (got True)"),
    ({"p.toml": "locales = "}, ["--profile", "p.toml"], "p.toml: not valid TOML"),
    ({}, ["--profile", "missing.toml"], "missing.toml: no such file"),
    ({}, ["-o", "/proc/none/out.jsonl"], "/proc/none/out.jsonl: cannot write"),
])
def test_bad_input_is_one_line_with_exit_code_2(tmp_path: Path, files: dict[str, str], args: list[str],
                                                problem: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    done = run(*ARGS, "-n", "5", *args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == b""
    err = done.stderr.decode()
    assert err.startswith("error: ") and problem in err and err.count("\n") == 1, err


def test_a_users_own_schema_is_generated_from(tmp_path: Path) -> None:
    schema = {"schema": {"name": "member", "attr_defs": [
        {"name": "email", "type": "string", "length": 100, "constraints": ["unique", "email-address", "required"]},
        {"name": "loyaltyTier", "type": "string", "length": 8, "constraints": ["alphabetic"]},
        {"name": "points", "type": "integer"},
        {"name": "address", "type": "object", "attr_defs": [{"name": "city", "type": "string"}]},
    ]}, "stat": "ok"}
    (tmp_path / "member.json").write_text(json.dumps(schema))
    done = run(*ARGS, "-n", "20", "--schema", "member.json", "--format", "form", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for line in done.stdout.decode().splitlines():
        params = decode_form(line)
        assert params["type_name"] == "member"
        record = loads_strict(params["attributes"])
        assert set(record) == {"email", "loyaltyTier", "points", "address"}
        assert record["loyaltyTier"].isalpha() and len(record["loyaltyTier"]) <= 8


def test_a_bare_attr_defs_list_takes_its_name_from_type_name_or_the_file(tmp_path: Path) -> None:
    """Janrain's SDKs keep a schema as a bare attr_defs list, with no type name in it."""
    (tmp_path / "member.schema.json").write_text(json.dumps([
        {"name": "email", "type": "string", "length": 256, "constraints": ["unique"]},
        {"name": "lastUpdated", "type": "version"}, {"name": "password", "type": "password"}]))
    for extra, name in (([], "member"), (["--type-name", "person"], "person")):
        done = run(*ARGS, "-n", "3", "--schema", "member.schema.json", "--format", "form", *extra, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        for line in done.stdout.decode().splitlines():
            params = decode_form(line)
            assert params["type_name"] == name
            assert set(loads_strict(params["attributes"])) == {"email", "password"}


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "form"])
def test_jobs_do_not_change_a_byte(tmp_path: Path, fmt: str) -> None:
    """Chunks are seeded on their own: 2 processes write what 1 does (3 chunks, the last one short)."""
    count = str(2 * CHUNK + 7)
    one = run(*ARGS, "-n", count, "--format", fmt, "--jobs", "1", "-o", "one", cwd=tmp_path)
    two = run(*ARGS, "-n", count, "--format", fmt, "--jobs", "2", "-o", "two", cwd=tmp_path)
    assert one.returncode == two.returncode == 0, (one.stderr, two.stderr)
    assert (tmp_path / "one").read_bytes() == (tmp_path / "two").read_bytes()
    data = (tmp_path / "one").read_bytes()  # slices of a chunk joined as the format joins profiles
    if fmt == "json":
        assert len(loads_strict(data)) == 2 * CHUNK + 7
    else:
        assert len(data.splitlines()) == 2 * CHUNK + 7 + (fmt == "csv")  # and a header
        assert fmt == "csv" or all(line for line in data.split(b"\n")[:-1])


def test_jobs_to_a_pipe_and_appended_to_a_file_keep_the_order(tmp_path: Path) -> None:
    """Workers write their chunks into a regular file themselves; a pipe and a file opened for appending
    (`>> file`, where pwrite ignores its offset) get the chunks from the parent, in order all the same."""
    count = str(3 * CHUNK + 1)
    one = run(*ARGS, "-n", count, "--jobs", "1", "-o", "one", cwd=tmp_path)
    piped = run(*ARGS, "-n", count, "--jobs", "2", cwd=tmp_path)
    appended = tmp_path / "appended"
    appended.write_bytes(b"kept\n")
    with appended.open("ab") as out:
        done = subprocess.run([LOADGEN, *ARGS, "-n", count, "--jobs", "2"], cwd=tmp_path, stdout=out,
                              stderr=subprocess.PIPE, timeout=120, check=False)
    assert one.returncode == piped.returncode == done.returncode == 0, (one.stderr, piped.stderr, done.stderr)
    expected = (tmp_path / "one").read_bytes()
    assert piped.stdout == expected
    assert appended.read_bytes() == b"kept\n" + expected


def test_chunks_continue_the_stream_and_stay_unique() -> None:
    """Chunk 0 is what the factory makes from the start (earlier outputs keep their bytes); later chunks
    number their emails apart, so a split output never repeats one."""
    factory = default_factory(seed=3, run_id="c", today=date(2026, 11, 25))
    first = factory.chunk(0, 50)
    assert first == default_factory(seed=3, run_id="c", today=date(2026, 11, 25)).batch(50)
    emails = [p["email"] for i in (2, 0, 1) for p in factory.chunk(i, 50)]
    assert len(set(emails)) == 150 and factory.chunk(0, 50) == first
    parts = list(factory.chunk_parts(1, 50, 16))  # made a part at a time: the same profiles
    assert [len(part) for part in parts] == [16, 16, 16, 2]
    assert [p for part in parts for p in part] == factory.chunk(1, 50)


@pytest.mark.parametrize("about", ['quote " comma , end\\', 'row\\"],[\\"break ü', "two\nlines"])
def test_csv_cells_survive_quotes_backslashes_and_newlines(tmp_path: Path, about: str) -> None:
    """The CSV is written from orjson's text (every cell quoted); a cell that needs more than \\" and \\\\
    (a newline) goes through the csv module: either way a CSV reader gets the exact values back."""
    (tmp_path / "p.toml").write_text(f"[fixed]\naboutMe = {json.dumps(about)}\n", encoding="utf-8")
    jsonl = run(*ARGS, "-n", "30", "--profile", "p.toml", cwd=tmp_path)
    table = run(*ARGS, "-n", "30", "--profile", "p.toml", "--format", "csv", cwd=tmp_path)
    assert jsonl.returncode == table.returncode == 0, (jsonl.stderr, table.stderr)
    records = [loads_strict(line) for line in jsonl.stdout.decode().splitlines()]
    rows = list(csv.DictReader(io.StringIO(table.stdout.decode(), newline="")))
    assert len(rows) == 30
    for row, record in zip(rows, records, strict=True):
        assert row["aboutMe"] == about
        assert row["email"] == record["email"]
        assert json.loads(row["statuses"]) == record["statuses"]


#: an object within an object (one JSON cell), a plural within an object, an object child left out, another
#: sometimes absent (no length-1 middle name), a plural always empty (a JSON cell never written)
NESTED = load_schema({"name": "member", "attr_defs": [
    {"name": "email", "type": "string", "length": 100, "constraints": ["unique", "email-address", "required"]},
    {"name": "home", "type": "object", "attr_defs": [
        {"name": "city", "type": "string"}, {"name": "middleName", "type": "string"},
        {"name": "geo", "type": "object", "attr_defs": [{"name": "lat", "type": "decimal"}]},
        {"name": "tags", "type": "plural", "attr_defs": [{"name": "tag", "type": "string"}]},
        {"name": "note", "type": "string"}]},
    {"name": "points", "type": "integer"},
    {"name": "badges", "type": "plural", "attr_defs": [{"name": "badge", "type": "string"}]}]})


@pytest.mark.parametrize(("schema", "profile"), [
    (default_schema(), {}), (default_schema(), {"plurals": {"profiles": [1, 2], "photos": [0, 3]}}),
    (NESTED, {"plurals": {"badges": [0, 0], "home.tags": [0, 2]}, "omit": ["home.note"]}),
])
def test_csv_chunks_are_what_the_csv_module_writes(schema: Schema, profile: dict[str, Any]) -> None:
    """The CSV rows the factory makes (``ProfileFactory.row``), written by orjson (one call per row, JSON
    cells as fragments), are byte for byte what the csv module writes from the same profiles made as dicts,
    read here by column name."""
    factory = ProfileFactory(schema, parse_profile(profile), seed=5, today=date(2026, 11, 25))
    names = factory.columns()
    text_types = {"string", "date", "dateTime", "uuid", "ipAddress"}
    for index in range(3):
        records = factory.chunk(index, 300)
        expected = io.StringIO()
        writer = csv.writer(expected, quoting=csv.QUOTE_ALL, lineterminator="\n")
        for record in records:
            row = []
            for name in names:
                top, _, child = name.partition(".")
                value = (record.get(top) or {}).get(child, "") if child else record.get(top, "")
                attr = schema[top]
                attr = attr.child(child) or attr if child else attr
                plain = attr.type in text_types or attr.is_password or value == ""
                row.append(value if plain else json.dumps(value, ensure_ascii=False, separators=(",", ":")))
            writer.writerow(row)
        (rows,) = factory.chunk_parts(index, 300, 300, rows=True)
        assert _Columns(factory).csv(rows) == expected.getvalue().encode()
    if schema is NESTED:
        assert names == ["email", "home.city", "home.middleName", "home.geo", "home.tags", "points", "badges"]
        table = list(csv.reader(io.StringIO(expected.getvalue())))
        for column in (2, 4):  # middle names and tags: sometimes left out
            assert "" in {row[column] for row in table} and any(row[column] for row in table)
        assert all(json.loads(row[3]).keys() == {"lat"} for row in table)
        assert {row[6] for row in table} == {""}


def test_json_and_form_gives_what_one_call_per_record_gives() -> None:
    """The load generator's chunked encoding: each record's JSON as ``dumps_fast`` writes it and that JSON
    escaped as ``form_escape_lean`` escapes it, on profiles (non-ASCII names among them) and on the
    characters the escape treats apart."""
    records: list[dict[str, Any]] = default_factory(seed=41, run_id="chunk").batch(200)
    records += [{"a": "x&y+z %41 q=1"}, {"b": "é\x7f\\x41€😀"}, {"c": "line\nbreak\t\"q\""}, {}, {"d": ["\x00"]}]
    texts, escaped = json_and_form(records)
    assert texts == [dumps_fast(r) for r in records]
    assert escaped == [form_escape_lean(dumps_fast(r)) for r in records]
    assert sum(not t.isascii() for t in texts) > 30  # both escapes were taken
    assert json_and_form([]) == ([], [])
