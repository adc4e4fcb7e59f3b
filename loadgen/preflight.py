"""The preflight: is the target a Capture application that takes these credentials? Asked once, up front.

``loadgen run``, ``loadgen cleanup``, ``loadgen fuzz`` and the pytest plugin all ask it before any
work, so a wrong URL, bad credentials or a missing entity type is one line at once rather than a
run of failures. Its reads are repeated on transient server errors (a busy domain's 500, 503, 504 or
510), with a doubling pause, before the target is declared broken.
"""

from __future__ import annotations

from typing import Any

from loadgen.errors import AuthError, CaptureError, RuntimeFailure, TransientError, TransportError, UsageError
from loadgen.retry import TRANSIENT_ATTEMPTS, retry_transient


def preflight(url: str, client_id: str, secret: str, *, scheme: str, type_name: str, insecure: bool) -> int:
    """One entityType and one entity.count call: an unreachable host or bad credentials fail here, once."""
    from loadgen.auth import make_auth
    from loadgen.client import CaptureClient

    with CaptureClient(url, make_auth(scheme, client_id, secret), type_name=type_name, timeout=10.0,
                       insecure=insecure) as client:
        return check_target(client)


def check_target(client: Any) -> int:
    """entityType then entity.count on ``client`` (its record count), or one line saying what is wrong.

    Transient answers are tried again (:func:`retry_transient`): one bad answer from a busy domain
    does not stop a run.
    """
    url = client.base_url
    try:
        retry_transient(client.entity_type)
        return int(retry_transient(client.count))
    except AuthError as exc:
        raise refused_credentials("preflight", url, exc.label) from None
    except TransientError as exc:
        raise RuntimeFailure(f"preflight: {url} answered a server error {TRANSIENT_ATTEMPTS} times in a row, "
                             f"the last: {exc}") from None
    except TransportError as exc:
        raise RuntimeFailure(f"preflight: cannot reach {url}: {exc}") from None
    except CaptureError as exc:
        raise UsageError(f"preflight: {url} answered {exc.label} to entityType/entity.count") from None


def refused_credentials(what: str, url: str, label: str) -> UsageError:
    """Credentials or a scheme the target refuses (205, 402, 403): the user's to fix (exit 2), worded once for
    the preflight and ``loadgen replay``, which must not read such an answer as a verdict."""
    return UsageError(f"{what}: {url} refused the credentials ({label}); check "
                      "CAPTURE_CLIENT_ID/CAPTURE_CLIENT_SECRET and --auth")
