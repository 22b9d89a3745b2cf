"""Config file loaders: each format is parsed into one plain tree of NanoMQ's HOCON shape."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from nanoadmin.config.errors import ConfigError
from nanoadmin.config.hocon import parse_hocon
from nanoadmin.config.kv import load_kv, looks_like_kv
from nanoadmin.config.toml import load_toml

ConfigFormat = Literal["hocon", "kv", "toml"]
Tree = dict[str, object]

__all__ = (
    "ConfigError",
    "ConfigFormat",
    "Tree",
    "detect_format",
    "load_tree",
    "parse_hocon",
    "parse_text",
)


def detect_format(path: Path, text: str) -> ConfigFormat:
    """Tell the format from the extension first, then from the content."""
    if path.suffix.lower() == ".toml":
        return "toml"
    if looks_like_kv(text):
        return "kv"
    return "hocon"


def load_tree(path: Path, *, force_kv: bool = False) -> tuple[ConfigFormat, Tree]:
    """Read ``path`` and return its format and plain tree; ConfigError on any failure."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None
    fmt: ConfigFormat = "kv" if force_kv else detect_format(path, text)
    return fmt, parse_text(text, fmt, path=path, source=str(path))


def parse_text(text: str, fmt: ConfigFormat, *, path: Path, source: str) -> Tree:
    """``text`` in ``fmt`` as a plain tree: includes resolve beside ``path``, messages name
    ``source``; ConfigError on any failure."""
    if fmt == "kv":
        return load_kv(Path(source), text)
    if fmt == "toml":
        return load_toml(Path(source), text)
    return parse_hocon(text, basedir=path.parent, source=source)
