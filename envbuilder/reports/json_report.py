"""The run as JSON, and back: the same dataclasses, validated on the way in."""

from pydantic import TypeAdapter

from envbuilder.reports.model import SmokeRun

_RUN = TypeAdapter(SmokeRun)


def run_to_json(run: SmokeRun) -> str:
    return _RUN.dump_json(run, indent=2).decode()


def run_from_json(text: str) -> SmokeRun:
    return _RUN.validate_json(text)
