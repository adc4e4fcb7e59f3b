"""``loadgen sandbox``: the local Capture emulator, served until Ctrl-C."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from loadgen.cli._base import cli, friendly
from loadgen.errors import UsageError


@cli.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535),
              help="port (0 picks a free one)")
@click.option("--db", default="sandbox.db", show_default=True, help="SQLite file, or :memory: for a throwaway store")
@click.option("--schema", "schemas", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="entity type JSON (repeatable)  [default: the shipped user type]")
@click.option("--type-name", default=None, metavar="NAME",
              help="entity type of a --schema that does not name it (a bare attr_defs list)  [default: the file name]")
@click.option("--clients", type=click.Path(dir_okay=False, path_type=Path),
              help="clients.toml: API clients, their features and faults  [default: one demo owner client]")
@click.option("--admin", is_flag=True,
              help="enable GET /_sandbox/stats and POST /_sandbox/reset (for owner clients only)")
@click.option("--no-legacy-auth", is_flag=True, help="refuse client_id/client_secret sent as form parameters")
@click.option("--skew", type=float, default=900.0, show_default=True, help="clock skew allowed on signed calls (s)")
@click.option("--max-batch", type=int, default=2000, show_default=True, help="bulkCreate records per call")
@click.option("--max-body", type=int, default=16 * 1024 * 1024, show_default=True, help="request body bytes")
@click.option("--max-connections", type=int, default=1000, show_default=True,
              help="open connections; requests beyond get HTTP 503")
@click.option("--header-timeout", type=float, default=10.0, show_default=True,
              help="seconds to send a request's headers (and to start one on a new connection)")
@click.option("--body-timeout", type=float, default=30.0, show_default=True, help="seconds to send a request body")
@click.option("--keep-alive", type=int, default=5, show_default=True, help="seconds an idle connection stays open")
@click.option("--write-timeout", type=float, default=30.0, show_default=True,
              help="seconds a client may leave an answer unread before it is disconnected")
@click.option("--max-unread", type=int, default=256 * 1024 * 1024, show_default=True,
              help="bytes of answers that slow readers may hold altogether")
@click.option("--latency", default=None, help="added latency in ms: 25, uniform:10-50, exp:20, normal:50,10")
@click.option("--error-rate", type=click.FloatRange(0, 1), default=None,
              help="share of calls answered with an error (0-1)")
@click.option("--error-code", type=click.Choice(["500", "504"]), default=None, help="code of those errors")
@click.option("--concurrency-limit", type=click.IntRange(min=0), default=None,
              help="simultaneous calls per client before 510 (0: no limit)")
@click.option("--limit-http-status", is_flag=True, default=None, help="send 510 errors with HTTP status 510")
@click.option("--read-lag", type=click.FloatRange(min=0), default=None,
              help="seconds before new records show in find/count")
@friendly
def sandbox_command(host: str, port: int, db: str, schemas: tuple[Path, ...], type_name: str | None,
                    clients: Path | None, admin: bool, no_legacy_auth: bool, skew: float, max_batch: int,
                    max_body: int, max_connections: int, header_timeout: float, body_timeout: float,
                    keep_alive: int, write_timeout: float, max_unread: int, **faults: Any) -> None:
    """Serve the local Capture sandbox until Ctrl-C."""
    import dataclasses

    from loadgen.sandbox import Faults, SandboxConfig, load_clients
    from loadgen.sandbox.server import run_foreground, when_started
    from loadgen.schema import load_schema

    limits = SandboxConfig(skew=skew, max_batch=max_batch, max_body=max_body, max_connections=max_connections,
                           header_timeout=header_timeout, body_timeout=body_timeout, keep_alive=keep_alive,
                           write_timeout=write_timeout, max_unread=max_unread)  # checked before anything starts
    specs, base = load_clients(clients) if clients else ((), None)
    chosen: dict[str, Any] = {k: (int(v) if k == "error_code" else v) for k, v in faults.items() if v is not None}
    types = tuple(load_schema(p, type_name=type_name) for p in schemas)
    names = [t.name for t in types]
    twice = next((name for name in names if names.count(name) > 1), None)
    if twice is not None:
        raise UsageError(f"two --schema files define the entity type {twice!r}: each type needs its own name")
    config = limits.replace(schemas=types, db=db, clients=specs, legacy_auth=not no_legacy_auth, admin=admin,
                            faults=dataclasses.replace(base or Faults(), **chosen))
    server, sock, state = run_foreground(config, host, port)
    bound = sock.getsockname()

    def started() -> None:  # printed once serving, so Ctrl-C from here on always shuts down cleanly
        click.echo(f"sandbox: http://{bound[0]}:{bound[1]}  db: {db}  types: {', '.join(state.schemas)}"
                   f"{'  admin: on' if admin else ''}")
        if config.faults.active:
            click.echo(f"faults: {config.faults}")
        if clients:
            click.echo(f"clients: {', '.join(c.client_id for c in specs)} (from {clients})")
        else:
            click.echo(f"client_id: {state.client.client_id}")
            click.echo(f"client_secret: {state.client.secret}")

    when_started(server, started)
    import contextlib

    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the Ctrl-C it handled, after shutting down
        server.run(sockets=[sock])
    click.echo("sandbox: stopped")
