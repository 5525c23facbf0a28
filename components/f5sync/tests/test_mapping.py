"""The mapping from a cluster snapshot to the F5 configuration it calls for."""

from f5sync import contract
from f5sync.mapping import desired_state
from f5sync.model import (
    ClusterSnapshot,
    EndpointSliceInfo,
    Member,
    NodeInfo,
    ServiceInfo,
    ServicePort,
    SlicePort,
)

EXPOSED = {contract.EXPOSE_LABEL: "true"}
NODES = (
    NodeInfo("n1", "10.0.0.1", ready=True),
    NodeInfo("n2", "10.0.0.2", ready=True),
)


def web(annotations: dict[str, str] | None = None, labels: dict[str, str] = EXPOSED) -> ServiceInfo:
    return ServiceInfo(
        namespace="shop",
        name="web",
        labels=labels,
        annotations={contract.VIP_PORT_ANNOTATION: "80", **(annotations or {})},
        ports=(ServicePort(8080, "http", node_port=30080), ServicePort(9090, "metrics", node_port=30090)),
    )


def desired(*services: ServiceInfo, nodes=NODES, slices=()):
    snapshot = ClusterSnapshot(services=services, nodes=nodes, endpoint_slices=slices)
    return desired_state(snapshot, default_partition="Common", vip_address="192.0.2.10")


def members(result, pool: str, partition: str = "Common") -> set[Member]:
    return set(result.state.pools[(partition, pool)].members)


def test_pool_names_are_predictable_from_namespace_service_and_port():
    assert contract.pool_name("shop", "web", 8080) == "shop_web_8080"
    assert contract.virtual_name("shop", "web") == "shop_web"


def test_nodeport_mode_makes_one_pool_per_port_with_every_ready_node():
    result = desired(web())
    assert set(result.state.pools) == {("Common", "shop_web_8080"), ("Common", "shop_web_9090")}
    assert members(result, "shop_web_8080") == {Member("10.0.0.1", 30080), Member("10.0.0.2", 30080)}
    assert members(result, "shop_web_9090") == {Member("10.0.0.1", 30090), Member("10.0.0.2", 30090)}
    assert result.problems == ()


def test_the_virtual_fronts_the_first_port_at_the_vip_address():
    virtual = desired(web()).state.virtuals[("Common", "shop_web")]
    assert (virtual.address, virtual.port, virtual.pool) == ("192.0.2.10", 80, "shop_web_8080")
    assert virtual.destination == "/Common/192.0.2.10:80"


def test_not_ready_cordoned_and_addressless_nodes_are_left_out():
    nodes = (
        NodeInfo("ready", "10.0.0.1", ready=True),
        NodeInfo("not-ready", "10.0.0.2", ready=False),
        NodeInfo("cordoned", "10.0.0.3", ready=True, unschedulable=True),
        NodeInfo("no-ip", None, ready=True),
    )
    assert members(desired(web(), nodes=nodes), "shop_web_8080") == {Member("10.0.0.1", 30080)}


def test_services_without_the_expose_label_are_ignored():
    assert desired(web(labels={})).state.pools == {}
    assert desired(web(labels={contract.EXPOSE_LABEL: "false"})).state.virtuals == {}


def test_service_port_annotation_selects_one_port_by_name_or_number():
    by_name = desired(web({contract.SERVICE_PORT_ANNOTATION: "metrics"}))
    by_number = desired(web({contract.SERVICE_PORT_ANNOTATION: "9090"}))
    for result in (by_name, by_number):
        assert set(result.state.pools) == {("Common", "shop_web_9090")}
        assert result.state.virtuals[("Common", "shop_web")].pool == "shop_web_9090"


def test_partition_annotation_overrides_the_default_partition():
    result = desired(web({contract.PARTITION_ANNOTATION: "Tenant"}))
    assert ("Tenant", "shop_web_8080") in result.state.pools
    assert result.state.virtuals[("Tenant", "shop_web")].destination == "/Tenant/192.0.2.10:80"


def test_cluster_mode_uses_ready_pod_addresses_and_the_slice_target_port():
    slices = (
        EndpointSliceInfo(
            "shop", "web-a", "web", (SlicePort(8000, "http"), SlicePort(9000, "metrics")), ("172.16.0.1", "172.16.0.2")
        ),
        EndpointSliceInfo("shop", "web-b", "web", (SlicePort(8000, "http"),), ("172.16.0.3",)),
        EndpointSliceInfo("shop", "other", "other", (SlicePort(8000, "http"),), ("172.16.9.9",)),
    )
    result = desired(web({contract.MODE_ANNOTATION: contract.MODE_CLUSTER}), slices=slices)
    assert members(result, "shop_web_8080") == {
        Member("172.16.0.1", 8000),
        Member("172.16.0.2", 8000),
        Member("172.16.0.3", 8000),
    }
    assert members(result, "shop_web_9090") == {Member("172.16.0.1", 9000), Member("172.16.0.2", 9000)}


def test_cluster_mode_matches_the_unnamed_port_of_a_single_port_service():
    service = ServiceInfo(
        "shop",
        "api",
        EXPOSED,
        {contract.VIP_PORT_ANNOTATION: "81", contract.MODE_ANNOTATION: "cluster"},
        (ServicePort(80),),
    )
    slices = (EndpointSliceInfo("shop", "api-x", "api", (SlicePort(8080, ""),), ("172.16.0.7",)),)
    assert members(desired(service, slices=slices), "shop_api_80") == {Member("172.16.0.7", 8080)}


def test_ipv6_members_and_destinations_use_a_dot_before_the_port():
    assert Member("fd00::1", 30080).name == "fd00::1.30080"
    assert Member("10.0.0.1", 30080).name == "10.0.0.1:30080"


def test_bad_annotations_are_reported_and_the_service_is_skipped():
    cases = {
        "missing vip port": web({contract.VIP_PORT_ANNOTATION: ""}),
        "unknown mode": web({contract.MODE_ANNOTATION: "magic"}),
        "unknown port": web({contract.SERVICE_PORT_ANNOTATION: "grpc"}),
        "no node port": ServiceInfo("shop", "web", EXPOSED, {contract.VIP_PORT_ANNOTATION: "80"}, (ServicePort(80),)),
    }
    for case, service in cases.items():
        result = desired(service)
        assert result.state.pools == {}, case
        assert len(result.problems) == 1 and "shop/web" in result.problems[0], case
