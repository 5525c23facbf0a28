"""The desired state of an environment, checked as data: no cluster, Docker or Pulumi involved."""

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from f5sync import contract
from envbuilder.desired import PENDING_ADDRESSES, Credentials, desired_state, pending_credentials, resolve
from envbuilder.desired.host import KindNodes, registry_mirror_hosts
from envbuilder.desired.meta import CODE_RESET_ANNOTATION, CONFIG_HASH_ANNOTATION
from envbuilder.desired.state import state_digest
from envbuilder.errors import InputError
from envbuilder.spec.catalog import load_catalog
from envbuilder.images.build import COMPONENTS
from envbuilder.spec.environment import EnvironmentSpec, parse_overrides, resolve_services, tagged_images
from envbuilder.spec.profile import PodNetwork, load_profile
from envbuilder.state.home import registry_hosts_dir
from envbuilder.state.records import HostPorts

STACKS = Path(__file__).resolve().parents[2] / "stacks"
CATALOG = load_catalog(STACKS / "services")
PROFILE = load_profile(STACKS, "default")
SECRETS = Credentials(broker_password="broker-s3cret", f5_password="f5-s3cret")


def make_spec(names=("web", "worker"), target="kind", overrides=None, catalog=CATALOG, profile=PROFILE,
              images=None) -> EnvironmentSpec:
    images = {**tagged_images([*names, *COMPONENTS], "abc1234"), **(images or {})}
    services = resolve_services(catalog, list(names), profile, images, parse_overrides(overrides or []))
    return EnvironmentSpec(name="dev", profile=profile, services=services, revision="abc1234", owner="home1234",
                           target=target, kube_context="ctx" if target == "existing" else None,
                           component_images={name: images[name] for name in COMPONENTS})


def find(objects, kind, name):
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert matches, f"no {kind}/{name}"
    return matches[0]


def test_every_object_is_labelled_with_its_environment_and_its_owner():
    state = desired_state(make_spec(), SECRETS)
    for obj in state.objects():
        assert obj["metadata"]["labels"]["envbuilder.io/environment"] == "dev"
        assert obj["metadata"]["labels"]["envbuilder.io/owner"] == "home1234"
    for container in state.all_containers():
        assert container.labels["envbuilder.io/environment"] == "dev"
        assert container.labels["envbuilder.io/owner"] == "home1234"
    assert state.cluster is not None
    for node in state.cluster["nodes"]:
        assert node["labels"] == {"envbuilder.io/environment": "dev", "envbuilder.io/owner": "home1234"}


def test_namespaced_objects_live_in_the_environment_namespace():
    state = desired_state(make_spec(), SECRETS)
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    for obj in state.objects():
        if obj["kind"] not in cluster_scoped:
            assert obj["metadata"]["namespace"] == "env-dev"


def test_broker_password_is_only_in_a_secret():
    state = desired_state(make_spec(), SECRETS)
    secret = find(state.secrets, "Secret", "broker-credentials")
    assert secret["stringData"]["password"] == "broker-s3cret"
    assert "broker-s3cret" in secret["stringData"]["amqp-url"]
    assert secret["stringData"]["default-user.conf"] == "default_user = envbuilder\ndefault_pass = broker-s3cret\n"
    for obj in state.objects():
        if obj["kind"] != "Secret":
            assert "broker-s3cret" not in str(obj) and "f5-s3cret" not in str(obj)


def pod_templates(objects):
    return [(o["metadata"]["name"], o["spec"]["template"]["spec"]) for o in objects if o["kind"] in ("Deployment", "StatefulSet")]


@pytest.mark.parametrize("target", ["kind", "existing"])
def test_no_pod_gets_a_secret_in_its_environment_only_files_from_the_secrets(target):
    """A container's environment shows in `crictl inspect` on its node: every secret reaches a pod as a file
    of a Secret volume, named by a `*_FILE` variable (RabbitMQ's own: a file in its conf.d)."""
    objects = desired_state(make_spec(["web", "worker", "web-direct"], target=target), SECRETS).objects()
    files_given = {}
    for name, pod in pod_templates(objects):
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for container in pod["containers"]:
            assert not [e for e in container.get("env", []) if "valueFrom" in e], name
            assert not [e for e in container.get("envFrom", []) if "secretRef" in e], name
            mounted = {}
            for mount in container.get("volumeMounts", []):
                if "secret" in volumes[mount["name"]]:
                    secret = volumes[mount["name"]]["secret"]
                    for item in secret["items"]:
                        if "subPath" not in mount:
                            mounted[f"{mount['mountPath']}/{item['path']}"] = (secret["secretName"], item["key"])
                        elif mount["subPath"] == item["path"]:
                            mounted[mount["mountPath"]] = (secret["secretName"], item["key"])
            variables = {e["name"]: e["value"] for e in container.get("env", [])}
            if container.get("envFrom"):
                [config] = container["envFrom"]
                variables |= find(objects, "ConfigMap", config["configMapRef"]["name"])["data"]
            for variable, path in variables.items():
                if variable.endswith("_FILE"):
                    assert path in mounted, f"{name}: {variable}={path} is no mounted secret file"
            files_given[name] = mounted
    assert files_given["web"] == {"/run/secrets/envbuilder/amqp-url": ("broker-credentials", "amqp-url")}
    assert files_given["f5-sync"] == {"/run/secrets/envbuilder/f5-password": ("f5-credentials", "F5_PASSWORD")}
    assert files_given["broker"] == {
        "/etc/rabbitmq/conf.d/20-envbuilder-default-user.conf": ("broker-credentials", "default-user.conf")
    }
    if target == "existing":
        assert files_given["f5-mock"] == {"/run/secrets/envbuilder/f5-password": ("f5-credentials", "F5_PASSWORD")}


def test_the_broker_runs_the_image_chosen_for_it_with_the_same_probes_and_credentials():
    profile_broker = find(desired_state(make_spec(), SECRETS).objects(), "StatefulSet", "broker")
    spec = make_spec().with_broker_image("envbuilder/broker:3.10.8-bookworm")
    chosen = find(desired_state(spec, SECRETS).objects(), "StatefulSet", "broker")

    [profile_container] = profile_broker["spec"]["template"]["spec"]["containers"]
    [container] = chosen["spec"]["template"]["spec"]["containers"]
    assert profile_container["image"] == PROFILE.broker.image
    assert container == {**profile_container, "image": "envbuilder/broker:3.10.8-bookworm"}
    assert spec.profile.name == PROFILE.name and spec.profile.workers == PROFILE.workers


def test_services_take_their_configmap_and_the_broker_url_from_the_secret():
    state = desired_state(make_spec(overrides=["web.GREETING=hi"]), SECRETS)
    objects = state.objects()
    config = find(objects, "ConfigMap", "web-config")
    assert config["data"]["GREETING"] == "hi"
    assert config["data"]["REVISION"] == "abc1234"
    pod = find(objects, "Deployment", "web")["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["envFrom"] == [{"configMapRef": {"name": "web-config"}}]
    assert container["env"] == [{"name": "AMQP_URL_FILE", "value": "/run/secrets/envbuilder/amqp-url"}]
    assert container["image"] == "localhost:5001/envbuilder/web:abc1234"


def test_on_kind_pods_pull_envbuilders_images_through_the_machines_registry_and_containers_use_dockers():
    kind, existing = desired_state(make_spec(), SECRETS), desired_state(make_spec(target="existing"), SECRETS)

    def pod_images(state):
        return {c["name"]: c["image"] for o in state.objects() if o["kind"] in ("Deployment", "StatefulSet")
                for c in o["spec"]["template"]["spec"]["containers"]}

    assert pod_images(kind) == {"web": "localhost:5001/envbuilder/web:abc1234",
                                "worker": "localhost:5001/envbuilder/worker:abc1234",
                                "f5-sync": "localhost:5001/envbuilder/f5-sync:abc1234",
                                "rabbitmq": PROFILE.broker.image}  # the pipeline names the broker's (it may not push it)
    assert [c.image for c in kind.all_containers()] == ["envbuilder/f5-mock:abc1234"]  # Docker's own, not pulled
    assert set(pod_images(existing).values()) == {"envbuilder/web:abc1234", "envbuilder/worker:abc1234",
                                                  "envbuilder/f5-sync:abc1234", "envbuilder/f5-mock:abc1234",
                                                  PROFILE.broker.image}


def test_kind_nodes_pull_localhost_registry_images_from_the_registry_container_on_their_network():
    cluster = desired_state(make_spec(), SECRETS).cluster
    assert cluster is not None
    [patch] = cluster["containerdConfigPatches"]
    assert 'config_path = "/etc/containerd/certs.d"' in patch and "io.containerd.grpc.v1.cri\".registry]" in patch
    mount = {"hostPath": str(registry_hosts_dir()), "containerPath": "/etc/containerd/certs.d", "readOnly": True}
    assert [node["extraMounts"] for node in cluster["nodes"]] == [[mount], [mount]]
    assert registry_mirror_hosts() == {"localhost:5001/hosts.toml": (
        'server = "http://localhost:5001"\n\n[host."http://envbuilder-registry:5000"]\n  capabilities = ["pull", "resolve"]\n')}


def test_no_image_is_latest_and_every_tag_is_the_revision():
    state = desired_state(make_spec(), SECRETS)
    images = [c["image"] for o in state.objects() if o["kind"] == "Deployment"
              for c in o["spec"]["template"]["spec"]["containers"]]
    images += [c.image for c in state.all_containers()]
    envbuilder_images = [i for i in images if i.removeprefix("localhost:5001/").startswith("envbuilder/")]
    assert envbuilder_images and all(i.endswith(":abc1234") for i in envbuilder_images)
    assert not any(i.endswith(":latest") or ":" not in i for i in images)


def test_an_edit_to_one_service_changes_only_its_pod_template_and_its_pods_report_the_new_tag():
    def templates(spec: EnvironmentSpec) -> dict[str, dict]:
        return {o["metadata"]["name"]: o["spec"]["template"] for o in desired_state(spec, SECRETS).objects()
                if o["kind"] in ("Deployment", "StatefulSet")}

    edited_tag = "abc1234-dirty-0a1b2c3d4e5f"
    before = templates(make_spec())
    after = templates(make_spec(images={"web": f"envbuilder/web:{edited_tag}"}))
    edited = desired_state(make_spec(images={"web": f"envbuilder/web:{edited_tag}"}), SECRETS)

    assert {name for name in before if before[name] != after[name]} == {"web"}
    assert after["web"]["spec"]["containers"][0]["image"] == f"localhost:5001/envbuilder/web:{edited_tag}"
    assert find(edited.objects(), "ConfigMap", "web-config")["data"]["REVISION"] == edited_tag


def test_a_config_change_changes_the_pod_template_so_pods_roll():
    def template_hash(overrides):
        objects = desired_state(make_spec(overrides=overrides), SECRETS).objects()
        return find(objects, "Deployment", "web")["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]

    assert template_hash(["web.GREETING=a"]) != template_hash(["web.GREETING=b"])
    assert template_hash(["web.GREETING=a"]) == template_hash(["web.GREETING=a"])


def test_a_code_reset_rolls_only_its_services_pods_and_replaces_its_classic_container():
    def templates_and_containers(resets):
        spec = replace(make_spec(("web", "worker", "legacy-worker")), code_resets=resets)
        state = desired_state(spec, SECRETS)
        return ({o["metadata"]["name"]: o["spec"]["template"] for o in state.objects() if o["kind"] == "Deployment"},
                {c.name: c for c in state.all_containers()})

    templates, containers = templates_and_containers({})
    reset_templates, reset_containers = templates_and_containers({"web": 1, "legacy-worker": 2})

    assert {name for name in templates if templates[name] != reset_templates[name]} == {"web"}
    assert reset_templates["web"]["metadata"]["annotations"][CODE_RESET_ANNOTATION] == "1"
    assert {name for name in containers if containers[name] != reset_containers[name]} == {"envbuilder-dev-legacy-worker"}


def test_exposed_services_are_nodeports_marked_for_f5_sync():
    objects = desired_state(make_spec(), SECRETS).objects()
    web = find(objects, "Service", "web")
    assert web["spec"]["type"] == "NodePort"
    assert web["metadata"]["labels"][contract.EXPOSE_LABEL] == contract.EXPOSE_LABEL_VALUE
    assert web["metadata"]["annotations"][contract.VIP_PORT_ANNOTATION] == "80"
    worker = find(objects, "Service", "worker")
    assert contract.EXPOSE_LABEL not in worker["metadata"]["labels"]



@pytest.mark.parametrize("target", ["kind", "existing"])
def test_every_service_that_selects_pods_selects_its_phases_workload_and_its_ports_and_is_not_awaited(target):
    # The engine does not wait for such a Service's Endpoints (the Kubernetes provider would wait 10 s after
    # their last change), only for its workload's pods to be Ready: what fills the Endpoints is checked here.
    state = desired_state(make_spec(target=target), SECRETS)
    selecting = 0
    for objects in state.groups.values():
        workloads = [o for o in objects if o["kind"] in ("Deployment", "StatefulSet")]
        for service in (o for o in objects if o["kind"] == "Service" and o["spec"].get("selector")):
            selecting += 1
            selected = [w for w in workloads
                        if service["spec"]["selector"].items() <= w["spec"]["template"]["metadata"]["labels"].items()]
            assert len(selected) == 1, service["metadata"]["name"]
            container_ports = {key for c in selected[0]["spec"]["template"]["spec"]["containers"]
                               for port in c.get("ports", []) for key in (port["name"], port["containerPort"])}
            for port in service["spec"]["ports"]:
                assert port["targetPort"] in container_ports, (service["metadata"]["name"], port)
            assert service["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"
    assert selecting == (4 if target == "kind" else 5)  # broker, broker-nodeport, web, worker; on existing the F5

def granted_to_f5_sync(objects) -> set[tuple[str, str, str]]:
    role = find(objects, "Role", "f5-sync")
    cluster_role = find(objects, "ClusterRole", "envbuilder-dev-f5-sync-nodes")
    rules = role["rules"] + cluster_role["rules"]
    return {(group, resource, verb) for rule in rules for group in rule["apiGroups"]
            for resource in rule["resources"] for verb in rule["verbs"]}


def test_f5_sync_may_only_read_services_endpointslices_and_nodes_and_on_kind_calicos_blocks():
    objects = desired_state(make_spec(), SECRETS).objects()
    read = [("", "services"), ("discovery.k8s.io", "endpointslices"), ("", "nodes")]
    assert granted_to_f5_sync(objects) == {
        (g, r, v) for g, r in [*read, ("crd.projectcalico.org", "blockaffinities")] for v in ("get", "list", "watch")
    }
    existing = desired_state(make_spec(target="existing"), SECRETS).objects()
    assert granted_to_f5_sync(existing) == {(g, r, v) for g, r in read for v in ("get", "list", "watch")}
    deployment = find(objects, "Deployment", "f5-sync")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "f5-sync"
    assert pod["containers"][0]["envFrom"] == [{"configMapRef": {"name": "f5-sync"}}]
    settings = find(objects, "ConfigMap", "f5-sync")["data"]
    assert set(settings) <= set(contract.CONFIG_ENV_KEYS)
    assert settings[contract.F5_PASSWORD_FILE] == "/run/secrets/envbuilder/f5-password"
    assert settings[contract.F5_URL] == "https://f5.env-dev.svc:443"


def test_on_kind_f5_sync_writes_the_f5s_routes_to_the_pods_and_the_f5_may_install_them():
    state = desired_state(make_spec(), SECRETS)
    assert find(state.objects(), "ConfigMap", "f5-sync")["data"][contract.F5SYNC_POD_ROUTES] == contract.POD_ROUTES_AUTO
    (f5,) = state.containers["f5"]
    assert f5.capabilities == ("NET_ADMIN",)
    # In an existing cluster the mock is a pod: it reaches pods without routes.
    existing = desired_state(make_spec(target="existing"), SECRETS).objects()
    assert find(existing, "ConfigMap", "f5-sync")["data"][contract.F5SYNC_POD_ROUTES] == contract.POD_ROUTES_OFF


def test_with_the_bgp_profile_the_f5_learns_the_routes_and_f5_sync_writes_none():
    state = desired_state(make_spec(profile=load_profile(STACKS, "bgp")), SECRETS)
    objects = state.objects()
    assert find(objects, "ConfigMap", "f5-sync")["data"][contract.F5SYNC_POD_ROUTES] == contract.POD_ROUTES_OFF
    assert find(objects, "ClusterRole", "envbuilder-dev-f5-sync-nodes")["rules"] == [dict(r) for r in contract.CLUSTER_RULES]
    (f5,) = state.containers["f5"]
    assert f5.env["F5MOCK_BGP_ASN"] == "64513"
    # Its peers are this environment's kind nodes alone, by container name.
    assert f5.env["F5MOCK_BGP_PEERS"] == "envbuilder-dev-control-plane,envbuilder-dev-worker"
    assert f5.capabilities == ("NET_ADMIN",)
    assert "F5MOCK_BGP_ASN" not in desired_state(make_spec(), SECRETS).containers["f5"][0].env


def test_the_bgp_profile_needs_the_kind_target_and_kube_router():
    with pytest.raises(InputError, match="needs the kind target"):
        desired_state(make_spec(target="existing", profile=load_profile(STACKS, "bgp")), SECRETS)
    assert KindNodes("envbuilder/kind-node:v1.35.4", PodNetwork.KUBE_ROUTER).bgp_peering_refusal() is None
    assert "not calico" in KindNodes("kindest/node:v1.35.4").bgp_peering_refusal()


def test_on_kind_the_f5_is_a_container_outside_the_cluster_with_host_ports():
    ports = HostPorts(f5_api=42001, broker=42002, vips={"web": 42003})
    state = desired_state(make_spec(), SECRETS, ports, {"envbuilder-dev-f5": "172.18.0.9"})
    (f5,) = state.containers["f5"]
    assert f5.network == "envbuilder-dev"  # the environment's own network, not kind's shared one
    assert set(f5.publish) == {(42001, 443), (42003, 80)}
    # The mock reads its password from a file: `docker inspect` shows the path, not the password.
    assert dict(f5.secret_files) == {f5.env["F5MOCK_PASSWORD_FILE"]: "f5-s3cret"}
    assert "f5-s3cret" not in str(f5.env)
    endpoints = find(state.objects(), "Endpoints", "f5")
    assert endpoints["subsets"][0]["addresses"] == [{"ip": "172.18.0.9"}]
    assert state.cluster["networking"]["disableDefaultCNI"] is True
    assert state.cluster["nodes"][0]["extraPortMappings"][0]["hostPort"] == 42002


def test_on_an_existing_cluster_there_is_no_kind_config_and_the_f5_runs_in_the_namespace():
    state = desired_state(make_spec(target="existing"), SECRETS)
    assert state.cluster is None and state.containers == {}
    find(state.objects(), "Deployment", "f5-mock")


def test_no_broker_when_no_service_needs_it(tmp_path):
    (tmp_path / "static.yaml").write_text("name: static\nbuild: {context: x}\nport: 80\n")
    spec = make_spec(names=("static",), catalog=load_catalog(tmp_path))
    state = desired_state(spec, SECRETS)
    assert "broker" not in state.groups
    assert not [o for o in state.secrets if o["metadata"]["name"] == "broker-credentials"]


def test_a_classic_service_is_a_container_that_reaches_the_broker_through_a_nodeport(tmp_path):
    for name in ("web", "worker"):
        text = (STACKS / "services" / f"{name}.yaml").read_text()
        if name == "worker":
            text = text.replace("runtime: kubernetes", "runtime: classic")
        (tmp_path / f"{name}.yaml").write_text(text)
    catalog = load_catalog(tmp_path)
    state = desired_state(make_spec(catalog=catalog), SECRETS, None, {"envbuilder-dev-worker": "172.18.0.7"})
    worker = next(c for c in state.all_containers() if c.name == "envbuilder-dev-worker")
    # The broker URL (with its password) is a file in the container, never in its environment.
    [(path, url)] = worker.secret_files
    assert worker.env["AMQP_URL_FILE"] == path
    assert url.endswith("@envbuilder-dev-control-plane:30672/%2F") and "broker-s3cret" in url
    assert "broker-s3cret" not in str(worker.env) and "broker-s3cret" not in str(worker.shown())
    assert not [o for o in state.objects() if o["kind"] == "Deployment" and o["metadata"]["name"] == "worker"]
    # web's side is unchanged: it still talks to the broker Service in the cluster.
    assert find(state.objects(), "Deployment", "web")


def test_classic_services_need_the_kind_target(tmp_path):
    (tmp_path / "legacy.yaml").write_text("name: legacy\nruntime: classic\nbuild: {context: x}\nport: 80\n")
    with pytest.raises(InputError, match="need the kind target"):
        desired_state(make_spec(names=("legacy",), target="existing", catalog=load_catalog(tmp_path)), SECRETS)


def test_kind_config_lets_kubelet_run_on_cgroup_v1_hosts_only_where_needed():
    on_v1 = desired_state(make_spec(), SECRETS, nodes=KindNodes("kindest/node:v1.35.4", cgroup_v1=True)).cluster
    on_v2 = desired_state(make_spec(), SECRETS, nodes=KindNodes("kindest/node:v1.35.4")).cluster
    assert [yaml.safe_load(patch) for patch in on_v1["kubeadmConfigPatches"]] == [
        {"kind": "KubeletConfiguration", "failCgroupV1": False}
    ]
    assert "kubeadmConfigPatches" not in on_v2


def test_kind_installs_its_default_cni_only_when_kube_router_the_node_images_own_is_chosen():
    offline = "envbuilder/kind-node:v1.35.4"
    calico = desired_state(make_spec(), SECRETS, nodes=KindNodes("kindest/node:v1.35.4")).cluster
    calico_on_the_offline_image = desired_state(make_spec(), SECRETS, nodes=KindNodes(offline, PodNetwork.CALICO)).cluster
    kube_router = desired_state(make_spec(), SECRETS, nodes=KindNodes(offline, PodNetwork.KUBE_ROUTER)).cluster
    assert calico["networking"]["disableDefaultCNI"] is True
    assert calico_on_the_offline_image["networking"]["disableDefaultCNI"] is True
    assert kube_router["networking"]["disableDefaultCNI"] is False


@pytest.mark.parametrize("target", ["kind", "existing"])
def test_every_workload_may_take_the_profiles_rollout_timeout_to_become_ready(target):
    state = desired_state(make_spec(target=target), SECRETS)
    workloads = [obj for obj in state.objects() if obj["kind"] in ("Deployment", "StatefulSet")]
    assert workloads
    for workload in workloads:
        # The Kubernetes provider waits this long for the rollout before it fails the update.
        assert workload["metadata"]["annotations"]["pulumi.com/timeoutSeconds"] == str(PROFILE.timeouts.rollout)


def test_each_container_beside_the_cluster_has_its_phase_in_the_desired_state():
    state = desired_state(make_spec(names=("web", "worker", "legacy-worker")), SECRETS)
    assert {phase: [c.name for c in containers] for phase, containers in state.containers.items()} == {
        "f5": ["envbuilder-dev-f5"],
        "services": ["envbuilder-dev-legacy-worker"],
    }


def test_a_state_computed_with_pending_values_resolves_to_the_state_computed_with_the_real_ones():
    spec = make_spec(names=("web", "worker", "legacy-worker"))
    addresses = {"envbuilder-dev-f5": "172.18.0.9", "envbuilder-dev-legacy-worker": "172.18.0.7"}
    pending = desired_state(spec, pending_credentials(), None, PENDING_ADDRESSES)
    real = desired_state(spec, SECRETS, None, addresses)
    assert resolve(pending.secrets, credentials=SECRETS) == real.secrets
    assert resolve(pending.containers, credentials=SECRETS) == real.containers
    assert resolve(pending.groups, addresses=addresses) == real.groups


@pytest.mark.parametrize("name", ["pending", "envbuilder-pending", "dev"])
def test_no_name_of_an_environment_is_taken_for_a_pending_value(name):
    spec = replace(make_spec(names=("web", "worker", "legacy-worker")), name=name)
    pending = desired_state(spec, pending_credentials(), None, PENDING_ADDRESSES)
    addresses = {container.name: "172.18.0.7" for container in pending.all_containers()}
    assert resolve(pending.groups, addresses=addresses) == desired_state(spec, SECRETS, None, addresses).groups


def test_a_value_left_pending_never_passes_resolve():
    pending = desired_state(make_spec(), pending_credentials(), None, PENDING_ADDRESSES)
    with pytest.raises(ValueError, match="still pending"):
        resolve(pending.secrets)  # the credentials were not supplied
    with pytest.raises(ValueError, match="still pending"):
        resolve(pending.groups, addresses={})  # nor the F5's address
    with pytest.raises(ValueError, match="not URL-safe"):
        resolve(pending.secrets, credentials=Credentials(broker_password="a/b", f5_password="f5"))



def test_the_state_digest_is_the_same_for_the_same_state_and_changes_with_anything_that_decides_it():
    spec, ports = make_spec(), HostPorts(f5_api=42000, broker=42001, vips={"web": 42002})
    digest = state_digest(spec, ports, "envbuilder/kind-node:v1", "kube-router")
    assert digest == state_digest(make_spec(), ports, "envbuilder/kind-node:v1", "kube-router")
    changed = [
        state_digest(make_spec(overrides=["web.GREETING=hi"]), ports, "envbuilder/kind-node:v1", "kube-router"),
        state_digest(make_spec(names=("web",)), ports, "envbuilder/kind-node:v1", "kube-router"),
        state_digest(spec, HostPorts(f5_api=42000, broker=42001, vips={"web": 42003}), "envbuilder/kind-node:v1",
                     "kube-router"),
        state_digest(spec, ports, "envbuilder/kind-node:v2", "kube-router"),
        state_digest(replace(spec, profile=spec.profile.model_copy(
            update={"timeouts": spec.profile.timeouts.model_copy(update={"smoke": 1})})), ports,
            "envbuilder/kind-node:v1", "kube-router"),
        state_digest(replace(spec, services=tuple(replace(s, image=s.image + "-dirty-abc") for s in spec.services)),
                     ports, "envbuilder/kind-node:v1", "kube-router"),
    ]
    assert digest not in changed and len(set(changed)) == len(changed)


def test_every_pod_is_asked_whether_it_is_ready_often_and_from_the_start():
    # `up` waits for Ready pods phase after phase: a long period or an initial delay makes a pod Ready later
    # than it is.
    containers = [container for item in desired_state(make_spec(), SECRETS).objects()
                  if item["kind"] in ("Deployment", "StatefulSet")
                  for container in item["spec"]["template"]["spec"]["containers"]]
    probes = {container["name"]: container["readinessProbe"] for container in containers}
    assert {"rabbitmq", "f5-sync"} <= set(probes) and len(probes) == len(containers)
    assert all(probe["periodSeconds"] <= 2 and not probe.get("initialDelaySeconds") for probe in probes.values())
    assert "exec" not in probes["rabbitmq"], "a probe that starts an Erlang VM is too costly every 2 s"
