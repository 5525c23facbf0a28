from datetime import timedelta
from pathlib import Path

import pytest

from envbuilder.errors import InputError
from envbuilder.spec.profile import load_profile, parse_duration

STACKS = Path(__file__).resolve().parents[2] / "stacks"


def test_shipped_profiles_load():
    default = load_profile(STACKS, "default")
    nightly = load_profile(STACKS, "nightly")
    assert default.ttl == timedelta(hours=8)
    assert nightly.workers >= 2
    assert default.node_image is None  # chosen at up: the locally built image, else kind's published one
    assert default.published_node_image == f"kindest/node:{default.kubernetes_version}"


def test_the_default_profile_runs_the_kubernetes_version_the_offline_node_image_is_built_for():
    pins = dict(
        line.split("=", 1) for line in (STACKS.parent / "tools" / "toolchain" / "versions.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    for name in ("default", "nightly"):
        assert load_profile(STACKS, name).kubernetes_version == pins["KUBERNETES_VERSION"]


@pytest.mark.parametrize(("text", "expected"), [("8h", timedelta(hours=8)), ("90m", timedelta(minutes=90)),
                                                ("1d12h", timedelta(days=1, hours=12)), ("45s", timedelta(seconds=45))])
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "8", "8x", "h8", "-1h"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(InputError, match="known profiles: bgp, default, nightly"):
        load_profile(STACKS, "weekly")


def test_invalid_profile_names_field(tmp_path):
    (tmp_path / "bad.yaml").write_text("name: bad\nkubernetes_version: 1.30\ncalico_version: v3.29.1\n")
    with pytest.raises(InputError, match="kubernetes_version"):
        load_profile(tmp_path, "bad")
