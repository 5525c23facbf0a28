"""One self-contained HTML page: verdict, the timeline of `up`'s phases, the checks and their diagnoses, and
(verify) how long the F5 took to follow a scale and a roll.

No external assets (inline CSS and SVG), so the page works as a CI artifact opened from disk.
"""

import math
from dataclasses import dataclass
from datetime import datetime
from html import escape

from envbuilder.reports.model import SmokeRun
from envbuilder.smoke.result import CheckStatus, Convergence

COLOURS = {"passed": "#1a7f37", "failed": "#cf222e", "skipped": "#8c959f", "running": "#bf8700"}
LABEL_WIDTH = 190
PLOT_WIDTH = 760
ROW_HEIGHT = 26
AXIS_HEIGHT = 26

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1100px; color: #1f2328; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.meta { color: #59636e; }
.pill { display: inline-block; padding: 1px 10px; border-radius: 10px; color: #fff; font-weight: 600; font-size: 13px; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #d1d9e0; vertical-align: top; }
th { font-weight: 600; background: #f6f8fa; } td.num { text-align: right; } td.num, td.name { white-space: nowrap; }
pre { background: #f6f8fa; border: 1px solid #d1d9e0; border-radius: 6px; padding: 10px; overflow-x: auto; font-size: 12px; white-space: pre-wrap; }
details { margin: 8px 0; } summary { cursor: pointer; font-weight: 600; }
svg text { font: 12px system-ui, sans-serif; fill: #1f2328; } svg .axis { fill: #59636e; }
"""


@dataclass(frozen=True)
class Bar:
    label: str
    start_seconds: float
    duration_seconds: float
    status: str


def _pill(status: str) -> str:
    return f'<span class="pill" style="background:{COLOURS.get(status, "#59636e")}">{escape(status)}</span>'


def _tick_step(total: float) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about six ticks."""
    rough = total / 6
    magnitude = 10 ** math.floor(math.log10(rough))
    return next(step * magnitude for step in (1, 2, 5, 10) if step * magnitude >= rough)


def timeline_svg(bars: list[Bar], caption: str) -> str:
    total = max((bar.start_seconds + bar.duration_seconds for bar in bars), default=0.0) or 1.0
    scale = PLOT_WIDTH / total
    height = AXIS_HEIGHT + ROW_HEIGHT * len(bars) + 8
    width = LABEL_WIDTH + PLOT_WIDTH + 90
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(caption)}">'
        )
    ]
    step = _tick_step(total)
    tick = 0.0
    while tick <= total + 1e-9:
        x = LABEL_WIDTH + tick * scale
        parts.append(f'<line x1="{x:.1f}" y1="{AXIS_HEIGHT - 6}" x2="{x:.1f}" y2="{height - 4}" stroke="#e1e6eb"/>')
        parts.append(f'<text class="axis" x="{x:.1f}" y="{AXIS_HEIGHT - 10}" text-anchor="middle">{tick:g} s</text>')
        tick += step
    for row, bar in enumerate(bars):
        y = AXIS_HEIGHT + row * ROW_HEIGHT
        x = LABEL_WIDTH + bar.start_seconds * scale
        bar_width = max(bar.duration_seconds * scale, 2.0)
        colour = COLOURS.get(bar.status, "#59636e")
        parts.append(f'<text x="{LABEL_WIDTH - 10}" y="{y + 17}" text-anchor="end">{escape(bar.label)}</text>')
        parts.append(
            f'<rect x="{x:.1f}" y="{y + 5}" width="{bar_width:.1f}" height="16" rx="3" fill="{colour}">'
            f"<title>{escape(bar.label)}: {bar.status}, starts at {bar.start_seconds:.1f} s, "
            f"lasts {bar.duration_seconds:.1f} s</title></rect>"
        )
        parts.append(f'<text x="{x + bar_width + 6:.1f}" y="{y + 17}">{bar.duration_seconds:.1f} s</text>')
    parts.append("</svg>")
    return "".join(parts)


def _bars(items: list[tuple[str, datetime, datetime, str]]) -> list[Bar]:
    origin = min(started for _, started, _, _ in items)
    return [
        Bar(name, (started - origin).total_seconds(), (finished - started).total_seconds(), status)
        for name, started, finished, status in items
    ]


def _seconds(value: float | None) -> str:
    return "not within the deadline" if value is None else f"{value:.2f} s"


def convergence_section(measured: tuple[Convergence, ...]) -> str:
    """A table of the changes: when the pods, the F5 pool and the VIP showed each, and the F5's own part."""
    rows = "".join(
        f'<tr><td class="name">{escape(result.operation)}</td><td>{escape(result.service)}</td>'
        f'<td class="num">{result.pods}</td><td class="num">{_seconds(result.pods_seconds)}</td>'
        f'<td class="num">{_seconds(result.pool_seconds)}</td><td class="num">{_seconds(result.vip_seconds)}</td>'
        f'<td class="num">{_seconds(result.after_pods(result.pool_seconds))}</td>'
        f'<td class="num">{_seconds(result.after_pods(result.vip_seconds))}</td><td>{escape(result.note)}</td></tr>'
        for result in measured
    )
    return (
        "<h2>F5 convergence</h2>"
        '<p class="meta">Seconds from the start of each change (an engine run, as <code>envbuilder scale</code> '
        "makes) until the Service's ready endpoints are the new pods, the F5 pool's members are exactly those "
        "pods, and the VIP answers from them alone; then the F5's own part, after the pods.</p>"
        "<table><tr><th>change</th><th>service</th><th>pods</th><th>pods current</th><th>pool current</th>"
        "<th>VIP from the new pods</th><th>pool after the pods</th><th>VIP after the pods</th><th>note</th></tr>"
        f"{rows}</table>"
    )


def html_report(run: SmokeRun) -> str:
    verdict = "passed" if run.passed else "failed"
    counts = ", ".join(f"{run.count(status)} {status}" for status in CheckStatus)
    sections = [
        f"<h1>Smoke: {escape(run.environment)} {_pill(verdict)}</h1>",
        (
            f'<p class="meta">{escape(run.started_at.isoformat(timespec="seconds"))} · '
            f"{run.duration_seconds:.1f} s · {counts}</p>"
        ),
        "<h2>Timeline of <code>up</code></h2>",
    ]
    if run.phases:
        phases = [(phase.name, phase.started_at, phase.finished_at, phase.status.value) for phase in run.phases]
        sections.append(timeline_svg(_bars(phases), "phases of up"))
    else:
        sections.append('<p class="meta">No phases recorded for this run.</p>')
    sections.append("<h2>Checks</h2>")
    if run.checks:
        checks = [(check.name, check.started_at, check.finished_at, check.status.value) for check in run.checks]
        sections.append(timeline_svg(_bars(checks), "smoke checks, run concurrently"))
    rows = "".join(
        f'<tr><td>{_pill(check.status.value)}</td><td class="name">{escape(check.name)}</td>'
        f'<td class="num">{check.duration_seconds:.2f} s</td><td>{escape(check.summary)}</td></tr>'
        for check in run.checks
    )
    sections.append(f"<table><tr><th>status</th><th>check</th><th>time</th><th>summary</th></tr>{rows}</table>")
    if run.convergence:
        sections.append(convergence_section(run.convergence))
    failures = [check for check in run.checks if check.failed]
    if failures:
        sections.append("<h2>Why checks failed</h2>")
        sections += [
            f"<details open><summary>{escape(check.name)}: {escape(check.summary)}</summary>"
            f"<pre>{escape(check.diagnosis or '(no further evidence)')}</pre></details>"
            for check in failures
        ]
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Smoke {escape(run.environment)}: {verdict}</title><style>{_CSS}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )
