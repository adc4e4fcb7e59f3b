"""The load scenarios' vocabulary in one place: endpoints, scenarios and the run defaults.

The CLI's choices and defaults, the Locust options, ``loadgen run``'s target rates, the pacers and
the report's fixed rows all read this module, so a new endpoint or scenario is one entry here. Core
level: imports nothing of the project but :mod:`loadgen.ramp` and the auth schemes of :mod:`loadgen.wire`,
and never Locust.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from loadgen.ramp import Schedule, Stage, endpoint_schedule
from loadgen.signing import AUTH_SCHEMES as AUTH_SCHEMES  # the schemes the client and the users both speak

#: Requests/s, records per bulkCreate and the error_path's bad share when no flag says otherwise.
DEFAULT_CREATE_RATE = 50.0
DEFAULT_BULK_RATE = 2.0
DEFAULT_BULK_SIZE = 100
DEFAULT_MALFORMED_SHARE = 0.1
#: How the load generator authenticates its requests (``--auth``, one of ``AUTH_SCHEMES``).
DEFAULT_AUTH = "basic"
DEFAULT_SCENARIO = "mixed"


class Kind(enum.Enum):
    """What an endpoint's request does, which decides how its answer is judged and counted."""

    CREATE = "create"          # one record per request
    BULK = "bulk"              # --bulk-size records per request, each judged apart
    BAD_REQUEST = "bad"        # a deliberately bad request: success is the exact expected error
    READ = "read"              # creates nothing
    WRITE = "write"            # changes a record the run created
    DELETE = "delete"          # removes a record: it leaves the ledger


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One request kind: its default report name, API path, main form field and what it does.

    ``rate_option`` names the :class:`~loadgen.locust.options.Settings` field holding its swarm-wide
    requests/s (None: it shares another endpoint's arrivals, as ``malformed`` shares create's).
    """

    name: str
    path: str
    field: str
    kind: Kind
    rate_option: str | None


CREATE = Endpoint("create", "/entity.create", "attributes", Kind.CREATE, "create_rate")
BULK_CREATE = Endpoint("bulkCreate", "/entity.bulkCreate", "all_attributes", Kind.BULK, "bulk_rate")
MALFORMED = Endpoint("malformed", "/entity.create", "attributes", Kind.BAD_REQUEST, None)
#: The endpoints of the shipped scenarios, in report order (they always have a row in a report).
ENDPOINTS: tuple[Endpoint, ...] = (CREATE, BULK_CREATE, MALFORMED)
ENDPOINT_NAMES: tuple[str, ...] = tuple(e.name for e in ENDPOINTS)
#: The other calls of the scenario API (``self.capture``), by their default report name.
ENTITY = Endpoint("entity", "/entity", "uuid", Kind.READ, None)
FIND = Endpoint("find", "/entity.find", "filter", Kind.READ, None)
COUNT = Endpoint("count", "/entity.count", "filter", Kind.READ, None)
UPDATE = Endpoint("update", "/entity.update", "attributes", Kind.WRITE, None)
REPLACE = Endpoint("replace", "/entity.replace", "attributes", Kind.WRITE, None)
DELETE = Endpoint("delete", "/entity.delete", "uuid", Kind.DELETE, None)
BY_NAME: Mapping[str, Endpoint] = MappingProxyType(
    {e.name: e for e in (*ENDPOINTS, ENTITY, FIND, COUNT, UPDATE, REPLACE, DELETE)})


@dataclass(frozen=True, slots=True)
class Scenario:
    """A shipped scenario: its locustfile (under ``locustfiles/``) and the endpoints whose rates it paces."""

    name: str
    locustfile: str
    paced: tuple[str, ...]
    #: a share of the create arrivals go out as bad requests, reported as ``malformed``
    malformed: bool = False


SCENARIOS: Mapping[str, Scenario] = MappingProxyType({s.name: s for s in (
    Scenario("mixed", "mixed.py", (CREATE.name, BULK_CREATE.name)),
    Scenario("create", "create.py", (CREATE.name,)),
    Scenario("bulk_create", "bulk_create.py", (BULK_CREATE.name,)),
    Scenario("error_path", "error_path.py", (CREATE.name,), malformed=True),
)})


def request_scope(name: str) -> str:
    """``name`` as the scope of a threshold or a regression limit: ``all``, a known endpoint, or a request
    name of one's own scenario (``time_to_visible``, ``find until visible``...).

    Own names cannot be checked before the run, so a name that nearly spells a known one (``creat``)
    is refused as a typo rather than becoming a gate that judges nothing; any other unknown name is
    judged against the report's rows and fails with "no data" when the run has none of it.
    """
    if name != "all" and name not in BY_NAME:
        near = difflib.get_close_matches(name, list(BY_NAME), n=1, cutoff=0.75)
        if near:
            raise ValueError(f"unknown endpoint {name!r} (did you mean {near[0]!r}?)")
    return name


def main_endpoint(paced: Sequence[str]) -> str | None:
    """The endpoint whose requests/s ``--stages`` are written in: the first paced one in report order
    (create before bulkCreate), then any other in the given order; None when nothing is paced."""
    ordered = [name for name in ENDPOINT_NAMES if name in paced] + [n for n in paced if n not in ENDPOINT_NAMES]
    return ordered[0] if ordered else None


def paced_schedules(rates: Mapping[str, float], stages: Sequence[Stage],
                    stages_rate: float | None = None) -> dict[str, Schedule]:
    """The arrival schedule of each paced endpoint (name -> requests/s): the ramp arithmetic of a run.

    ``stages`` are in requests/s of one endpoint whose own rate is ``stages_rate`` (by default the
    :func:`main_endpoint`'s); every endpoint follows the same shape at its ratio to that rate. The
    pacers, ``loadgen run``'s targets and the report's target curves all come from here.
    """
    main = main_endpoint(list(rates))
    main_rate = stages_rate if stages_rate is not None else rates[main] if main is not None else 0.0
    return {name: endpoint_schedule(rate, stages, main_rate) for name, rate in rates.items()}
