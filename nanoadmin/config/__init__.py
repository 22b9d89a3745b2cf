"""Config file loaders: each format is parsed into one plain tree of NanoMQ's HOCON shape."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from nanoadmin.config.errors import ConfigError
from nanoadmin.config.files import MAX_CONFIG_BYTES, read_text_file
from nanoadmin.config.hocon import Confinement, parse_hocon
from nanoadmin.config.kv import load_kv, looks_like_kv
from nanoadmin.config.toml import load_toml

ConfigFormat = Literal["hocon", "kv", "toml"]
# What no config text holds: C0 controls other than tab, line feed and carriage return.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
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


def load_tree(
    path: Path, *, force_kv: bool = False, included: list[Path] | None = None
) -> tuple[ConfigFormat, Tree]:
    """Read ``path`` and return its format and plain tree; ConfigError on any failure.
    ``included`` gets every file the config included."""
    try:
        text = read_text_file(path, max_bytes=MAX_CONFIG_BYTES, what="config file")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    fmt: ConfigFormat = "kv" if force_kv else detect_format(path, text)
    return fmt, parse_text(text, fmt, path=path, source=str(path), included=included)


def parse_text(
    text: str,
    fmt: ConfigFormat,
    *,
    path: Path,
    source: str,
    confined_to: Confinement = None,
    included: list[Path] | None = None,
) -> Tree:
    """``text`` in ``fmt`` as a plain tree: includes resolve beside ``path``, messages name
    ``source``; ConfigError on any failure, and for text that holds no settings at all (a
    server would then run on every default, the default password included).

    ``confined_to``: the folders includes may come from (text posted through the API).
    """
    control = _CONTROL_CHARACTER.search(text)
    if control is not None:
        line = text.count("\n", 0, control.start()) + 1
        raise ConfigError(
            f"{source}:{line}: holds the control character {control.group()!r}; expected text"
        )
    if fmt == "kv":
        tree = load_kv(Path(source), text)
    elif fmt == "toml":
        tree = load_toml(Path(source), text)
    else:
        tree = parse_hocon(
            text, basedir=path.parent, source=source, confined_to=confined_to, included=included
        )
    if not tree:
        raise ConfigError(f"{source}: holds no settings; expected at least an http_server block")
    return tree
