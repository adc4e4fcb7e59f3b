"""What every ``loadgen`` command shares: the group, one-line errors and exit codes, ``--url`` and ``--auth``.
``LoadgenError`` subclasses carry their exit code, so every error ends as one line on stderr with no traceback.
"""


from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from loadgen.errors import ExitCode, LoadgenError, UsageError
from loadgen.scenarios import (
    AUTH_SCHEMES,
    DEFAULT_AUTH,
)

F = TypeVar("F", bound=Callable[..., Any])


def friendly(func: F) -> F:
    """Turn a ``LoadgenError`` into a one-line message and its exit code, and Ctrl-C into exit 130."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LoadgenError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except OSError as exc:   # a file the command writes (a --out, --db, --export-pytest) that cannot be
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"error: {where}{exc.strerror or exc}", err=True)
            sys.exit(ExitCode.FAILURE)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(ExitCode.INTERRUPTED)

    return wrapper  # type: ignore[return-value]


class OneLineErrors(click.Group):
    """click's own usage errors (bad choice, unknown flag, missing argument) as one line, like every other
    error of the CLI: ``error: ...`` and exit 2, not click's usage dump."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:   # `loadgen baseline` alone: its help, as click shows it
            exc.show()
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"error: {one_line(exc)}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("interrupted", err=True)
            sys.exit(ExitCode.INTERRUPTED)
        sys.exit(code if isinstance(code, int) else 0)


def one_line(exc: click.ClickException) -> str:
    """click's message on one line, pointing at the command's help for a usage error."""
    message = " ".join(exc.format_message().split()).removesuffix(".")
    ctx = exc.ctx if isinstance(exc, click.UsageError) else None
    return f"{message} (see {ctx.command_path} --help)" if ctx is not None else message


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="capture-loadgen")
def cli() -> None:
    """capture-loadgen: profiles, fuzzing, load and reports for the Capture Entity API."""


# -- the options every command that sends requests shares --------------------------------------------

class EnvOption(click.Option):
    """An option read from its variable when not given, whose error names where the bad value came from.

    click's hint is ``'--auth' (env var: 'CAPTURE_AUTH')`` whichever it was, which reads as a complaint
    about the variable when the user typed the flag: here it is ``'--auth'`` or ``CAPTURE_AUTH`` alone.
    """

    def get_error_hint(self, ctx: click.Context | None) -> str:
        from_env = (ctx is not None and self.name is not None
                    and ctx.get_parameter_source(self.name) is click.core.ParameterSource.ENVIRONMENT)
        return f"{self.envvar} (environment variable)" if from_env else click.Parameter.get_error_hint(self, ctx)


def auth_option(func: F) -> F:
    """``--auth basic|signed|legacy`` (env CAPTURE_AUTH, default basic) as the ``scheme`` argument.

    ``--capture-auth``, the flag's earlier name on ``run`` and ``cleanup``, stays as a hidden alias.
    """
    choice = click.Choice(AUTH_SCHEMES, case_sensitive=False)

    @wraps(func)
    def wrapper(*args: Any, auth: str | None, capture_auth: str | None, **kwargs: Any) -> Any:
        if capture_auth and (not auth or source_of("auth") == "CAPTURE_AUTH"):   # a flag beats the environment
            auth = capture_auth
        elif capture_auth and auth and auth.lower() != capture_auth.lower():
            raise click.UsageError(f"--auth {auth} and --capture-auth {capture_auth} disagree: give one")
        return func(*args, scheme=(auth or DEFAULT_AUTH).lower(), **kwargs)

    wrapper = click.option("--capture-auth", type=choice, hidden=True)(wrapper)
    wrapper = click.option("--auth", cls=EnvOption, type=choice, envvar="CAPTURE_AUTH", show_envvar=True,
                           help="auth scheme (credentials: CAPTURE_CLIENT_ID/CAPTURE_CLIENT_SECRET)  "
                                "[default: basic]")(wrapper)
    return wrapper  # type: ignore[return-value]


def url_option(default: str) -> Callable[[F], F]:
    """``--url`` read from CAPTURE_URL when not given, on every command that sends requests."""
    return click.option("--url", cls=EnvOption, envvar="CAPTURE_URL", show_envvar=True, metavar="URL",
                        help=f"Capture app URL  [default: {default}]")


#: The variable each shared option is read from when it is not given.
_ENV = {"url": "CAPTURE_URL", "auth": "CAPTURE_AUTH"}


def source_of(name: str) -> str:
    """Where ``--url`` or ``--auth`` came from, for messages: the flag (``--url``) or its variable (``CAPTURE_URL``)."""
    source = click.get_current_context().get_parameter_source(name)
    return _ENV[name] if source is click.core.ParameterSource.ENVIRONMENT else f"--{name}"




def output_folder(path: Path) -> None:
    """An output file the user named goes into a folder that exists (as ``cp`` and ``curl -o`` want it),
    or into ``runs/``, the folder the tool makes for its own outputs."""
    if path.parent == Path("runs") and not path.parent.exists():
        path.parent.mkdir()
    if not path.parent.is_dir():
        what = "is a file, not a folder" if path.parent.exists() else "does not exist"
        raise UsageError(f"{path}: cannot write: the folder {path.parent} {what}")


def check_writable(path: Path, *, make_folder: bool = False) -> None:
    """Fail in one line now if an output written at the end (after a long run) could not be written then.

    The file is opened for appending, so an existing one keeps its bytes; one made only for the check
    is removed again. Its folder must exist unless ``make_folder`` (the tool's own default folders): a
    typo in a path the user gave is an error, not a new tree of folders.
    """
    existed = path.exists()
    try:
        if make_folder:
            path.parent.mkdir(parents=True, exist_ok=True)
        else:
            output_folder(path)
        with path.open("ab"):
            pass
    except FileExistsError:  # mkdir met a file where a folder of the path should be
        raise UsageError(f"{path}: cannot write: a part of the path is a file, not a folder") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from None
    if not existed:
        path.unlink()
