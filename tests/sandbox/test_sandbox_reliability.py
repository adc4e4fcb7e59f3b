"""Reliability over real HTTP: concurrent duplicates, kill -9 mid-write, malformed batches, garbage input."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from loadgen.sandbox import Sandbox, serve
from loadgen.sandbox.records import Prepared, prepare
from loadgen.sandbox.store import Store
from loadgen.schema import default_schema

Factory = Callable[..., Sandbox]
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _person(n: int) -> dict[str, Any]:
    return {"email": f"person{n}@example.com", "givenName": f"Given{n}", "familyName": "Load",
            "birthday": "1970-01-02", "primaryAddress": {"zip": str(n)},
            "statuses": [{"status": "s", "statusCreated": "2020-01-01T00:00:00Z"}]}


@pytest.mark.slow
def test_fifty_concurrent_clients_with_duplicate_emails(sandbox_factory: Factory, tmp_path: Path) -> None:
    sb = sandbox_factory(db=tmp_path / "dup.db")
    rng = random.Random(4)
    unique = [_person(n) for n in range(400)]
    dups = []
    for _ in range(100):  # 20% duplicates, some with the email in another case
        twin = dict(rng.choice(unique))
        twin["email"] = twin["email"].upper() if rng.random() < 0.5 else twin["email"]
        dups.append(twin)
    work = unique + dups
    rng.shuffle(work)
    outcomes: list[tuple[dict[str, Any], int, dict[str, Any]]] = []
    lock = threading.Lock()

    def worker(chunk: list[dict[str, Any]]) -> None:
        with httpx.Client(base_url=sb.url, auth=(sb.client_id, sb.client_secret), timeout=30) as c:
            for person in chunk:
                r = c.post("/entity.create", data={"type_name": "user", "attributes": json.dumps(person)})
                with lock:
                    outcomes.append((person, r.status_code, r.json()))

    with ThreadPoolExecutor(50) as pool:
        list(pool.map(worker, [work[i::50] for i in range(50)]))

    assert len(outcomes) == 500
    assert all(status < 500 for _, status, _ in outcomes)
    winners: dict[str, list[dict[str, Any]]] = {}
    for person, _, body in outcomes:
        if body["stat"] == "ok":
            winners.setdefault(person["email"].lower(), []).append(body)
        else:
            assert body["code"] == 361 and body["attribute_name"] == "/email", body
    assert sorted(winners) == sorted(p["email"] for p in unique)     # every email exactly once
    assert all(len(v) == 1 for v in winners.values())
    by_email = {p["email"].lower(): p for p, _, b in outcomes if b["stat"] == "ok"}
    with httpx.Client(base_url=sb.url, auth=(sb.client_id, sb.client_secret)) as c:
        for email, (ack,) in winners.items():
            got = c.get("/entity", params={"type_name": "user", "uuid": ack["uuid"]}).json()["result"]
            sent = by_email[email]
            assert got["id"] == ack["id"] and got["email"] == sent["email"]
            assert got["givenName"] == sent["givenName"]
            assert got["primaryAddress"]["zip"] == sent["primaryAddress"]["zip"]
        assert c.get("/entity.count", params={"type_name": "user"}).json()["total_count"] == 400
    assert sb.stats()["errors"] == {"361": 100}


def test_two_sandboxes_on_one_file_never_hand_out_one_id_twice(tmp_path: Path) -> None:
    """Each process takes ids from the file's counters a range at a time: two sandboxes sharing it give
    unique record and plural-element ids, each its own increasing, and a restart goes on above them all."""
    db = tmp_path / "shared.db"
    made: dict[int, list[dict[str, Any]]] = {0: [], 1: []}
    with serve(db=db) as first, serve(db=db) as second:
        clients = [httpx.Client(base_url=sb.url, auth=(sb.client_id, sb.client_secret), timeout=30)
                   for sb in (first, second)]
        for n in range(260):  # past two ranges of each
            which = n % 3 % 2
            body = clients[which].post("/entity.create", data={
                "type_name": "user", "attributes": json.dumps(_person(n))}).json()
            assert body["stat"] == "ok", body
            made[which].append(body)
        for c in clients:
            c.close()
        with httpx.Client(base_url=first.url, auth=(first.client_id, first.client_secret)) as c:
            stored = [c.get("/entity", params={"type_name": "user", "id": body["id"]}).json()["result"]
                      for body in made[0] + made[1]]
    ids = [body["id"] for body in made[0] + made[1]]
    assert len(set(ids)) == 260 and all(ids == sorted(ids) for ids in ([b["id"] for b in made[w]] for w in (0, 1)))
    elements = [s["id"] for record in stored for s in record["statuses"]]
    assert len(elements) == len(set(elements)) == 260
    with serve(db=db) as again, httpx.Client(base_url=again.url, auth=(again.client_id, again.client_secret)) as c:
        body = c.post("/entity.create", data={"type_name": "user", "attributes": json.dumps(_person(999))}).json()
    assert body["id"] > max(ids)


def test_a_create_retried_alone_takes_new_ids_not_the_next_range(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A create that hits the unique index is rolled back and retried alone; if the record it collided with
    is deleted in between (another process, no lock held then), the retry succeeds, with ids of a range
    of its own: the first try's ids are spent, and the next range may be another process's."""
    schema = default_schema()
    path = str(tmp_path / "shared.db")
    mine, other = Store(path, {"user": schema}), Store(path, {"user": schema})

    def person(email: str) -> Prepared:
        made = prepare({"email": email, "statuses": [{"status": "s"}]}, schema)
        assert isinstance(made, Prepared)
        return made

    ((taken_id, _),) = other.insert("user", [person("x@example.com")])
    for i in range(99):  # mine is left one record id and one element id
        mine.insert("user", [person(f"mine{i}@example.com")])
    begin = mine._begin
    calls = []

    def interleaved() -> None:
        calls.append(1)
        if len(calls) == 2:  # between the rolled-back try and the retry
            other.delete("user", taken_id)
        begin()
    monkeypatch.setattr(mine, "_begin", interleaved)
    ((retried, _),) = mine.insert("user", [person("x@example.com")])
    monkeypatch.undo()
    ids, elements = [], []
    for entity_id, data in mine.conn.execute("SELECT id, data FROM entities"):
        ids.append(entity_id)
        elements += [s["id"] for s in json.loads(data)["statuses"]]
    counters = dict(mine.conn.execute("SELECT name, value FROM counters"))
    assert len(calls) == 2 and retried in ids and len(ids) == len(set(ids)) == 100
    # every id handed out was reserved first: none is left for the next range to give again
    assert max(ids) <= counters["entity"] and max(elements) <= counters["plural"]
    mine.close()
    other.close()


@pytest.mark.slow
def test_kill_9_mid_write_loses_no_acknowledged_record(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    acked: list[tuple[str, str]] = []
    stop = threading.Event()
    with serve(db=db, process=True, admin=False) as sb:
        creds = (sb.client_id, sb.client_secret)
        assert sb.pid is not None

        def writer(w: int) -> None:
            n = 0
            with httpx.Client(base_url=sb.url, auth=creds, timeout=5) as c:
                while not stop.is_set() and n < 5000:
                    n += 1
                    email = f"w{w}n{n}@example.com"
                    try:
                        if n % 5 == 0:
                            batch = [{"email": f"b{i}.{email}"} for i in range(20)]
                            body = c.post("/entity.bulkCreate", data={
                                "type_name": "user", "all_attributes": json.dumps(batch)}).json()
                            acked.extend(zip(body["uuid_results"], [r["email"] for r in batch], strict=True))
                        else:
                            body = c.post("/entity.create", data={
                                "type_name": "user", "attributes": json.dumps({"email": email})}).json()
                            acked.append((body["uuid"], email))
                    except (httpx.HTTPError, json.JSONDecodeError):
                        return  # the server died under us: this call was never acknowledged

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while len(acked) < 200 and time.monotonic() < deadline:  # kill while the writers are busy
            time.sleep(0.02)
        os.kill(sb.pid, signal.SIGKILL)
        stop.set()
        for t in threads:
            t.join(10)
    assert len(acked) >= 200

    with serve(db=db, process=True, admin=True) as again:
        assert (again.client_id, again.client_secret) == creds      # the demo client survived too
        with httpx.Client(base_url=again.url, auth=creds, timeout=30) as c:
            for uuid, email in acked:
                got = c.get("/entity", params={"type_name": "user", "uuid": uuid}).json()
                assert got["stat"] == "ok" and got["result"]["email"] == email
        records = again.stats()["records"]["user"]
        assert records >= len(acked)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    (entities,) = conn.execute("SELECT count(*) FROM entities").fetchone()
    (indexed,) = conn.execute("SELECT count(*) FROM uniques u JOIN entities e ON e.id = u.entity").fetchone()
    (orphans,) = conn.execute("SELECT count(*) FROM uniques WHERE entity NOT IN (SELECT id FROM entities)").fetchone()
    assert entities == indexed == records and orphans == 0       # no half-written record
    conn.close()


def test_malformed_bulk_create_creates_nothing(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.reset()
    http.post("/entity.create", data={"type_name": "user", "attributes": '{"email": "keep@x.com"}'})
    good = json.dumps([_person(n) for n in range(50)])
    for broken in [good[:-1], good[:-1] + ",]", good.replace("}", "}x", 1), good + "[]",
                   good.replace('"Load"', "NaN"), good.replace('"Load"', '"Lo\\ud800"')]:
        body = http.post("/entity.bulkCreate", data={"type_name": "user", "all_attributes": broken}).json()
        assert body["stat"] == "error" and body["code"] == 200 and body["argument_name"] == "all_attributes"
    assert http.get("/entity.count", params={"type_name": "user"}).json()["total_count"] == 1


def _check(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text[:200]
    if response.status_code == 200:
        body = response.json()
        assert body["stat"] in ("ok", "error")
        if body["stat"] == "error":
            assert body["code"] != 500 and len(body["request_id"]) == 16


def test_garbage_input_never_500_or_hang(sandbox_factory: Factory) -> None:
    sb = sandbox_factory(max_body=64 * 1024)
    rng = random.Random(7)
    auth = (sb.client_id, sb.client_secret)
    with httpx.Client(base_url=sb.url, auth=auth, timeout=10) as c:
        for _ in range(150):
            body = rng.randbytes(rng.randint(0, 300))
            op = rng.choice(["entity.create", "entity.bulkCreate", "entity.find", "entity", "nothing"])
            _check(c.post(f"/{op}", content=body, headers=FORM))
        form = "type_name=user&attributes="
        for raw in [form + "%zz", form + "%E2%82", form + "%ff%fe", form.encode() + b"\xff\xfe",
                    form + "%7B%22email%22%3A%22%ED%A0%80%22%7D", "=&&=&", "%", "type_name=%" * 2000,
                    "a=" + "&a=" * 1500]:
            response = c.post("/entity.create", content=raw, headers=FORM)
            _check(response)
            assert response.json()["stat"] == "error"
        for ctype in ["application/json", "multipart/form-data; boundary=x", "text/plain"]:
            response = c.post("/entity.create", content=b'{"type_name": "user"}', headers={"Content-Type": ctype})
            _check(response)
            assert response.json()["code"] == 200
        huge = c.post("/entity.bulkCreate", data={"type_name": "user", "all_attributes": "[" + "1," * 100_000 + "1]"})
        assert huge.json()["code"] == 200 and huge.json()["argument_name"] == "all_attributes"

        def chunks() -> Any:
            for _ in range(200):
                yield b"x" * 1024

        streamed = c.post("/entity.create", content=chunks(), headers=FORM)
        assert streamed.json()["code"] == 200
        deep = c.post("/entity.create", data={"type_name": "user", "attributes": "[" * 100_000})
        assert deep.json()["code"] == 200
        _check(c.get("/entity.find", params={"type_name": "user", "filter": "(" * 5000}))
        _check(c.post("/entity.find", data={"type_name": "user", "filter": "\x00\ud7ff'"}))
    junks = [b"\x00\xff garbage\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
             b"POST /entity HTTP/1.1\r\nContent-Length: x\r\n\r\n"]
    for junk in junks:
        with socket.create_connection(("127.0.0.1", int(sb.url.rsplit(":", 1)[1])), 5) as s:
            s.sendall(junk)
            s.settimeout(5)
            reply = s.recv(100)
            assert reply == b"" or b" 4" in reply[:13]
    assert httpx.post(f"{sb.url}/entity.count", data={"type_name": "user"}, auth=auth).json()["stat"] == "ok"
