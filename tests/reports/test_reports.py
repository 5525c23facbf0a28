import xml.etree.ElementTree as ET

from envbuilder.reports import HTML_FILE, JSON_FILE, JUNIT_FILE, write_reports
from envbuilder.reports.html_page import html_report
from envbuilder.reports.json_report import run_from_json, run_to_json
from envbuilder.reports.junit import junit_xml
from envbuilder.reports.model import Phase, PhaseStatus
from envbuilder.state.records import PhaseRecord
from tests.reports.sample import T0, at, sample_run, verify_run


def test_junit_has_one_testsuite_per_run_and_one_testcase_per_check_counted_right():
    root = ET.fromstring(junit_xml(sample_run()))
    [suite] = root.findall("testsuite")
    assert {key: suite.get(key) for key in ("name", "tests", "failures", "errors", "skipped", "time")} == {
        "name": "smoke demo",
        "tests": "5",
        "failures": "1",
        "errors": "0",
        "skipped": "1",
        "time": "9.000",
    }
    cases = suite.findall("testcase")
    assert [case.get("name") for case in cases] == [
        "nodes-ready",
        "network-agents",
        "pod-network",
        "f5-pool:web",
        "broker-round-trip",
    ]
    assert cases[2].get("time") == "6.500"


def test_junit_failures_carry_the_summary_and_the_full_diagnosis():
    suite = ET.fromstring(junit_xml(sample_run())).find("testsuite")
    failure = suite.find("testcase[@name='f5-pool:web']/failure")
    assert failure.get("message").endswith("missing 172.18.0.3:30080")
    assert (
        failure.text
        == "the pool as it stands:\n  172.18.0.2:30080  state=up session=monitor-enabled\n<f5-sync> log: 401 & retry"
    )
    assert suite.find("testcase[@name='broker-round-trip']/skipped").get("message") == "no service needs the broker"


def test_json_round_trips_to_an_equal_run():
    run = sample_run()
    assert run_from_json(run_to_json(run)) == run


def test_html_is_self_contained_with_a_timeline_bar_per_phase_and_per_check():
    page = html_report(sample_run())
    assert "<link" not in page and "<script" not in page and "src=" not in page
    phases_svg, checks_svg = page.split("<svg")[1:]
    assert phases_svg.count("<rect") == 7 and checks_svg.count("<rect") == 5
    assert "images: passed, starts at 80.0 s, lasts 45.0 s" in phases_svg
    assert "&lt;f5-sync&gt; log: 401 &amp; retry" in page, "diagnoses are escaped"


def test_html_says_when_no_phases_were_recorded():
    run = sample_run()
    page = html_report(type(run)(run.environment, run.started_at, run.finished_at, run.checks))
    assert "No phases recorded for this run." in page
    assert page.count("<svg") == 1


def test_an_interrupted_phase_from_the_record_is_drawn_as_an_instant():
    phase = Phase.from_record(PhaseRecord(name="images", started_at=at(80)))
    assert (phase.status, phase.duration_seconds) == (PhaseStatus.RUNNING, 0.0)
    assert (
        Phase.from_record(PhaseRecord(name="cni", started_at=T0, finished_at=at(33), status="passed")).duration_seconds
        == 33
    )


def test_write_reports_writes_the_three_files(tmp_path):
    paths = write_reports(tmp_path / "reports", sample_run())
    assert [path.name for path in paths] == [JUNIT_FILE, JSON_FILE, HTML_FILE]
    assert all(path.stat().st_size > 0 for path in paths)


def test_junit_carries_each_changes_convergence_figures_as_suite_properties():
    suite = ET.fromstring(junit_xml(verify_run())).find("testsuite")
    assert [child.tag for child in suite][0] == "properties", "properties come before the test cases"
    properties = {prop.get("name"): prop.get("value") for prop in suite.iter("property")}
    assert {name: value for name, value in properties.items() if name.startswith("f5-convergence.scale-up.")} == {
        "f5-convergence.scale-up.service": "web-direct",
        "f5-convergence.scale-up.pods": "3",
        "f5-convergence.scale-up.pods-seconds": "11.200",
        "f5-convergence.scale-up.pool-seconds": "11.350",
        "f5-convergence.scale-up.vip-seconds": "11.500",
        "f5-convergence.scale-up.pool-after-pods-seconds": "0.150",
        "f5-convergence.scale-up.vip-after-pods-seconds": "0.300",
    }
    # The pool seen current in the same round of samples as the pods: the F5's part is 0, never negative.
    assert properties["f5-convergence.scale-down.pool-after-pods-seconds"] == "0.000"
    assert "f5-convergence.rolling-update.pool-seconds" not in properties
    assert properties["f5-convergence.rolling-update.note"] == "the pool and the VIP did not follow within 60 s"


def test_a_smoke_run_without_convergence_figures_has_no_properties_and_no_section():
    assert ET.fromstring(junit_xml(sample_run())).find("testsuite/properties") is None
    assert "F5 convergence" not in html_report(sample_run())


def test_json_round_trips_the_convergence_figures():
    run = verify_run()
    assert run_from_json(run_to_json(run)) == run


def test_html_has_an_f5_convergence_section_with_a_row_per_change():
    page = html_report(verify_run())
    section = page.split("<h2>F5 convergence</h2>")[1].split("<h2>")[0]
    rows = section.split("<tr>")[2:]
    assert [row.split("</td>")[0].rsplit(">", 1)[1] for row in rows] == ["scale up", "scale down", "rolling update"]
    assert all(f"{figure} s" in rows[0] for figure in ("11.20", "11.35", "11.50", "0.15", "0.30"))
    assert rows[2].count("not within the deadline") == 4 and "did not follow within 60 s" in rows[2]
