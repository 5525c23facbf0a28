"""JUnit XML as CI servers read it: one testsuite per run, one testcase per check; verify's F5 convergence
figures as the suite's properties (`f5-convergence.<change>.<figure>`, seconds from the change's start, and
the F5's own part after the pods)."""

import socket
import xml.etree.ElementTree as ET

from envbuilder.reports.model import SmokeRun
from envbuilder.smoke.result import CheckStatus, Convergence


def junit_xml(run: SmokeRun) -> str:
    suites = ET.Element("testsuites", name="envbuilder smoke")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=f"smoke {run.environment}",
        tests=str(len(run.checks)),
        failures=str(run.count(CheckStatus.FAILED)),
        errors="0",
        skipped=str(run.count(CheckStatus.SKIPPED)),
        time=f"{run.duration_seconds:.3f}",
        timestamp=run.started_at.isoformat(timespec="seconds"),
        hostname=socket.gethostname(),
    )
    if run.convergence:
        properties = ET.SubElement(suite, "properties")
        for name, value in convergence_properties(run.convergence).items():
            ET.SubElement(properties, "property", name=name, value=value)
    for check in run.checks:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"smoke.{run.environment}",
            name=check.name,
            time=f"{check.duration_seconds:.3f}",
        )
        if check.status is CheckStatus.FAILED:
            failure = ET.SubElement(case, "failure", message=check.summary, type="CheckFailed")
            failure.text = check.diagnosis or check.summary
        elif check.status is CheckStatus.SKIPPED:
            ET.SubElement(case, "skipped", message=check.summary)
        else:
            ET.SubElement(case, "system-out").text = check.summary
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def convergence_properties(measured: tuple[Convergence, ...]) -> dict[str, str]:
    """Each change's figures, in seconds; a figure not measured is left out and the change's note says why."""
    properties = {}
    for result in measured:
        prefix = f"f5-convergence.{result.operation.replace(' ', '-')}"
        properties[f"{prefix}.service"] = result.service
        properties[f"{prefix}.pods"] = str(result.pods)
        figures = {
            "pods-seconds": result.pods_seconds,
            "pool-seconds": result.pool_seconds,
            "vip-seconds": result.vip_seconds,
            "pool-after-pods-seconds": result.after_pods(result.pool_seconds),
            "vip-after-pods-seconds": result.after_pods(result.vip_seconds),
        }
        properties |= {f"{prefix}.{name}": f"{value:.3f}" for name, value in figures.items() if value is not None}
        if result.note:
            properties[f"{prefix}.note"] = result.note
    return properties
