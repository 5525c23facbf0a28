"""The catalog services that run in the cluster: ConfigMap, Deployment and Service each."""

from f5sync import contract
from envbuilder.desired.broker import AMQP_URL_KEY, BROKER_SECRET
from envbuilder.desired.meta import (
    CODE_RESET_ANNOTATION,
    pod_image,
    CONFIG_HASH_ANNOTATION,
    Object,
    config_hash,
    http_probe,
    metadata,
    secret_path,
    secret_volume,
    secrets_mount,
    pod_service,
    workload,
)
from envbuilder.spec.environment import EnvironmentSpec, ServiceSpec

# Every service reads its broker URL from the file this variable names (the sample services' `secret_setting`).
AMQP_URL_FILE_VARIABLE = "AMQP_URL_FILE"
AMQP_URL_FILE = "amqp-url"


def service_settings(spec: EnvironmentSpec, service: ServiceSpec) -> dict[str, str]:
    """The service's ConfigMap: catalog defaults < profile < --set, plus what every service is told."""
    return {
        **service.config,
        "SERVICE_NAME": service.name,
        "ENVIRONMENT": spec.name,
        "REVISION": service.revision,
        "PORT": str(service.entry.port),
    }


def config_map_name(service: ServiceSpec) -> str:
    return f"{service.name}-config"


def service_objects(spec: EnvironmentSpec, service: ServiceSpec) -> list[Object]:
    settings = service_settings(spec, service)
    container: dict = {
        "name": service.name,
        "image": pod_image(service.image, spec.target),
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": service.entry.port}],
        "envFrom": [{"configMapRef": {"name": config_map_name(service)}}],
        "readinessProbe": http_probe(service.entry.health_path, "http"),
        "livenessProbe": http_probe(service.entry.health_path, "http", period=10, failures=6),
        "resources": {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
    }
    pod: dict = {"containers": [container], "terminationGracePeriodSeconds": 30}
    annotations = {CONFIG_HASH_ANNOTATION: config_hash(settings)}
    if spec.code_resets.get(service.name):
        annotations[CODE_RESET_ANNOTATION] = str(spec.code_resets[service.name])
    if service.entry.needs_broker:
        container["env"] = [{"name": AMQP_URL_FILE_VARIABLE, "value": secret_path(AMQP_URL_FILE)}]
        container["volumeMounts"] = [secrets_mount()]
        pod["volumes"] = [secret_volume(BROKER_SECRET, {AMQP_URL_KEY: AMQP_URL_FILE})]
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata(spec, config_map_name(service), service.name),
            "data": settings,
        },
        workload(
            spec,
            service.name,
            pod,
            replicas=service.replicas,
            pod_annotations=annotations,
        ),
        kubernetes_service(spec, service),
    ]


def kubernetes_service(spec: EnvironmentSpec, service: ServiceSpec) -> Object:
    ports = [{"name": "http", "port": service.entry.port, "targetPort": "http"}]
    expose = service.entry.expose
    if not expose:
        return pod_service(spec, service.name, service.name, ports)
    # NodePort: the F5 sends traffic to the nodes, and kube-proxy takes it to a pod.
    exposed = pod_service(spec, service.name, service.name, ports,
                          type="NodePort" if expose.mode == "nodeport" else "ClusterIP")
    exposed["metadata"]["labels"][contract.EXPOSE_LABEL] = contract.EXPOSE_LABEL_VALUE
    exposed["metadata"]["annotations"].update({
        contract.VIP_PORT_ANNOTATION: str(expose.vip_port),
        contract.PARTITION_ANNOTATION: expose.partition,
        contract.MODE_ANNOTATION: expose.mode,
    })
    return exposed
