"""The environment's own Docker network never sits on the pod network.

Docker hands out its default address pools in turn and does not soon reuse a freed one, so on a
machine that has made a few dozen networks it offers 192.168.0.0/16, the pods' range. The network
provider therefore gives the environment's network a subnet of its own. Against the real Docker
engine, on test-only names, with the provider as the engine calls it."""

import ipaddress
import secrets

import pytest

from envbuilder.cluster.docker import Docker
from envbuilder.engine.resources import _free_subnet, _NetworkProvider

POD_SUBNET = "192.168.0.0/16"


def test_the_subnet_chosen_overlaps_no_network_and_not_the_pods():
    chosen = ipaddress.ip_network(_free_subnet(["172.16.0.0/24", "172.17.0.0/16", "10.0.0.0/8"], POD_SUBNET))
    assert chosen == ipaddress.ip_network("172.16.1.0/24")
    assert not chosen.overlaps(ipaddress.ip_network(POD_SUBNET))


@pytest.mark.docker
def test_a_network_made_after_docker_has_walked_into_the_pod_range_is_still_outside_it():
    docker = Docker()
    name = f"envbuilder-test-net-{secrets.token_hex(4)}"
    labels = {"envbuilder.io/environment": "network-test", "envbuilder.io/owner": "home-under-test"}
    provider = _NetworkProvider()
    props = {"name": name, "labels": labels, "pod_subnet": POD_SUBNET, "docker": "docker"}
    try:
        created = provider.create(props)
        [subnet] = created.outs["subnets"]
        assert docker.network_subnets(name) == [subnet]
        assert not ipaddress.ip_network(subnet).overlaps(ipaddress.ip_network(POD_SUBNET))
        assert provider.create(props).outs["subnets"] == [subnet]  # an interrupted run's network is kept
    finally:
        provider.delete(name, props)
    assert docker.labels("network", name) is None
