"""capture-loadgen: profiles, fuzzing, Locust load and baseline reports for the Capture Entity API.

The public names below are imported lazily, on first use: ``import loadgen`` stays cheap and never
pulls in starlette, Hypothesis or (above all) Locust, whose gevent monkey-patching would change the
standard library under the sandbox, the client and the pytest plugin.

>>> from loadgen import ProfileFactory, default_schema, validate
>>> validate(ProfileFactory(default_schema(), seed=1).make(), default_schema())
[]
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: The public names, each once, by the module that defines them: ``__all__`` and the lazy loader
#: below are derived from it. (The ``TYPE_CHECKING`` imports repeat them for type checkers, which
#: cannot read a computed ``__all__``; tests/test_exported_members.py checks the two agree.)
_EXPORTS: dict[str, tuple[str, ...]] = {
    "loadgen.errors": ("AuthError", "CaptureError", "Code", "ExitCode", "InvalidArgumentError", "LoadgenError",
                       "NotFoundError", "RateLimitError", "Replay", "RuntimeFailure", "TransportError",
                       "UsageError"),
    "loadgen.schema": ("Attribute", "Schema", "Violation", "default_schema", "load_schema", "normalize",
                       "validate"),
    "loadgen.answers": ("Answer", "BadSlot", "Created", "Fault", "bulk_slots", "parse_answer"),
    "loadgen.profiles": ("Profile", "ProfileFactory", "load_profile"),
    "loadgen.auth": ("BasicAuth", "LegacyParamAuth", "SignedAuth", "make_auth"),
    "loadgen.client": ("AsyncCaptureClient", "BulkResult", "CaptureClient"),
    "loadgen.retry": ("Retry",),
    "loadgen.strategies": ("bulk_payloads", "malformed_json", "schema_violations", "valid_records",
                           "wrong_shape"),
    "loadgen.sandbox": ("Sandbox", "SandboxConfig", "serve"),
    "loadgen.report": ("Comparison", "Recorder", "Report", "build_report", "compare_runs"),
    "loadgen.runner": ("RunOptions", "RunResult", "run"),
    "loadgen.cleaner": ("CleanupResult", "cleanup"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_WHERE)

if TYPE_CHECKING:
    from loadgen.answers import Answer as Answer
    from loadgen.answers import BadSlot as BadSlot
    from loadgen.answers import Created as Created
    from loadgen.answers import Fault as Fault
    from loadgen.answers import bulk_slots as bulk_slots
    from loadgen.answers import parse_answer as parse_answer
    from loadgen.auth import BasicAuth as BasicAuth
    from loadgen.auth import LegacyParamAuth as LegacyParamAuth
    from loadgen.auth import SignedAuth as SignedAuth
    from loadgen.auth import make_auth as make_auth
    from loadgen.cleaner import CleanupResult as CleanupResult
    from loadgen.cleaner import cleanup as cleanup
    from loadgen.client import AsyncCaptureClient as AsyncCaptureClient
    from loadgen.client import BulkResult as BulkResult
    from loadgen.client import CaptureClient as CaptureClient
    from loadgen.errors import AuthError as AuthError
    from loadgen.errors import CaptureError as CaptureError
    from loadgen.errors import Code as Code
    from loadgen.errors import ExitCode as ExitCode
    from loadgen.errors import InvalidArgumentError as InvalidArgumentError
    from loadgen.errors import LoadgenError as LoadgenError
    from loadgen.errors import NotFoundError as NotFoundError
    from loadgen.errors import RateLimitError as RateLimitError
    from loadgen.errors import Replay as Replay
    from loadgen.errors import RuntimeFailure as RuntimeFailure
    from loadgen.errors import TransportError as TransportError
    from loadgen.errors import UsageError as UsageError
    from loadgen.profiles import Profile as Profile
    from loadgen.profiles import ProfileFactory as ProfileFactory
    from loadgen.profiles import load_profile as load_profile
    from loadgen.report import Comparison as Comparison
    from loadgen.report import Recorder as Recorder
    from loadgen.report import Report as Report
    from loadgen.report import build_report as build_report
    from loadgen.report import compare_runs as compare_runs
    from loadgen.retry import Retry as Retry
    from loadgen.runner import RunOptions as RunOptions
    from loadgen.runner import RunResult as RunResult
    from loadgen.runner import run as run
    from loadgen.sandbox import Sandbox as Sandbox
    from loadgen.sandbox import SandboxConfig as SandboxConfig
    from loadgen.sandbox import serve as serve
    from loadgen.schema import Attribute as Attribute
    from loadgen.schema import Schema as Schema
    from loadgen.schema import Violation as Violation
    from loadgen.schema import default_schema as default_schema
    from loadgen.schema import load_schema as load_schema
    from loadgen.schema import normalize as normalize
    from loadgen.schema import validate as validate
    from loadgen.strategies import bulk_payloads as bulk_payloads
    from loadgen.strategies import malformed_json as malformed_json
    from loadgen.strategies import schema_violations as schema_violations
    from loadgen.strategies import valid_records as valid_records
    from loadgen.strategies import wrong_shape as wrong_shape


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'loadgen' has no attribute {name!r}")
    home = importlib.import_module(module)
    globals()[name] = value = getattr(home, name)
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
