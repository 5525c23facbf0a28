import asyncio

from envbuilder.smoke.framework import (
    Check,
    CheckFailed,
    CheckSkipped,
    Progress,
    run_check,
    run_checks,
    skipped_check,
)
from envbuilder.smoke.result import CheckStatus


def run(*checks: Check):
    return asyncio.run(run_checks(checks))


def test_a_check_that_returns_passes_with_its_detail_and_its_timing():
    async def probe(progress: Progress) -> str:
        return "all good"

    [result] = run(Check("ok", 5, probe))
    assert (result.status, result.summary, result.diagnosis) == (CheckStatus.PASSED, "all good", "")
    assert result.started_at <= result.finished_at
    assert result.duration_seconds >= 0


def test_a_check_failure_carries_its_summary_and_diagnosis():
    async def probe(progress: Progress) -> str:
        raise CheckFailed("pool is empty", "members: (none)")

    [result] = run(Check("pool", 5, probe))
    assert (result.status, result.summary, result.diagnosis) == (CheckStatus.FAILED, "pool is empty", "members: (none)")


def test_at_the_deadline_a_retrying_check_reports_the_last_failure_it_saw_not_just_timeout():
    attempts = []

    async def attempt() -> str:
        attempts.append(1)
        raise CheckFailed(f"1 of 2 nodes Ready (attempt {len(attempts)})", "node b: NotReady, kubelet stopped posting")

    async def probe(progress: Progress) -> str:
        return await progress.retry(attempt, interval=0.05)

    [result] = run(Check("nodes", 0.3, probe))
    assert result.status is CheckStatus.FAILED
    assert len(attempts) > 1
    assert result.summary == f"still failing at the 0.3 s deadline: 1 of 2 nodes Ready (attempt {len(attempts)})"
    assert result.diagnosis == "node b: NotReady, kubelet stopped posting"


def test_a_check_that_never_got_an_answer_says_so_at_its_deadline():
    async def probe(progress: Progress) -> str:
        await asyncio.Event().wait()
        return "unreachable"

    [result] = run(Check("hangs", 0.1, probe))
    assert result.status is CheckStatus.FAILED
    assert result.summary == "no answer within the 0.1 s deadline"
    assert "first attempt" in result.diagnosis


def test_a_check_that_does_not_apply_is_skipped_with_its_reason():
    async def probe(progress: Progress) -> str:
        raise CheckSkipped("no service needs the broker")

    results = run(Check("broker", 5, probe), skipped_check("f5:web", "F5 not reachable"))
    assert [(r.status, r.summary) for r in results] == [
        (CheckStatus.SKIPPED, "no service needs the broker"),
        (CheckStatus.SKIPPED, "F5 not reachable"),
    ]


def test_a_bug_in_a_check_becomes_a_failed_result_with_its_traceback():
    async def probe(progress: Progress) -> str:
        return {}["missing"]

    [result] = run(Check("buggy", 5, probe))
    assert result.status is CheckStatus.FAILED
    assert result.summary == "KeyError: 'missing'"
    assert "Traceback" in result.diagnosis


def test_a_timeout_raised_inside_a_check_is_not_taken_for_its_deadline():
    async def probe(progress: Progress) -> str:
        async with asyncio.timeout(0.01):
            await asyncio.Event().wait()
        return "unreachable"

    result = asyncio.run(run_check(Check("inner", 5, probe)))
    assert result.summary == "TimeoutError inside the check"


def test_checks_run_concurrently_and_results_keep_the_order_given():
    # Each check waits for the other: run one after the other, both would reach their deadline.
    first_started, second_started = asyncio.Event(), asyncio.Event()

    def waiting_for(own: asyncio.Event, other: asyncio.Event, name: str):
        async def probe(progress: Progress) -> str:
            own.set()
            await other.wait()
            return name

        return probe

    async def both():
        return await run_checks(
            [
                Check("first", 2, waiting_for(first_started, second_started, "first")),
                Check("second", 2, waiting_for(second_started, first_started, "second")),
            ]
        )

    results = asyncio.run(both())
    assert [(r.name, r.status, r.summary) for r in results] == [
        ("first", CheckStatus.PASSED, "first"),
        ("second", CheckStatus.PASSED, "second"),
    ]
