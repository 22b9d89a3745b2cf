"""Logging for the command: NanoMQ's level names, text or JSON lines, the access log on or off."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Literal

from nanoadmin.settings import LOG_LEVELS

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
TRACE = LOG_LEVELS["trace"]
# Lines every operator needs, whatever the level: where the server listens, that it stopped.
BANNER = logging.getLogger("nanoadmin.banner")
ACCESS = logging.getLogger("nanoadmin.access")
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, and an access line's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "access", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, fmt: LogFormat = "text", *, access_log: bool = True) -> None:
    """Log to stderr at ``level`` (one of LOG_LEVELS); the banner shows at any level."""
    logging.addLevelName(TRACE, "TRACE")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(_TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    set_level(level)
    BANNER.setLevel(logging.INFO)
    ACCESS.disabled = not access_log


def set_level(level: str) -> None:
    logging.getLogger().setLevel(LOG_LEVELS[level])
