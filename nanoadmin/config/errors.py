"""The one error a config problem raises, and how it finds the line of a key."""

from __future__ import annotations

import re
from pathlib import Path


class ConfigError(Exception):
    """A config file, variable or flag that nanoadmin refuses; the message is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))

    @property
    def message(self) -> str:
        return str(self.args[0])


def key_location(path: Path | None, dotted_key: str) -> str:
    """``file:line`` for the last line that sets ``dotted_key``'s last part, else the file name."""
    if path is None:
        return "<defaults>"
    from nanoadmin.config.files import MAX_CONFIG_BYTES, read_text_file

    try:
        text = read_text_file(path, max_bytes=MAX_CONFIG_BYTES)
    except (OSError, ConfigError):
        return str(path)
    lines = text.splitlines()
    # The full dotted key first (KV files, dotted HOCON), then its last part inside a block.
    for key in (dotted_key, dotted_key.rsplit(".", 1)[-1]):
        pattern = re.compile(r"^\s*(?:[\w.\"-]*\.)?\"?" + re.escape(key) + r"\"?\s*[=:{\[]")
        matches = [n for n, line in enumerate(lines, start=1) if pattern.match(line)]
        if matches:
            return f"{path}:{matches[-1]}"
    return str(path)
