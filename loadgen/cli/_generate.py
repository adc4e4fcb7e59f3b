"""``loadgen generate``: profiles to a file, without any server."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from loadgen import console
from loadgen.cli._base import cli, friendly, output_folder
from loadgen.errors import ExitCode, UsageError


@cli.command()
@click.option("-n", "--count", default=1000, show_default=True, type=click.IntRange(min=0),
              help="how many profiles to write")
@click.option("--seed", default=0, show_default=True, type=int, help="random seed")
@click.option("--schema", "schema_path", metavar="FILE",
              help="entity type JSON: the /entityType answer, its schema object or a bare attr_defs list  "
                   "[default: the classic user type]")
@click.option("--type-name", default=None, metavar="NAME",
              help="entity type of a --schema that does not name it (a bare attr_defs list)  "
                   "[default: the file name, member.schema.json -> member]")
@click.option("--profile", "profile_path", metavar="FILE",
              help="profile TOML: locales, plural sizes, statuses, fixed and omitted attributes  "
                   "[default: built in, the same as profiles/user.toml]")
@click.option("--format", "fmt", default="jsonl", show_default=True,
              type=click.Choice(["jsonl", "json", "csv", "form"]),
              help="csv: dotted object columns, plurals as JSON; form: one entity.create body per line")
@click.option("-o", "--output", default="-", show_default=True, metavar="FILE", help="file to write; - is stdout")
@click.option("--run-id", default="local", show_default=True, help="namespace of the unique values (emails)")
@click.option("--worker", default=0, show_default=True, type=click.IntRange(0, 2**20 - 1),
              help="worker index, also part of the namespace")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="the day every date is relative to  [default: today, UTC]")
@click.option("-j", "--jobs", default=1, show_default=True, type=click.IntRange(min=1),
              help="processes that make the profiles (the output is the same whatever the number)")
@friendly
def generate(count: int, seed: int, schema_path: str | None, type_name: str | None, profile_path: str | None,
             fmt: str, output: str, run_id: str, worker: int, today: Any, jobs: int) -> None:
    """Write realistic, valid, unique user profiles, streaming (memory stays flat).

    The same seed, run id, worker and --today give byte-identical output, whatever --jobs is.
    """
    from loadgen.generation import Generation, write
    from loadgen.profiles import load_profile
    from loadgen.schema import default_schema, load_schema

    schema = load_schema(schema_path, type_name=type_name) if schema_path else default_schema()
    gen = Generation(schema, load_profile(profile_path), fmt, count, seed=seed, run_id=run_id, worker=worker,
                     today=today.date() if today is not None else None)
    gen.factory()  # a bad schema or profile fails here, before the output file is made
    to_stdout = output == "-"
    try:
        if not to_stdout:
            output_folder(Path(output))
        out = sys.stdout.buffer if to_stdout else open(output, "wb", buffering=1 << 20)  # noqa: SIM115
    except OSError as exc:
        raise UsageError(f"{output}: cannot write: {exc.strerror or exc}") from None
    show = sys.stderr.isatty() and not (to_stdout and sys.stdout.isatty())
    try:
        with console.progress_bar(count, show) as advance:
            written = write(gen, out, jobs=jobs, progress=advance)
        out.flush()
    except BrokenPipeError:  # `loadgen generate | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # as the Python docs advise
        return
    except KeyboardInterrupt:
        if to_stdout:
            raise
        out.close()
        click.echo(f"interrupted: {output} holds the profiles written before Ctrl-C", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    finally:
        if not to_stdout:
            out.close()
    click.echo(f"wrote {written:,} profile{'' if written == 1 else 's'} to {'stdout' if to_stdout else output}",
               err=True)
