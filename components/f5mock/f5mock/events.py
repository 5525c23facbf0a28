"""Structured events: one JSON object per line on the `envbuilder.f5mock` logger."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

logger = logging.getLogger("envbuilder.f5mock")


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    if logger.isEnabledFor(level):
        record = {"ts": round(time.time(), 3), "event": event, **fields}
        logger.log(level, json.dumps(record, default=str, separators=(",", ":")))


def log_to_stderr(level: int = logging.INFO) -> None:
    """JSON lines on stderr, as the CLI and the container emit them."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
