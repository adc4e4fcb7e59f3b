"""The ``loadgen`` command line: argument parsing, progress bars and exit codes, nothing more.

Each command calls into a capability module. ``LoadgenError`` subclasses carry their exit code,
so every error ends as one line on stderr with no traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from loadgen.errors import LoadgenError

F = TypeVar("F", bound=Callable[..., Any])


def friendly(func: F) -> F:
    """Turn a ``LoadgenError`` into a one-line message and its exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LoadgenError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="capture-loadgen")
def cli() -> None:
    """capture-loadgen: profiles, fuzzing, load and reports for the Capture Entity API."""


# Commands are added below, one section per capability (generate, sandbox, fuzz, run, cleanup,
# report, compare, baseline). Keep each one thin: parse, call the capability, print, exit.


def main() -> None:
    cli()
