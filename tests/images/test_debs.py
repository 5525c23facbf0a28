"""Debian packages of a component's image, fetched on the host through an apt configuration of their own."""

from pathlib import Path

from envbuilder.cluster.commands import CommandResult
from envbuilder.images.debs import DEBS_DIR, component_debian_packages, download_debian_packages

REPO = Path(__file__).resolve().parents[2]


def test_the_mock_f5_declares_nftables_and_f5_sync_declares_nothing():
    assert component_debian_packages(REPO / "components" / "f5mock") == ["nftables"]
    assert component_debian_packages(REPO / "components" / "f5sync") == []


def test_packages_and_dependencies_come_from_bookworm_without_reading_or_changing_the_hosts_apt(tmp_path):
    calls: list[list[str]] = []

    def apt(args, timeout=None, **_) -> CommandResult:
        calls.append(list(args))
        options = dict(args[index + 1].split("=", 1) for index, word in enumerate(args) if word == "-o")
        if "install" in args:  # what apt downloads lands in its archive folder
            assert Path(options["Dir::State::status"]).read_text() == ""
            assert " bookworm main" in Path(options["Dir::Etc::SourceList"]).read_text()
            for deb in ("nftables_1.0.6_amd64.deb", "libnftables1_1.0.6_amd64.deb"):
                (Path(options["Dir::Cache::Archives"]) / deb).write_bytes(b"deb")
        return CommandResult(tuple(args), 0, "", "")

    (tmp_path / DEBS_DIR).mkdir(parents=True)
    (tmp_path / DEBS_DIR / "no-longer-declared_1.0_amd64.deb").write_bytes(b"deb")  # an earlier build's
    downloaded = download_debian_packages(["nftables"], tmp_path, apt)

    assert [call[-1] for call in calls] == ["--quiet", "nftables"]
    assert calls[1][-5:-1] == ["--quiet", "--yes", "--download-only", "--no-install-recommends"]
    for call in calls:
        options = [call[index + 1] for index, word in enumerate(call) if word == "-o"]
        assert "Dir::Etc::SourceParts=/dev/null" in options
        assert not [option for option in options if "=/var/" in option or "=/etc/" in option]
    assert sorted(path.name for path in downloaded) == ["libnftables1_1.0.6_amd64.deb", "nftables_1.0.6_amd64.deb"]
    assert {path.parent for path in downloaded} == {tmp_path / DEBS_DIR}
    assert sorted(path.name for path in (tmp_path / DEBS_DIR).iterdir()) == sorted(path.name for path in downloaded)
