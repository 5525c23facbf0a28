"""JSON-lines logging: one object per line, the message is the event name, `extra={"fields": {...}}` the data."""

import json
import logging
import sys
from datetime import UTC, datetime


class JsonLinesFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(stream=sys.stdout, level: int = logging.INFO) -> None:
    """Send the controller's events to `stream` as JSON lines."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLinesFormatter())
    logger = logging.getLogger("envbuilder.f5sync")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
