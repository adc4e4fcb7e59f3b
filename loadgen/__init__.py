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

_EXPORTS: dict[str, tuple[str, ...]] = {
    "loadgen.errors": ("AuthError", "CaptureError", "Code", "InvalidArgumentError", "LoadgenError",
                       "NotFoundError", "RateLimitError", "TransportError", "UsageError"),
    "loadgen.schema": ("Attribute", "Schema", "Violation", "default_schema", "load_schema", "normalize",
                       "validate"),
    "loadgen.profiles": ("Profile", "ProfileFactory", "load_profile"),
    "loadgen.auth": ("BasicAuth", "LegacyParamAuth", "SignedAuth", "make_auth"),
    "loadgen.client": ("AsyncCaptureClient", "BulkResult", "CaptureClient", "Created", "Retry"),
    "loadgen.strategies": ("bulk_payloads", "malformed_json", "schema_violations", "valid_records",
                           "wrong_shape"),
    "loadgen.sandbox": ("Sandbox", "SandboxConfig", "serve"),
    "loadgen.report": ("Recorder", "build_report", "compare_runs"),
    "loadgen.run": ("RunOptions", "run"),
    "loadgen.cleanup": ("cleanup",),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "AsyncCaptureClient", "Attribute", "AuthError", "BasicAuth", "BulkResult", "CaptureClient", "CaptureError",
    "Code", "Created", "InvalidArgumentError", "LegacyParamAuth", "LoadgenError", "NotFoundError", "Profile",
    "ProfileFactory", "RateLimitError", "Recorder", "Retry", "RunOptions", "Sandbox", "SandboxConfig",
    "Schema", "SignedAuth", "TransportError", "UsageError", "Violation", "build_report", "bulk_payloads",
    "cleanup", "compare_runs", "default_schema", "load_profile", "load_schema", "make_auth", "malformed_json",
    "normalize", "run", "schema_violations", "serve", "valid_records", "validate", "wrong_shape",
]

if TYPE_CHECKING:
    from loadgen.auth import BasicAuth, LegacyParamAuth, SignedAuth, make_auth
    from loadgen.cleanup import cleanup
    from loadgen.client import AsyncCaptureClient, BulkResult, CaptureClient, Created, Retry
    from loadgen.errors import (
        AuthError,
        CaptureError,
        Code,
        InvalidArgumentError,
        LoadgenError,
        NotFoundError,
        RateLimitError,
        TransportError,
        UsageError,
    )
    from loadgen.profiles import Profile, ProfileFactory, load_profile
    from loadgen.report import Recorder, build_report, compare_runs
    from loadgen.run import RunOptions, run
    from loadgen.sandbox import Sandbox, SandboxConfig, serve
    from loadgen.schema import Attribute, Schema, Violation, default_schema, load_schema, normalize, validate
    from loadgen.strategies import bulk_payloads, malformed_json, schema_violations, valid_records, wrong_shape


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'loadgen' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
