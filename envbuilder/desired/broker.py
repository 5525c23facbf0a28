"""RabbitMQ for environments whose services need the broker."""

from urllib.parse import quote

from envbuilder.desired.meta import Object, metadata, secret, selector, workload
from envbuilder.spec.environment import EnvironmentSpec

BROKER = "broker"
BROKER_SECRET = "broker-credentials"
BROKER_USER = "envbuilder"
AMQP_PORT = 5672
MANAGEMENT_PORT = 15672
# Fixed inside each kind cluster (one environment per cluster); kind maps it to a host port.
BROKER_NODE_PORT = 30672


def amqp_url(host: str, port: int, password: str) -> str:
    return f"amqp://{BROKER_USER}:{quote(password, safe='')}@{host}:{port}/%2F"


def broker_secret(spec: EnvironmentSpec, password: str) -> Object:
    """The only place the broker password lives in the cluster (never a ConfigMap)."""
    return secret(
        spec,
        BROKER_SECRET,
        BROKER,
        {
            "RABBITMQ_DEFAULT_USER": BROKER_USER,
            "RABBITMQ_DEFAULT_PASS": password,
            "AMQP_URL": amqp_url(f"{BROKER}.{spec.namespace}.svc", AMQP_PORT, password),
        },
    )


def broker_objects(spec: EnvironmentSpec) -> list[Object]:
    def from_secret(key: str) -> dict:
        return {"name": key, "valueFrom": {"secretKeyRef": {"name": BROKER_SECRET, "key": key}}}

    container = {
        "name": "rabbitmq",
        "image": spec.profile.broker.image,
        "ports": [
            {"name": "amqp", "containerPort": AMQP_PORT},
            {"name": "management", "containerPort": MANAGEMENT_PORT},
        ],
        "env": [from_secret("RABBITMQ_DEFAULT_USER"), from_secret("RABBITMQ_DEFAULT_PASS")],
        "readinessProbe": {
            "exec": {"command": ["rabbitmq-diagnostics", "-q", "check_port_connectivity"]},
            "initialDelaySeconds": 5,
            "periodSeconds": 10,
            "timeoutSeconds": 10,
        },
        "livenessProbe": {
            "exec": {"command": ["rabbitmq-diagnostics", "-q", "status"]},
            "initialDelaySeconds": 60,
            "periodSeconds": 30,
            "timeoutSeconds": 15,
        },
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/rabbitmq"}],
    }
    ports = [
        {"name": "amqp", "port": AMQP_PORT, "targetPort": "amqp"},
        {"name": "management", "port": MANAGEMENT_PORT, "targetPort": "management"},
    ]
    return [
        workload(
            spec,
            BROKER,
            {"containers": [container], "volumes": [{"name": "data", "emptyDir": {}}], "terminationGracePeriodSeconds": 30},
            kind="StatefulSet",
            serviceName=BROKER,
        ),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata(spec, BROKER, BROKER),
            "spec": {"selector": selector(BROKER), "ports": ports},
        },
        {
            # Reached by classic services (outside the cluster) and by the host's smoke checks.
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata(spec, f"{BROKER}-nodeport", BROKER),
            "spec": {
                "type": "NodePort",
                "selector": selector(BROKER),
                "ports": [{"name": "amqp", "port": AMQP_PORT, "targetPort": "amqp", "nodePort": BROKER_NODE_PORT}],
            },
        },
    ]
