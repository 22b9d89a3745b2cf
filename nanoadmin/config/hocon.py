"""HOCON (nanomq.conf) through pyhocon, flattened to plain dicts, lists and scalars.

pyhocon would follow any include: a URL (``include "http://..."``, ``url(...)``, ``file://``),
a glob, a Python package, a FIFO or ``/dev/zero``, and it treats a file it cannot read as one
that is missing. While nanoadmin parses, its includes go through :class:`_Includes` instead:
local regular files only, read the way every file is read (``config/files.py``), at most
``MAX_INCLUDE_DEPTH`` deep, all of them together within ``MAX_CONFIG_BYTES``; a missing plain
include is skipped with a warning (as HOCON and NanoMQ do), anything else that goes wrong is
an error.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from pyhocon import ConfigFactory, ConfigParser, ConfigTree, config_parser
from pyhocon.exceptions import ConfigException
from pyparsing import ParseBaseException

from nanoadmin.config.errors import ConfigError
from nanoadmin.config.files import MAX_CONFIG_BYTES, FileProblem, read_text_file

logger = logging.getLogger("nanoadmin.config")

# NanoMQ's own parser stops at 10 levels of includes.
MAX_INCLUDE_DEPTH = 10
# How long a parse may wait for another one to finish before giving up.
PARSE_LOCK_TIMEOUT = 30.0
# Folders an include may come from; None: anywhere (a file the operator named).
Confinement = Sequence[Path] | None

# One parse at a time: pyhocon builds its grammar under a switch of pyparsing's process-wide
# default whitespace, and includes are redirected through pyhocon's module, so two threads
# parsing at once (config_update and a reload do it off the event loop) would break each other.
_PARSING = threading.Lock()


class _IncludeRefused(Exception):
    """Raised from inside pyhocon's include action; becomes a ConfigError once out of it."""


def is_within(path: Path, folders: Sequence[Path]) -> bool:
    """Whether ``path``, links resolved, lies in one of ``folders`` (each resolved)."""
    resolved = Path(os.path.realpath(path))
    return any(resolved.is_relative_to(os.path.realpath(folder)) for folder in folders)


class _Includes:
    """What one parse may include, and what it did."""

    def __init__(self, confined_to: Confinement) -> None:
        self.confined_to = confined_to
        self.remaining = MAX_CONFIG_BYTES
        self.depth = 0
        self.missing: list[str] = []
        self.read: list[Path] = []

    def parse_file(self, filename: str, required: bool) -> object:
        path = Path(filename)
        if self.depth >= MAX_INCLUDE_DEPTH:
            raise _IncludeRefused(f"includes nested more than {MAX_INCLUDE_DEPTH} deep")
        if self.confined_to is not None and not is_within(path, self.confined_to):
            raise _IncludeRefused(
                f"include {filename!r} is outside the folders this config may read from"
            )
        try:
            text = read_text_file(path, max_bytes=self.remaining, what="include")
        except FileNotFoundError:
            if required:
                raise _IncludeRefused(f"required include not found: {filename}") from None
            self.missing.append(filename)
            return []
        except FileProblem as problem:
            raise _IncludeRefused(problem.message) from None
        self.remaining -= len(text.encode("utf-8"))
        self.read.append(path)
        self.depth += 1
        try:
            return _LocalParser().parse(
                text, os.path.dirname(filename), False, config_parser.NO_SUBSTITUTION
            )
        finally:
            self.depth -= 1


class _LocalParser(ConfigParser):  # type: ignore[misc]
    @classmethod
    def resolve_package_path(cls, package_path: str) -> str:
        raise _IncludeRefused("include package(...) is refused; only local files may be included")


def _refused_glob(pattern: str, recursive: bool = False) -> list[str]:
    raise _IncludeRefused(f"include {pattern!r} has a wildcard; only plain file names are read")


@contextmanager
def _includes_through(includes: _Includes) -> Iterator[None]:
    """pyhocon's include action, for the duration of one parse, reads through ``includes``."""

    class LocalFiles(ConfigFactory):  # type: ignore[misc]
        @classmethod
        def parse_file(cls, filename: str, *args: Any, required: bool = True, **kw: Any) -> object:
            return includes.parse_file(filename, required)

        @classmethod
        def parse_URL(cls, url: str, *args: Any, **kw: Any) -> object:
            shown = url if len(url) <= 80 else url[:77] + "..."
            raise _IncludeRefused(f"include of {shown!r} is refused; only local files may be read")

    saved = config_parser.ConfigFactory, config_parser.glob
    config_parser.ConfigFactory, config_parser.glob = LocalFiles, _refused_glob
    try:
        yield
    finally:
        config_parser.ConfigFactory, config_parser.glob = saved


def plain(value: object) -> object:
    """pyhocon values as plain Python: trees to dicts, durations to seconds."""
    if isinstance(value, ConfigTree):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
        return int(seconds) if seconds.is_integer() else seconds
    if value is None or isinstance(value, str | int | float | bool):
        return value
    # pyhocon has a NoneValue sentinel for `key = null`.
    return None


def parse_hocon(
    text: str,
    *,
    basedir: Path,
    source: str,
    confined_to: Confinement = None,
    included: list[Path] | None = None,
) -> dict[str, object]:
    """Parse HOCON text; includes resolve against ``basedir`` (and, with ``confined_to``, must
    lie in those folders); ``included`` gets the files included.

    ``${...}`` substitutions are not resolved: NanoMQ's parser drops them, and resolving them
    would let a posted config read environment variables back through error messages.
    """
    includes = _Includes(confined_to)
    if not _PARSING.acquire(timeout=PARSE_LOCK_TIMEOUT):
        raise ConfigError(f"{source}: another config is still being parsed; try again later")
    try:
        with _includes_through(includes):
            tree = _parse_tree(text, basedir=basedir, source=source)
    finally:
        _PARSING.release()
    if included is not None:
        included.extend(includes.read)
    for missing in includes.missing:
        logger.warning("%s: include %s not found; skipped", source, missing)
    if not isinstance(tree, ConfigTree):
        raise ConfigError(f"{source}: expected an object at the top level")
    result = plain(tree)
    assert isinstance(result, dict)
    return result


def _parse_tree(text: str, *, basedir: Path, source: str) -> object:
    try:
        return _LocalParser().parse(text, str(basedir), False, config_parser.NO_SUBSTITUTION)
    except _IncludeRefused as refused:
        raise ConfigError(f"{source}: {refused}") from None
    except ParseBaseException as exc:
        # pyparsing's message can run to kilobytes of grammar; a short one says what was expected.
        detail = f": {exc.msg}" if len(exc.msg) <= 80 else ""
        raise ConfigError(f"{source}:{exc.lineno}:{exc.col}: syntax error{detail}") from None
    except ConfigException as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except (OSError, RecursionError, ValueError, TypeError, AttributeError, KeyError) as exc:
        raise ConfigError(f"{source}: cannot parse HOCON: {exc}") from None
