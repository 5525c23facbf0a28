"""URNs are read in one place: the type, the name, and the group a Kubernetes object belongs to."""

import pytest

from envbuilder.engine.urns import Urn


def test_a_group_object_names_its_type_and_its_group():
    urn = Urn.parse("urn:pulumi:dev::envbuilder::kubernetes:yaml/v2:ConfigGroup$kubernetes:apps/v1:Deployment"
                    "::services:env-dev/web")
    assert (urn.stack, urn.project, urn.type, urn.name) == ("dev", "envbuilder", "kubernetes:apps/v1:Deployment",
                                                            "services:env-dev/web")
    assert urn.is_child and urn.top_level_name == "services"


def test_a_top_level_resource_is_its_own_name_even_with_colons_in_it():
    urn = Urn.parse("urn:pulumi:dev::envbuilder::pulumi-python:dynamic:Resource::f5-container:odd::name")
    assert not urn.is_child and urn.top_level_name == urn.name == "f5-container:odd::name"


def test_anything_else_is_refused():
    with pytest.raises(ValueError, match="not a Pulumi URN"):
        Urn.parse("envbuilder-dev")
