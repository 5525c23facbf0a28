"""Reports of a smoke run: JUnit XML for CI, JSON for tools, one self-contained HTML page for people."""

from pathlib import Path

from envbuilder.reports.html_page import html_report
from envbuilder.reports.json_report import run_to_json
from envbuilder.reports.junit import junit_xml
from envbuilder.reports.model import SmokeRun

JUNIT_FILE = "smoke-junit.xml"
JSON_FILE = "smoke.json"
HTML_FILE = "smoke.html"


def write_reports(report_dir: Path, run: SmokeRun) -> list[Path]:
    report_dir.mkdir(parents=True, exist_ok=True)
    contents = {JUNIT_FILE: junit_xml(run), JSON_FILE: run_to_json(run), HTML_FILE: html_report(run)}
    paths = []
    for name, text in contents.items():
        path = report_dir / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
