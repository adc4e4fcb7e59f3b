"""Why arrivals were late or dropped, told from the run's own data.

"The generator fell behind its schedule" sends people to look at the load generator when, far more
often, every user was waiting on the server: an open-model pacer can only start a request when a
user is free. The run records what tells the causes apart: the peak requests in flight per second
(against ``--users``), the generator's CPU per process, and the server's service time, which by
Little's law says how many requests the target rate keeps in flight. The warning names the likeliest
cause with the numbers behind it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from loadgen.report.document import EndpointStats, PerSecond

#: A generator process above this CPU percent limits the results itself.
CPU_WARNING_PCT = 90.0
#: Users are "all busy" in a second with drops when its peak in flight reaches the cap; the cap is the
#: cause when that holds in at least this share of those seconds.
BUSY_SHARE = 0.5
#: The server's latency is the cause when the target rates keep, on average, this share of the users busy:
#: in flight is a mean, and bursts above it take every user long before the mean reaches the cap.
LATENCY_SHARE = 0.8


def _needed_in_flight(endpoints: Mapping[str, EndpointStats]) -> tuple[float, float | None]:
    """(requests the target rates keep in flight by Little's law, the busiest endpoint's mean service ms)."""
    needed, mean_ms = 0.0, None
    for entry in endpoints.values():
        mean = entry.latency.service.mean
        if entry.target_requests_per_s and mean is not None:
            needed += entry.target_requests_per_s * mean / 1000.0
            mean_ms = mean if mean_ms is None else max(mean_ms, mean)
    return needed, mean_ms


def _late_seconds(series: PerSecond) -> list[int]:
    return [i for i in range(series.length)
            if any(s.dropped[i] or s.late[i] for s in series.endpoints.values())]


def _busy_seconds(late: Sequence[int], in_flight: Sequence[int], users: int) -> int:
    """Seconds with drops in which (or in the second before, when the arrival fell due) every user was busy."""
    return sum(1 for i in late if max(in_flight[max(i - 1, 0)], in_flight[i]) >= users)


def drop_warning(endpoints: Mapping[str, EndpointStats], series: PerSecond, users: int | None,
                 max_cpu: float | None) -> str | None:
    """The warning of a run with late or dropped arrivals naming its likeliest cause; None without any."""
    count = sum(e.late + e.dropped for e in endpoints.values())
    if not count:
        return None
    head = f"{count:,} arrivals were late or dropped"
    late = _late_seconds(series)
    needed, mean_ms = _needed_in_flight(endpoints)
    cpu = "" if max_cpu is None else f"generator CPU {max_cpu:.0f}%"
    busy_seconds = _busy_seconds(late, series.in_flight, users) if users and series.in_flight else 0
    if users and late and busy_seconds >= BUSY_SHARE * len(late):
        busy = (f"every user ({users}) was busy in {busy_seconds} of the {len(late)} seconds with late or dropped "
                f"arrivals{', ' + cpu if cpu else ''}")
        if mean_ms is not None and needed > users * LATENCY_SHARE:
            return (f"{head}: server latency: at the target rates a mean service time of {mean_ms:,.0f} ms keeps "
                    f"{needed:,.1f} requests in flight, more than --users {users} can hold ({busy}): "
                    "raise --users, or the server is too slow for this rate")
        return f"{head}: the --users cap was reached ({busy}): raise --users"
    if max_cpu is not None and max_cpu > CPU_WARNING_PCT:
        return (f"{head}: the load generator was short of CPU ({max_cpu:.0f}%, above {CPU_WARNING_PCT:.0f}%): "
                "add workers or lower the rate")
    seen = [cpu] if cpu else []
    if series.in_flight:
        seen.insert(0, f"peak {max(series.in_flight)} in flight" + (f" with --users {users}" if users else ""))
    return (f"{head}: the generator fell behind its schedule without an evident cause"
            f"{' (' + ', '.join(seen) + ')' if seen else ''}: a stall of the machine running the load is likely")
