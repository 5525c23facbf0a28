from pathlib import Path

import pytest

from envbuilder.errors import InputError
from envbuilder.spec.catalog import load_catalog
from envbuilder.spec.environment import parse_overrides, parse_replicas, resolve_services, tagged_images
from envbuilder.spec.names import default_name, validate_name
from envbuilder.spec.profile import load_profile

STACKS = Path(__file__).resolve().parents[2] / "stacks"
CATALOG = load_catalog(STACKS / "services")
DEFAULT = load_profile(STACKS, "default")
NIGHTLY = load_profile(STACKS, "nightly")
IMAGES = tagged_images(CATALOG.names, "abc1234")


def test_config_merges_catalog_then_profile_then_overrides():
    (web,) = resolve_services(CATALOG, ["web"], NIGHTLY, IMAGES)
    assert web.config["GREETING"] == "hello from the nightly run"
    (web,) = resolve_services(CATALOG, ["web"], NIGHTLY, IMAGES, parse_overrides(["web.GREETING=hi"]))
    assert web.config["GREETING"] == "hi"
    assert web.config["WORK_QUEUE"] == "work"


def test_each_service_runs_its_own_image_and_reports_its_tag_as_its_revision():
    images = {**IMAGES, "web": "envbuilder/web:abc1234-dirty-0a1b2c3d4e5f"}
    web, worker = resolve_services(CATALOG, ["web", "worker"], DEFAULT, images)
    assert (web.image, web.revision) == ("envbuilder/web:abc1234-dirty-0a1b2c3d4e5f", "abc1234-dirty-0a1b2c3d4e5f")
    assert (worker.image, worker.revision) == ("envbuilder/worker:abc1234", "abc1234")


@pytest.mark.parametrize(
    ("overrides", "replicas", "message"),
    [
        ({"nosuch": {"A": "1"}}, {}, "'nosuch' is not one of this environment's services"),
        ({"web": {"NOPE": "1"}}, {}, "unknown config key for web: NOPE"),
        ({}, {"web": 99}, "outside the catalog's bounds 1 .. 6"),
        ({}, {"web": 0}, "outside the catalog's bounds"),
    ],
)
def test_bad_overrides_and_counts_fail_before_anything_is_created(overrides, replicas, message):
    with pytest.raises(InputError, match=message):
        resolve_services(CATALOG, ["web", "worker"], DEFAULT, IMAGES, overrides, replicas)


@pytest.mark.parametrize("pair", ["web.GREETING", "GREETING=hi", ".A=1", "web.=1"])
def test_malformed_overrides_are_refused(pair):
    with pytest.raises(InputError, match="SERVICE.KEY=VALUE"):
        parse_overrides([pair])


@pytest.mark.parametrize("pair", ["web", "web=", "web=-1", "web=two"])
def test_malformed_replica_counts_are_refused(pair):
    with pytest.raises(InputError, match="SERVICE=REPLICAS"):
        parse_replicas([pair])


def test_no_services_is_an_input_error():
    with pytest.raises(InputError, match="no services chosen"):
        resolve_services(CATALOG, [], DEFAULT, IMAGES)


@pytest.mark.parametrize("name", ["dev", "alice-main", "a1"])
def test_valid_names(name):
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["Dev", "1abc", "a_b", "-a", "a-", "x" * 41, ""])
def test_invalid_names(name):
    with pytest.raises(InputError, match="invalid environment name"):
        validate_name(name)


def test_default_name_comes_from_user_and_branch():
    assert default_name("Alice", "feature/F5_sync") == "alice-feature-f5-sync"
    assert default_name("bob", "") == "bob"  # no branch (detached HEAD, not a repository)
    assert default_name("42", "main") == "env-42-main"
    assert validate_name(default_name("a" * 30, "b" * 30))
