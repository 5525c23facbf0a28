"""The F5 side of an environment: how f5-sync reaches the F5, and f5-sync itself.

f5-sync may read services, endpointslices and nodes, and nothing else: a Role for the two
namespaced kinds in the environment's namespace, a ClusterRole for nodes only.
"""

from f5mock import contract as f5mock
from f5sync import contract
from envbuilder.desired.meta import (
    pod_image,
    Object,
    http_probe,
    metadata,
    secret,
    secret_path,
    secret_volume,
    secrets_mount,
    pod_service,
    workload,
)
from envbuilder.naming import f5_sync_nodes_role
from envbuilder.spec.catalog import F5_API_PORT
from envbuilder.spec.environment import EnvironmentSpec

F5 = "f5"
F5_SYNC = "f5-sync"
F5_MOCK = "f5-mock"
F5_SECRET = "f5-credentials"
F5_USERNAME = "admin"
F5_PASSWORD_FILE = "f5-password"  # the file, in every container that needs it, under meta.SECRETS_DIR
F5_PARTITION = "Common"
F5_VIP_ADDRESS = "0.0.0.0"  # the mock's virtual servers listen on every address of its container
F5_SYNC_METRICS_PORT = contract.DEFAULT_HTTP_PORT
# The F5's AS when it learns pod routes over BGP: a private AS other than the pod network's own
# (kube-router's and Calico's default is 64512), so the nodes peer with it over eBGP.
F5_BGP_ASN = 64513


def f5_secret(spec: EnvironmentSpec, password: str) -> Object:
    return secret(spec, F5_SECRET, F5, {contract.F5_PASSWORD: password})


def f5_endpoint_objects(spec: EnvironmentSpec, f5_address: str | None) -> list[Object]:
    """A stable in-cluster name, `f5.<namespace>.svc`, for wherever the F5 runs.

    On kind the F5 is a container on the cluster's Docker network, outside the cluster like
    the appliance, so the Service has no selector and points at the container's address.
    On an existing cluster there is no such network, so the mock runs as a Deployment.
    """
    service_port = {"name": "https", "port": F5_API_PORT, "targetPort": F5_API_PORT}
    if spec.target == "kind":
        return [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": metadata(spec, F5, F5),
                "spec": {"ports": [service_port]},
            },
            {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": metadata(spec, F5, F5),
                "subsets": [
                    {
                        "addresses": [{"ip": f5_address or "0.0.0.0"}],
                        "ports": [{"name": "https", "port": F5_API_PORT}],
                    }
                ],
            },
        ]
    return [
        workload(
            spec,
            F5_MOCK,
            {
                "containers": [
                    {
                        "name": F5_MOCK,
                        "image": spec.component_image(F5_MOCK),
                        "ports": [{"name": "https", "containerPort": F5_API_PORT}],
                        "env": [
                            {"name": f5mock.USERNAME_VARIABLE, "value": F5_USERNAME},
                            {"name": f5mock.PASSWORD_FILE_VARIABLE, "value": secret_path(F5_PASSWORD_FILE)},
                        ],
                        "volumeMounts": [secrets_mount()],
                        "readinessProbe": http_probe("/health", F5_API_PORT, scheme="HTTPS"),
                    }
                ],
                "volumes": [f5_password_volume()],
            },
        ),
        pod_service(spec, F5, F5_MOCK, [service_port]),
    ]


def f5_password_volume() -> Object:
    return secret_volume(F5_SECRET, {contract.F5_PASSWORD: F5_PASSWORD_FILE})


def pod_routes(spec: EnvironmentSpec) -> str:
    """On kind the F5 is a container beside the nodes, and nothing routes it to the pod network:
    f5-sync writes the routes (from Calico's blocks or the nodes' podCIDRs, whichever the cluster
    has), unless the F5 learns them over BGP. In an existing cluster the mock runs as a pod and
    reaches pods as any pod does."""
    if spec.target == "kind" and spec.profile.f5_routes == "static":
        return contract.POD_ROUTES_AUTO
    return contract.POD_ROUTES_OFF


def f5_sync_settings(spec: EnvironmentSpec) -> dict[str, str]:
    """f5-sync's ConfigMap: everything but the password, which it reads from the Secret's file."""
    return {
        contract.F5_URL: f"https://{F5}.{spec.namespace}.svc:{F5_API_PORT}",
        contract.F5_USERNAME: F5_USERNAME,
        contract.F5_PASSWORD_FILE: secret_path(F5_PASSWORD_FILE),
        contract.F5_VERIFY_TLS: "false",
        contract.F5_PARTITION: F5_PARTITION,
        contract.F5_VIP_ADDRESS: F5_VIP_ADDRESS,
        contract.F5SYNC_NAMESPACE: spec.namespace,
        contract.F5SYNC_OWNER: spec.name,
        contract.F5SYNC_RESYNC_SECONDS: "30",
        contract.F5SYNC_LISTEN: f"0.0.0.0:{F5_SYNC_METRICS_PORT}",
        contract.F5SYNC_POD_ROUTES: pod_routes(spec),
    }


def f5_sync_objects(spec: EnvironmentSpec) -> list[Object]:
    nodes_role = f5_sync_nodes_role(spec.name)
    subject = [{"kind": "ServiceAccount", "name": F5_SYNC, "namespace": spec.namespace}]
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata(spec, F5_SYNC, F5_SYNC)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": metadata(spec, F5_SYNC, F5_SYNC),
            "rules": [dict(rule) for rule in contract.NAMESPACE_RULES],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": metadata(spec, F5_SYNC, F5_SYNC),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": F5_SYNC},
            "subjects": subject,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": metadata(spec, nodes_role, F5_SYNC, namespaced=False),
            "rules": [
                dict(rule)
                for rule in contract.CLUSTER_RULES
                + (contract.CALICO_RULES if pod_routes(spec) != contract.POD_ROUTES_OFF else ())
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": metadata(spec, nodes_role, F5_SYNC, namespaced=False),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": nodes_role},
            "subjects": subject,
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata(spec, F5_SYNC, F5_SYNC),
            "data": f5_sync_settings(spec),
        },
        workload(
            spec,
            F5_SYNC,
            {
                "serviceAccountName": F5_SYNC,
                "containers": [
                    {
                        "name": F5_SYNC,
                        "image": pod_image(spec.component_image(F5_SYNC), spec.target),
                        "envFrom": [{"configMapRef": {"name": F5_SYNC}}],
                        "volumeMounts": [secrets_mount()],
                        "ports": [{"name": "metrics", "containerPort": F5_SYNC_METRICS_PORT}],
                        "readinessProbe": http_probe("/healthz", "metrics"),
                        "livenessProbe": http_probe("/healthz", "metrics", period=10),
                        "resources": {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
                    }
                ],
                "volumes": [f5_password_volume()],
            },
        ),
    ]
