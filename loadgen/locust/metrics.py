"""``--metrics-port``: the live snapshot as OpenMetrics, for Prometheus and the dashboards built on it.

A custom collector, not client-side counters: the numbers already live, merged across workers, in the
master's :class:`~loadgen.locust.live.LiveSnapshot`, so every scrape renders the latest snapshot (at
most a second old) and the metrics can never disagree with the Capture tab or ``report.json``.
Served by ``prometheus-client``'s own small HTTP server, in the master (or the only) Locust process.

Metric names (all labelled by ``endpoint``, the request name):

* ``capture_requests_total{code}``: answered requests, ``code`` "ok" or the Capture failure label;
* ``capture_records_total``: records created; ``capture_failed_records_total{code}``: failed records of batches;
* ``capture_dropped_arrivals_total``, ``capture_late_arrivals_total``;
* ``capture_target_requests_per_second``, ``capture_achieved_requests_per_second`` and the same for records
  (the last few complete seconds, as the live line shows them);
* ``capture_in_flight_requests`` (no endpoint label);
* ``capture_service_latency_seconds`` and ``capture_intended_latency_seconds``: histograms, the second
  measured from each arrival's intended start (coordinated omission included).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from loadgen.locust.live import BUCKETS_MS, Buckets, LiveSnapshot


class LiveCollector(Collector):
    """Renders whatever snapshot ``latest()`` returns at scrape time (nothing before the first)."""

    def __init__(self, latest: Callable[[], LiveSnapshot | None]) -> None:
        self.latest = latest

    def collect(self) -> Iterator[Metric]:
        snap = self.latest()
        if snap is None:
            return
        yield from metrics_of(snap)


def metrics_of(snap: LiveSnapshot) -> list[Metric]:
    """The metric families of one snapshot."""
    requests = CounterMetricFamily("capture_requests", "Answered requests by Capture code", labels=["endpoint", "code"])
    records = CounterMetricFamily("capture_records", "Records created", labels=["endpoint"])
    failed = CounterMetricFamily("capture_failed_records", "Failed records of batches by code",
                                 labels=["endpoint", "code"])
    dropped = CounterMetricFamily("capture_dropped_arrivals", "Arrivals no user could serve within 1 s",
                                  labels=["endpoint"])
    late = CounterMetricFamily("capture_late_arrivals", "Arrivals started late (intended-start latency)",
                               labels=["endpoint"])
    rates = {name: GaugeMetricFamily(f"capture_{name}_per_second", doc, labels=["endpoint"]) for name, doc in (
        ("target_requests", "Requests/s the schedule asked for"), ("achieved_requests", "Requests/s answered"),
        ("target_records", "Records/s the schedule asked for"), ("achieved_records", "Records/s created"))}
    service = HistogramMetricFamily("capture_service_latency_seconds", "Service time", labels=["endpoint"])
    intended = HistogramMetricFamily("capture_intended_latency_seconds", "Latency from the intended start",
                                     labels=["endpoint"])
    for e in snap.endpoints:
        name = [e.name]
        requests.add_metric([e.name, "ok"], e.ok)
        for code, n in e.failures.items():
            requests.add_metric([e.name, code], n)
        records.add_metric(name, e.records)
        for code, n in e.record_failures.items():
            failed.add_metric([e.name, code], n)
        dropped.add_metric(name, e.dropped)
        late.add_metric(name, e.late)
        rates["achieved_requests"].add_metric(name, e.requests_per_s)
        rates["achieved_records"].add_metric(name, e.records_per_s)
        if e.target_requests_per_s is not None and e.target_records_per_s is not None:
            rates["target_requests"].add_metric(name, e.target_requests_per_s)
            rates["target_records"].add_metric(name, e.target_records_per_s)
        service.add_metric(name, _buckets(e.service), e.service.sum_ms / 1000.0)
        intended.add_metric(name, _buckets(e.intended), e.intended.sum_ms / 1000.0)
    in_flight = GaugeMetricFamily("capture_in_flight_requests", "Requests sent and not yet answered",
                                  value=snap.in_flight)
    return [requests, records, failed, dropped, late, *rates.values(), in_flight, service, intended]


def _buckets(buckets: Buckets) -> list[tuple[str, float]]:
    return [*((f"{bound / 1000.0:g}", float(n)) for bound, n in zip(BUCKETS_MS, buckets.cumulative, strict=True)),
            ("+Inf", float(buckets.count))]


def serve(port: int, host: str, latest: Callable[[], LiveSnapshot | None]) -> None:
    """Serve the metrics on ``host:port`` (a daemon thread, a greenlet under Locust's gevent)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LiveCollector(latest))
    start_http_server(port, addr=host, registry=registry)
