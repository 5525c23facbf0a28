"""RabbitMQ for environments whose services need the broker."""

from urllib.parse import quote

from envbuilder.desired.meta import (
    PROBE_FAILURES,
    READINESS_PERIOD_SECONDS,
    SECRETS_VOLUME,
    Object,
    pod_service,
    secret,
    secret_volume,
    workload,
)
from envbuilder.spec.environment import EnvironmentSpec

BROKER = "broker"
BROKER_SECRET = "broker-credentials"
BROKER_USER = "envbuilder"
# The broker Secret's keys. Each reaches a container as a file, never as an environment variable.
BROKER_PASSWORD_KEY = "password"  # for the smoke checks, which log in to the management API
AMQP_URL_KEY = "amqp-url"  # what services connect with
DEFAULT_USER_KEY = "default-user.conf"  # RabbitMQ's own configuration of its first user
# RabbitMQ (3.9 and later, Debian's 3.10 included) reads every file of conf.d after rabbitmq.conf.
DEFAULT_USER_CONF = "/etc/rabbitmq/conf.d/20-envbuilder-default-user.conf"
AMQP_PORT = 5672
MANAGEMENT_PORT = 15672
# Fixed inside each kind cluster (one environment per cluster); kind maps it to a host port.
BROKER_NODE_PORT = 30672


def amqp_url(host: str, port: int, password: str) -> str:
    return f"amqp://{BROKER_USER}:{quote(password, safe='')}@{host}:{port}/%2F"


def default_user_conf(password: str) -> str:
    """rabbitmq.conf lines that make our user the broker's first one (instead of guest).

    A value runs to the end of its line and '#' starts a comment; generated passwords
    (`secrets.token_urlsafe`) have neither spaces nor '#'."""
    return f"default_user = {BROKER_USER}\ndefault_pass = {password}\n"


def broker_secret(spec: EnvironmentSpec, password: str) -> Object:
    """The only place the broker password lives in the cluster (never a ConfigMap)."""
    return secret(
        spec,
        BROKER_SECRET,
        BROKER,
        {
            BROKER_PASSWORD_KEY: password,
            AMQP_URL_KEY: amqp_url(f"{BROKER}.{spec.namespace}.svc", AMQP_PORT, password),
            DEFAULT_USER_KEY: default_user_conf(password),
        },
    )


def broker_objects(spec: EnvironmentSpec) -> list[Object]:
    container = {
        "name": "rabbitmq",
        "image": spec.profile.broker.image,
        "ports": [
            {"name": "amqp", "containerPort": AMQP_PORT},
            {"name": "management", "containerPort": MANAGEMENT_PORT},
        ],
        # Ready once its AMQP listener accepts connections (what `rabbitmq-diagnostics check_port_connectivity`
        # checks), asked by the kubelet every READINESS_PERIOD_SECONDS: the diagnostics tool starts an
        # Erlang VM each time, too costly to ask that often.
        "readinessProbe": {
            "tcpSocket": {"port": "amqp"},
            "periodSeconds": READINESS_PERIOD_SECONDS,
            "failureThreshold": PROBE_FAILURES,
            "timeoutSeconds": 2,
        },
        "livenessProbe": {
            "exec": {"command": ["rabbitmq-diagnostics", "-q", "status"]},
            "initialDelaySeconds": 60,
            "periodSeconds": 30,
            "timeoutSeconds": 15,
        },
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        "volumeMounts": [
            {"name": "data", "mountPath": "/var/lib/rabbitmq"},
            # One file into conf.d: the image's own files there (the official image's defaults) stay.
            {"name": SECRETS_VOLUME, "mountPath": DEFAULT_USER_CONF, "subPath": DEFAULT_USER_KEY, "readOnly": True},
        ],
    }
    ports = [
        {"name": "amqp", "port": AMQP_PORT, "targetPort": "amqp"},
        {"name": "management", "port": MANAGEMENT_PORT, "targetPort": "management"},
    ]
    return [
        workload(
            spec,
            BROKER,
            {
                "containers": [container],
                "volumes": [
                    {"name": "data", "emptyDir": {}},
                    secret_volume(BROKER_SECRET, {DEFAULT_USER_KEY: DEFAULT_USER_KEY}),
                ],
                "terminationGracePeriodSeconds": 30,
            },
            kind="StatefulSet",
            serviceName=BROKER,
        ),
        pod_service(spec, BROKER, BROKER, ports),
        # Reached by classic services (outside the cluster) and by the host's smoke checks.
        pod_service(spec, f"{BROKER}-nodeport", BROKER,
                    [{"name": "amqp", "port": AMQP_PORT, "targetPort": "amqp", "nodePort": BROKER_NODE_PORT}],
                    type="NodePort"),
    ]
