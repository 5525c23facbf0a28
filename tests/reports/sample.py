"""A smoke run as `up` would report it: the phases of up, checks that passed, failed and were skipped."""

from datetime import UTC, datetime, timedelta

from envbuilder.reports.model import Phase, PhaseStatus, SmokeRun
from envbuilder.smoke.result import CheckResult, CheckStatus, Convergence

T0 = datetime(2026, 11, 27, 4, 0, 0, tzinfo=UTC)
PHASES = (
    ("cluster", 0, 38),
    ("cni", 38, 71),
    ("broker", 71, 90),
    ("f5", 71, 80),
    ("images", 80, 125),
    ("services", 125, 160),
    ("smoke", 160, 169),
)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def check(name: str, status: CheckStatus, start: float, end: float, summary: str, diagnosis: str = "") -> CheckResult:
    return CheckResult(name, status, end - start, summary, diagnosis, at(start), at(end))


def sample_run() -> SmokeRun:
    checks = (
        check("nodes-ready", CheckStatus.PASSED, 160, 160.2, "2 nodes Ready: demo-control-plane, demo-worker"),
        check("network-agents", CheckStatus.PASSED, 160, 160.3, "calico-node Ready on all 2 nodes"),
        check(
            "pod-network",
            CheckStatus.PASSED,
            160,
            166.5,
            "pod-to-pod HTTP across nodes: demo-worker -> demo-control-plane",
        ),
        check(
            "f5-pool:web",
            CheckStatus.FAILED,
            160,
            169,
            "still failing at the 9 s deadline: pool /Common/env-demo_web_8080 out of step with the 2 Ready nodes "
            "on NodePort 30080: missing 172.18.0.3:30080",
            "the pool as it stands:\n  172.18.0.2:30080  state=up session=monitor-enabled\n<f5-sync> log: 401 & retry",
        ),
        check("broker-round-trip", CheckStatus.SKIPPED, 160, 160, "no service needs the broker"),
    )
    phases = tuple(
        Phase(name, at(start), at(end), PhaseStatus.FAILED if name == "smoke" else PhaseStatus.PASSED)
        for name, start, end in PHASES
    )
    return SmokeRun(environment="demo", started_at=at(160), finished_at=at(169), checks=checks, phases=phases)


def verify_run() -> SmokeRun:
    """The sample run as verify reports it: with the F5's convergence after three changes, one not followed."""
    measured = (
        Convergence("scale up", "web-direct", 3, 11.2, 11.35, 11.5),
        Convergence("scale down", "web-direct", 2, 9.8, 9.75, 10.1),
        Convergence("rolling update", "web-direct", 2, 24.0, None, None, "the pool and the VIP did not follow within 60 s"),
    )
    run = sample_run()
    return SmokeRun(run.environment, run.started_at, run.finished_at, run.checks, run.phases, measured)
