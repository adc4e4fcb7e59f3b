"""``loadgen ping``: is this URL a Capture app, and do these credentials work?"""

from __future__ import annotations

import click

from loadgen.cli._base import auth_option, cli, friendly, url_option
from loadgen.errors import UsageError


@cli.command()
@url_option("required")
@auth_option
@click.option("--type-name", default="user", show_default=True, help="entity type to read")
@click.option("--insecure", is_flag=True, help="allow plain http:// to a host other than loopback")
@friendly
def ping(url: str | None, scheme: str, type_name: str, insecure: bool) -> None:
    """Check a Capture URL and credentials: read the entity type and count its records.

    The client id and secret come only from CAPTURE_CLIENT_ID and CAPTURE_CLIENT_SECRET: a secret
    on the command line would show in the process list and the shell history.
    """
    from loadgen.auth import auth_from_env
    from loadgen.client import CaptureClient
    from loadgen.preflight import check_target
    from loadgen.retry import retry_transient

    if not url:
        raise UsageError("no Capture URL: pass --url or set CAPTURE_URL")
    auth = auth_from_env(scheme=scheme)
    with CaptureClient(url, auth, type_name=type_name, insecure=insecure) as client:
        total = check_target(client)    # the same answers, messages and exit codes as run's preflight
        schema = retry_transient(client.entity_type)
    click.echo(f"ok: {client.base_url} ({auth.scheme} auth as {auth.client_id}): "
               f"{type_name} has {len(schema.get('attr_defs', []))} attributes and {total} records")
