"""The fast path of ``wire.decode_form`` decodes exactly like ``urllib.parse.parse_qsl``, errors included."""

from __future__ import annotations

import json
import random
from urllib.parse import parse_qsl, urlencode

from loadgen import wire
from loadgen.errors import FormError

PIECES = [b"a", b"b", b"=", b"&", b"+", b"%", b"%2", b"%41", b"%3d", b"%3D", b"%e2%82%ac", b"%ff", b"%ED%A0%80",
          b" ", b"\t", b"\n", b"\xc3\xa9", b"%0A", b"%26", b";", b"_", b"%%", b"%zz", b"% ", b"%\t", b"%2 ",
          b"%a", b"%0", b"%=", b"%0d", b"%0D%0A", b"%20", b"\x0b", b"%3", b"%09", b"\r",
          b"\xc3", b"\xa9", b"\xe2\x82\xac", b"\xed\xa0\x80", b"\xff"]


def _reference(body: bytes) -> dict[str, str] | str:
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict",
                          max_num_fields=1000)
    except (UnicodeDecodeError, ValueError):
        return "error"
    out: dict[str, str] = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out


def _decoded(body: bytes) -> dict[str, str] | str:
    try:
        return wire.decode_form(body)
    except FormError:
        return "error"


def test_fast_path_matches_parse_qsl_on_random_bodies() -> None:
    rng = random.Random(20261125)
    for _ in range(30_000):
        body = b"".join(rng.choice(PIECES) for _ in range(rng.randint(0, 14)))
        assert _decoded(body) == _reference(body), body


def test_fast_path_on_a_real_bulk_body() -> None:
    records = [{"email": f"u{i}@x.com", "givenName": "Zoë = 100% ü", "aboutMe": "a&b+c;d\n"} for i in range(100)]
    body = urlencode({"type_name": "user", "all_attributes": json.dumps(records, ensure_ascii=False)}).encode()
    assert wire._fast_pairs(body) is not None
    assert json.loads(wire.decode_form(body)["all_attributes"]) == records
    assert _decoded(body + b"&x=%zz") == _reference(body + b"&x=%zz")
