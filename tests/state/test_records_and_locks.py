import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from envbuilder.errors import EnvbuilderError, InputError
from envbuilder.state.locks import environment_lock
from envbuilder.state.records import EnvironmentRecord, HostPorts, list_records, load_record, save_record
from envbuilder.state.identity import home_identity


def make_record(name="dev", created=None, ttl=timedelta(hours=8)) -> EnvironmentRecord:
    return EnvironmentRecord(
        name=name, owner="alice", owner_id=home_identity(), created_at=created or datetime.now(UTC), ttl_seconds=int(ttl.total_seconds()),
        profile="default", services=["web"], revision="abc1234", target="kind", namespace=f"env-{name}",
        ports=HostPorts(f5_api=1, broker=2, vips={"web": 3}),
    )


def test_a_record_round_trips():
    save_record(make_record())
    assert load_record("dev") == make_record(created=load_record("dev").created_at)
    assert [r.name for r in list_records()] == ["dev"]


def test_an_unknown_name_lists_the_existing_environments():
    save_record(make_record("alpha"))
    save_record(make_record("beta"))
    with pytest.raises(InputError, match="existing environments: alpha, beta"):
        load_record("gamma")


def test_expiry_follows_creation_time_and_ttl():
    now = datetime.now(UTC)
    record = make_record(created=now - timedelta(hours=9))
    assert record.expired(now)
    assert not make_record(created=now - timedelta(hours=7)).expired(now)
    assert record.time_left(now) == timedelta(hours=-1)


def test_a_second_command_on_the_same_environment_refuses_clearly():
    holding = threading.Event()
    release = threading.Event()

    def hold():
        with environment_lock("dev"):
            holding.set()
            release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait(5)
    try:
        started = time.monotonic()
        with pytest.raises(EnvbuilderError, match="another envbuilder command .* is working on environment 'dev'"):
            with environment_lock("dev", wait_seconds=0.2):
                pass
        assert time.monotonic() - started >= 0.2
        with environment_lock("other", wait_seconds=0.2):
            pass  # other environments are not blocked
    finally:
        release.set()
        thread.join()
    with environment_lock("dev", wait_seconds=0.2):
        pass  # free again once the first command is done
