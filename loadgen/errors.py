"""The Capture API's error vocabulary and every exception of capture-loadgen, defined once.

The client raises these, the sandbox answers with them and the fuzzers expect them, so the codes
and names below are the single source of truth.

Exception tree::

    LoadgenError                 base of everything this package raises (exit 1)
    ├── UsageError               the tool was misused: bad flag, bad schema or profile file (exit 2)
    ├── RuntimeFailure           used right, but the job could not be done: a target that cannot be
    │                            reached, a port in use, a corrupt data file (exit 1)
    ├── TransportError           the server did not answer like Capture: non-JSON body, odd HTTP status,
    │                            connection refused, timeout
    ├── TransientError           a read got a transient server error every time the preflight tried it
    ├── ContractFailure          the API under test broke its contract; ``curl`` sends the request again
    ├── JSONSyntaxError          text is not strict RFC 8259 JSON (``wire.loads_strict``)
    ├── FormError                a request body is not a decodable form (sandbox side)
    └── CaptureError             the API answered ``stat: "error"`` (whatever the HTTP status)
        ├── InvalidArgumentError   code 200
        ├── AuthError              codes 205, 402, 403
        ├── NotFoundError          codes 222, 310
        └── RateLimitError         code 510

Exit codes travel on the classes (``exit_code``) so the CLI maps any of them to the right status
without a table of its own. A breached threshold or a regression (3) and Ctrl-C (130) are outcomes,
not exceptions of ours: their codes are the :class:`ExitCode` members, the only place they are written.

Whether a failed call may be sent again is decided here too (:class:`Replay`), so the client's
``Retry``, the fuzzers' clean-up and anyone reading ``exc.retryable`` agree.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, ClassVar


class Code(enum.IntEnum):
    """Capture error codes. ``Code.X.error`` is the wire name (``"invalid_argument"``).

    The table is the one of Janrain's SDK (jump.ios ``JRCaptureError.h``). Where capture-api.md gives
    no wire name (221, 232, 233, 380, 390, 414-417, 420), the name is the SDK's constant in snake case
    (``JRCaptureApidErrorEntityTypeExists`` -> ``entity_type_exists``).
    """

    MISSING_ARGUMENT = 100
    INVALID_ARGUMENT = 200
    DUPLICATE_ARGUMENT = 201
    INVALID_AUTH_METHOD = 205
    UNKNOWN_APPLICATION = 221
    UNKNOWN_ENTITY_TYPE = 222
    UNKNOWN_ATTRIBUTE = 223
    ENTITY_TYPE_EXISTS = 232
    ATTRIBUTE_EXISTS = 233
    RESERVED_ATTRIBUTE = 234
    RECORD_NOT_FOUND = 310
    ID_IN_NEW_RECORD = 320
    TIMESTAMP_MISMATCH = 330
    INVALID_DATA_FORMAT = 340
    INVALID_JSON_TYPE = 341
    INVALID_DATE_TIME = 342
    CONSTRAINT_VIOLATION = 360
    UNIQUE_VIOLATION = 361
    MISSING_REQUIRED_ATTRIBUTE = 362
    LENGTH_VIOLATION = 363
    EMAIL_ADDRESS_IN_USE = 380
    FORM_VALIDATION = 390
    INVALID_CLIENT_CREDENTIALS = 402
    CLIENT_PERMISSION_ERROR = 403
    ACCESS_TOKEN_EXPIRED = 414
    AUTHORIZATION_CODE_EXPIRED = 415
    VERIFICATION_CODE_EXPIRED = 416
    CREATION_TOKEN_EXPIRED = 417
    REDIRECT_URI_MISMATCH = 420
    API_FEATURE_DISABLED = 480
    UNEXPECTED_ERROR = 500
    TIMEOUT = 504
    API_LIMIT_ERROR = 510

    @property
    def error(self) -> str:
        """The ``error`` string Capture sends with this code."""
        return self.name.lower()

    @property
    def label(self) -> str:
        """``"361 unique_violation"``: how load stats and reports name a failure."""
        return f"{self.value} {self.error}"


class ExitCode(enum.IntEnum):
    """What ``loadgen`` exits with (as click and pytest do: 2 for misuse)."""

    OK = 0
    FAILURE = 1
    USAGE = 2
    #: a threshold was breached, or a run regressed against its baseline
    THRESHOLD = 3
    #: Ctrl-C (128 + SIGINT, as shells report it)
    INTERRUPTED = 130


class Replay(enum.Enum):
    """Whether a call that failed may be sent again, and which calls.

    ``entity.create`` and ``entity.bulkCreate`` are not idempotent: after an answer that may come
    after the commit (a timeout, an internal error), only a read or an idempotent write is safe to repeat.
    """

    #: the server surely did nothing (510, connection refused): any call may be repeated
    ANY_CALL = "not processed"
    #: the server may have committed the call (500, 504, a broken connection): only idempotent calls
    IDEMPOTENT = "maybe processed"


#: Codes after which the server surely did nothing: the simultaneous-call limit.
NOT_PROCESSED_CODES = frozenset({Code.API_LIMIT_ERROR})
#: Codes a repeat may fix but that may come after a commit: internal errors, server-side timeouts.
MAYBE_PROCESSED_CODES = frozenset({Code.UNEXPECTED_ERROR, Code.TIMEOUT})  # Janrain's bulk loader retries all three


def replay_for(code: int) -> Replay | None:
    """The :class:`Replay` of a Capture error code (None: a repeat would get the same answer)."""
    if code in NOT_PROCESSED_CODES:
        return Replay.ANY_CALL
    if code in MAYBE_PROCESSED_CODES:
        return Replay.IDEMPOTENT
    return None


def status_replay(status: int) -> Replay | None:
    """The :class:`Replay` of a non-Capture answer with this HTTP status: any 5xx may pass, and HTTP 510
    (which some proxies send for the call limit, like code 510) surely did nothing."""
    if status < 500:
        return None
    return replay_for(status) or Replay.IDEMPOTENT


class LoadgenError(Exception):
    """Base of every exception this package raises."""

    exit_code: ClassVar[int] = ExitCode.FAILURE


class UsageError(LoadgenError):
    """The tool was misused (a bad flag, an unreadable schema or profile file).

    The message is one line that names the file or option and quotes the bad value.
    """

    exit_code = ExitCode.USAGE


class RuntimeFailure(LoadgenError):
    """The tool was used right but could not do its job: the target cannot be reached or refuses the
    credentials, a port is taken, a data file is corrupt, a server process did not start.

    Not a ``UsageError``: the command line was fine, and running it again later may work.
    """

    exit_code = ExitCode.FAILURE


class Interrupted(LoadgenError):
    """Ctrl-C during work that leaves something behind (records on the target): the message says what and how
    to undo it, where a bare "interrupted" would not."""

    exit_code = ExitCode.INTERRUPTED


class ContractFailure(LoadgenError, AssertionError):
    """The API under test answered what its contract rules out (a property of ``loadgen fuzz`` failed).

    ``curl`` is a one-line command that sends the same request again (``wire.curl_command``), with the
    credentials left as ``$CAPTURE_CLIENT_ID`` / ``$CAPTURE_CLIENT_SECRET``: the failure is reproduced
    without the tool, and no secret is written down. An ``AssertionError`` too, so a property that
    raises it fails like one that asserts.
    """

    def __init__(self, message: str, *, curl: str) -> None:
        self.curl = curl
        super().__init__(message)


class TransportError(LoadgenError):
    """The server did not answer like Capture: no connection, a timeout, a non-JSON body or an odd status.

    ``status`` is None when no response arrived. ``snippet`` holds the first bytes of the body.
    ``replay`` says whether the call may be sent again (None: it may not).
    """

    def __init__(self, message: str, *, status: int | None = None, snippet: str = "",
                 replay: Replay | None = None) -> None:
        self.status = status
        self.snippet = snippet
        self.replay = replay
        detail = f" (HTTP {status})" if status is not None else ""
        tail = f": {snippet!r}" if snippet else ""
        super().__init__(f"{message}{detail}{tail}")

    @property
    def retryable(self) -> bool:
        return self.replay is not None


class TransientError(LoadgenError):
    """A read that got a transient server error (code or HTTP status 500, 503, 504, 510) every time it was tried."""


class JSONSyntaxError(LoadgenError, ValueError):
    """Text that a strict RFC 8259 parser rejects: the sandbox answers it with 200 invalid_argument."""


class FormError(LoadgenError, ValueError):
    """A request body that is not valid ``application/x-www-form-urlencoded`` UTF-8 text."""


class CaptureError(LoadgenError):
    """The API answered ``stat: "error"``. Built from the error object, which it keeps as ``body``."""

    def __init__(self, code: int, error: str = "", description: str = "", *,
                 argument_name: str | None = None, attribute_name: str | None = None,
                 request_id: str | None = None, http_status: int | None = None) -> None:
        self.code = code
        self.error = error or _error_name(code)
        self.description = description
        self.argument_name = argument_name
        self.attribute_name = attribute_name
        self.request_id = request_id
        self.http_status = http_status
        where = "".join(
            f" [{k}={v}]" for k, v in (("argument", argument_name), ("attribute", attribute_name)) if v
        )
        super().__init__(f"{code} {self.error}: {description}{where}")

    @property
    def label(self) -> str:
        """``"361 unique_violation"``."""
        return f"{self.code} {self.error}"

    @property
    def replay(self) -> Replay | None:
        return replay_for(self.code)

    @property
    def retryable(self) -> bool:
        return self.replay is not None

    def to_body(self) -> dict[str, Any]:
        """The wire form, as the sandbox sends it and the client parses it."""
        body: dict[str, Any] = {"stat": "error", "code": self.code, "error": self.error,
                                "error_description": self.description}
        if self.request_id is not None:
            body["request_id"] = self.request_id
        if self.argument_name is not None:
            body["argument_name"] = self.argument_name
        if self.attribute_name is not None:
            body["attribute_name"] = self.attribute_name
        return body

    @classmethod
    def from_body(cls, body: Mapping[str, Any], http_status: int | None = None) -> CaptureError:
        """Build the most specific subclass for an error object read off the wire."""
        raw = body.get("code")
        code = raw if isinstance(raw, int) and not isinstance(raw, bool) else Code.UNEXPECTED_ERROR.value
        return error_class(code)(
            code, str(body.get("error") or ""), str(body.get("error_description") or ""),
            argument_name=_opt_str(body.get("argument_name")),
            attribute_name=_opt_str(body.get("attribute_name")),
            request_id=_opt_str(body.get("request_id")),
            http_status=http_status,
        )


class InvalidArgumentError(CaptureError):
    """Code 200: a parameter is malformed (unparseable JSON, wrong shape, bad filter...)."""


class AuthError(CaptureError):
    """Codes 205, 402 and 403: the credentials, the scheme or the client's permissions."""


class NotFoundError(CaptureError):
    """Codes 222 and 310: no such entity type or record."""


class RateLimitError(CaptureError):
    """Code 510: the limit on simultaneous API calls was reached."""


_FAMILIES: dict[int, type[CaptureError]] = {
    Code.INVALID_ARGUMENT: InvalidArgumentError,
    Code.INVALID_AUTH_METHOD: AuthError,
    Code.INVALID_CLIENT_CREDENTIALS: AuthError,
    Code.CLIENT_PERMISSION_ERROR: AuthError,
    Code.UNKNOWN_ENTITY_TYPE: NotFoundError,
    Code.RECORD_NOT_FOUND: NotFoundError,
    Code.API_LIMIT_ERROR: RateLimitError,
}


def error_class(code: int) -> type[CaptureError]:
    """The exception class for a code: the family subclass, else ``CaptureError``."""
    return _FAMILIES.get(code, CaptureError)


def capture_error(code: Code, description: str, *, argument_name: str | None = None,
                  attribute_name: str | None = None, request_id: str | None = None) -> CaptureError:
    """A ``CaptureError`` of the right family for a known code (used by the sandbox and the validator)."""
    return error_class(code)(code.value, code.error, description, argument_name=argument_name,
                             attribute_name=attribute_name, request_id=request_id)


def _error_name(code: int) -> str:
    try:
        return Code(code).error
    except ValueError:
        return "unknown_error"


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)
