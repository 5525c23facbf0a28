"""Prometheus metrics of one controller, in its own registry (tests run several side by side)."""

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Convergence is expected well under a second; the tail buckets catch outages and backoff.
CONVERGENCE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _counter(registry: CollectorRegistry, name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
    return Counter(name, doc, labels, registry=registry)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.f5_calls = _counter(r, "f5sync_f5_calls", "iControl REST calls sent, by operation", ("operation",))
        self.f5_errors = _counter(r, "f5sync_f5_errors", "Failed iControl REST calls, by reason", ("reason",))
        self.f5_logins = _counter(r, "f5sync_f5_logins", "Tokens the F5 granted on login")
        self.reconciles = _counter(r, "f5sync_reconciles", "Reconcile passes, by result", ("result",))
        self.changes = _counter(r, "f5sync_changes", "Changes applied to the F5, by operation", ("operation",))
        self.refusals = _counter(r, "f5sync_f5_refusals", "Operations the F5 refused, by operation", ("operation",))
        self.refused_operations = Gauge(
            "f5sync_refused_operations", "Operations the F5 refused that await their retry", registry=r
        )
        self.watch_restarts = _counter(
            r, "f5sync_watch_restarts", "Kubernetes watch restarts, by resource and reason", ("resource", "reason")
        )
        self.convergence = Histogram(
            "f5sync_convergence_seconds",
            "From the first Kubernetes change seen to the F5 updated",
            buckets=CONVERGENCE_BUCKETS,
            registry=r,
        )
        self.managed_members = Gauge(
            "f5sync_managed_members", "Pool members the last pass wanted on the F5", registry=r
        )
