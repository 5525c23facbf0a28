"""Loading into kind: only nodes lacking the image ID get `kind load`, checked with a fake runner."""

import json

from envbuilder.cluster.commands import CommandResult
from envbuilder.cluster.kind import Kind
from envbuilder.images.load import ImageLoader, nodes_needing, qualified_reference

WEB = "envbuilder/web:abc1234"
WEB_ID = "sha256:" + "a" * 64
OLD_ID = "sha256:" + "b" * 64
WORKER, WORKER_ID = "envbuilder/worker:abc1234", "sha256:" + "c" * 64
BROKER, BROKER_ID = "envbuilder/broker:3.10.8-bookworm", "sha256:" + "d" * 64


def crictl_json(*images: tuple[str, str]) -> str:
    return json.dumps({"images": [{"id": image_id, "repoTags": [reference]} for reference, image_id in images]})


class FakeRunner:
    """Answers docker/kind commands from tables; records every call."""

    def __init__(self, nodes: dict[str, str], local_ids: dict[str, str]) -> None:
        self.nodes = nodes  # node -> crictl images JSON
        self.local_ids = local_ids
        self.calls: list[list[str]] = []

    def __call__(self, args, **kwargs) -> CommandResult:
        self.calls.append(list(args))
        match args:
            case ["kind", "get", "nodes", "--name", _]:
                return self._ok("\n".join(self.nodes))
            case ["docker", "exec", node, "crictl", "images", "--output", "json"]:
                return self._ok(self.nodes[node])
            case ["docker", "image", "inspect", "--format", _, image]:
                return self._ok(f"{self.local_ids[image]} null\n")
            case ["kind", "load", "docker-image", *_]:
                return self._ok("")
        raise AssertionError(f"unexpected command {args}")

    def _ok(self, stdout: str) -> CommandResult:
        return CommandResult(("fake",), 0, stdout, "")

    def kind_loads(self) -> list[list[str]]:
        return [call for call in self.calls if call[:2] == ["kind", "load"]]


def test_references_are_qualified_the_way_containerd_records_them():
    assert qualified_reference("envbuilder/web:abc") == "docker.io/envbuilder/web:abc"
    assert qualified_reference("python:3.11-slim") == "docker.io/library/python:3.11-slim"
    assert qualified_reference("localhost:5000/web:abc") == "localhost:5000/web:abc"
    assert qualified_reference("registry.example/team/web:abc") == "registry.example/team/web:abc"


def test_a_node_needs_the_image_when_it_lacks_the_reference_or_holds_another_id():
    images_by_node = {
        "up-to-date": {"docker.io/envbuilder/web:abc1234": WEB_ID},
        "stale": {"docker.io/envbuilder/web:abc1234": OLD_ID},
        "empty": {},
    }
    assert nodes_needing(WEB, WEB_ID, images_by_node) == ["stale", "empty"]


def test_kind_load_is_called_only_for_the_nodes_missing_the_image():
    runner = FakeRunner(
        nodes={
            "envb-control-plane": crictl_json(("docker.io/envbuilder/web:abc1234", WEB_ID)),
            "envb-worker": crictl_json(("docker.io/envbuilder/web:abc1234", OLD_ID)),
            "envb-worker2": crictl_json(),
        },
        local_ids={WEB: WEB_ID},
    )

    loaded = ImageLoader("envb", Kind(runner=runner), runner).load([WEB])

    assert loaded == {WEB: ["envb-worker", "envb-worker2"]}
    assert runner.kind_loads() == [
        ["kind", "load", "docker-image", WEB, "--name", "envb", "--nodes", "envb-worker,envb-worker2"]
    ]


def test_images_missing_from_the_same_nodes_are_loaded_in_one_kind_load():
    runner = FakeRunner(
        nodes={
            "envb-control-plane": crictl_json(("docker.io/envbuilder/web:abc1234", WEB_ID)),
            "envb-worker": crictl_json(),
        },
        local_ids={WEB: WEB_ID, WORKER: WORKER_ID, BROKER: BROKER_ID},
    )

    loaded = ImageLoader("envb", Kind(runner=runner), runner).load([WEB, WORKER, BROKER])

    assert loaded == {WEB: ["envb-worker"], WORKER: ["envb-control-plane", "envb-worker"],
                      BROKER: ["envb-control-plane", "envb-worker"]}
    assert runner.kind_loads() == [
        ["kind", "load", "docker-image", WEB, "--name", "envb", "--nodes", "envb-worker"],
        ["kind", "load", "docker-image", WORKER, BROKER, "--name", "envb", "--nodes", "envb-control-plane,envb-worker"],
    ]


def test_nothing_is_loaded_when_every_node_holds_the_image():
    runner = FakeRunner(
        nodes={"envb-control-plane": crictl_json(("docker.io/envbuilder/web:abc1234", WEB_ID))},
        local_ids={WEB: WEB_ID},
    )

    assert ImageLoader("envb", Kind(runner=runner), runner).load([WEB]) == {WEB: []}
    assert runner.kind_loads() == []
