"""JUnit XML as CI servers read it: one testsuite per run, one testcase per check."""

import socket
import xml.etree.ElementTree as ET

from envbuilder.reports.model import SmokeRun
from envbuilder.smoke.result import CheckStatus


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
