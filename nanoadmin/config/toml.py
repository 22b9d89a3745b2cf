"""TOML configs: the same tree as HOCON, written in TOML."""

from __future__ import annotations

import tomllib
from pathlib import Path

from nanoadmin.config.errors import ConfigError


def load_toml(path: Path, text: str) -> dict[str, object]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        where = f"{path}:{line}" if line else str(path)
        reason = getattr(exc, "msg", str(exc))
        raise ConfigError(f"{where}: syntax error: {reason}") from None
    except ValueError:  # tomllib's int() refuses more than 4300 digits
        raise ConfigError(f"{path}: a number too long to read (over 4300 digits)") from None
    except RecursionError:
        raise ConfigError(f"{path}: arrays or tables nested too deep to read") from None
