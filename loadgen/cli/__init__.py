"""The ``loadgen`` command line: argument parsing, progress bars and exit codes, nothing more.
Each command calls into a capability module and lives in its own module here; importing them registers them on
the one group, :data:`cli`. Keep each command thin: parse, call the capability, print, exit.
"""

from __future__ import annotations

from loadgen.cli import _capacity, _fuzz, _generate, _history, _load, _ping, _replay, _reports, _sandbox
from loadgen.cli._base import cli

__all__ = ["cli", "main"]
#: imported for the commands they register
_COMMANDS = (_ping, _reports, _history, _sandbox, _generate, _load, _fuzz, _replay, _capacity)


def main() -> None:
    cli()
