"""The evidence a failed check shows: pod state, events and last log lines, HTTP answers.

Gathering evidence never raises: a failure to read some of it is itself written into the evidence.
"""

from typing import Any

import httpx
import httpx2

from envbuilder.smoke.framework import CheckFailed
from envbuilder.smoke.kube import Kube

MAX_PODS = 4
EVENT_COUNT = 8
LOG_LINES = 15
# The API server fetches logs from the node's kubelet: on a sick node that can hang, and the
# evidence must not eat the check's deadline.
LOG_SECONDS = 3.0
BODY_CHARACTERS = 500
# The F5 and the VIPs answer through httpx, the API server through lightkube's httpx2.
HttpAnswer = httpx.Response | httpx2.Response


def http_answer(response: HttpAnswer) -> str:
    body = response.text.strip()
    if len(body) > BODY_CHARACTERS:
        body = body[:BODY_CHARACTERS] + " ..."
    return f"{response.request.method} {response.request.url} -> HTTP {response.status_code}\nbody: {body or '(empty)'}"


async def events_of(kube: Kube, namespace: str, kind: str, name: str) -> str:
    try:
        events = await kube.get(
            f"/api/v1/namespaces/{namespace}/events",
            fieldSelector=f"involvedObject.kind={kind},involvedObject.name={name}",
        )
    except CheckFailed as failure:
        return f"  (events unreadable: {failure.summary})"
    items = sorted(events.get("items", []), key=_event_time)[-EVENT_COUNT:]
    if not items:
        return "  (no events)"
    return "\n".join(
        f"  {_event_time(event)} {event.get('type', '')} {event.get('reason', '')}: {event.get('message', '').strip()}"
        + (f" (x{event['count']})" if event.get("count", 1) > 1 else "")
        for event in items
    )


def _event_time(event: dict[str, Any]) -> str:
    return (
        event.get("lastTimestamp") or event.get("eventTime") or event.get("metadata", {}).get("creationTimestamp") or ""
    )


async def pod_evidence(kube: Kube, namespace: str, pod: dict[str, Any]) -> str:
    """One pod: where it runs, why it is not ready, its events and its last log lines."""
    name = pod["metadata"]["name"]
    status = pod.get("status", {})
    lines = [
        f"pod {name} on {pod.get('spec', {}).get('nodeName') or '(unscheduled)'}: {status.get('phase', 'Unknown')}"
    ]
    for condition in status.get("conditions", []):
        if condition.get("status") != "True":
            detail = condition.get("message") or condition.get("reason") or ""
            lines.append(f"  condition {condition['type']}={condition.get('status')} {detail}".rstrip())
    for container in status.get("containerStatuses", []):
        state = container.get("state", {})
        for state_name, state_detail in state.items():
            if state_name != "running":
                reason = state_detail.get("reason", "")
                message = state_detail.get("message", "")
                exit_code = f" exit {state_detail['exitCode']}" if "exitCode" in state_detail else ""
                lines.append(f"  container {container['name']} {state_name}: {reason}{exit_code} {message}".rstrip())
        if container.get("restartCount"):
            lines.append(f"  container {container['name']} restarted {container['restartCount']} times")
    lines.append(" events:")
    lines.append(await events_of(kube, namespace, "Pod", name))
    for container in pod.get("spec", {}).get("containers", []):
        lines.append(f" last log lines of {container['name']}:")
        lines.append(await _log_tail(kube, namespace, name, container["name"]))
    return "\n".join(lines)


async def _log_tail(kube: Kube, namespace: str, pod: str, container: str) -> str:
    try:
        log = await kube.text(
            f"/api/v1/namespaces/{namespace}/pods/{pod}/log", LOG_SECONDS, container=container, tailLines=LOG_LINES
        )
    except CheckFailed as failure:
        return f"  (log unreadable: {failure.summary}: {failure.diagnosis})"
    return "\n".join(f"  | {line}" for line in log.rstrip().splitlines()) or "  (empty log)"


async def pods_evidence(kube: Kube, namespace: str, selector: str) -> str:
    """The pods matching `selector`, not-ready ones first; at most a few, so reports stay readable."""
    try:
        pods = (await kube.get(f"/api/v1/namespaces/{namespace}/pods", labelSelector=selector))["items"]
    except CheckFailed as failure:
        return f"pods {selector} in {namespace} unreadable: {failure.summary}"
    if not pods:
        return f"no pods match {selector} in namespace {namespace}"
    pods.sort(key=pod_ready)
    shown = [await pod_evidence(kube, namespace, pod) for pod in pods[:MAX_PODS]]
    if len(pods) > MAX_PODS:
        shown.append(f"... and {len(pods) - MAX_PODS} more pods")
    return "\n".join(shown)


async def service_pods_evidence(kube: Kube, namespace: str, service: str) -> str:
    """The pods behind a Service, found through its selector."""
    try:
        spec = (await kube.get(f"/api/v1/namespaces/{namespace}/services/{service}"))["spec"]
    except CheckFailed as failure:
        return f"service {service}: {failure.summary}"
    selector = ",".join(f"{key}={value}" for key, value in (spec.get("selector") or {}).items())
    if not selector:
        return f"service {service} has no selector"
    return await pods_evidence(kube, namespace, selector)


def pod_ready(pod: dict[str, Any]) -> bool:
    return any(
        condition.get("type") == "Ready" and condition.get("status") == "True"
        for condition in pod.get("status", {}).get("conditions", [])
    )
