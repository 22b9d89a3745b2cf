"""HOCON (nanomq.conf) through pyhocon, flattened to plain dicts, lists and scalars."""

from __future__ import annotations

import logging
import threading
import warnings
from datetime import timedelta
from pathlib import Path

from pyhocon import ConfigFactory, ConfigTree
from pyhocon.exceptions import ConfigException
from pyparsing import ParseBaseException

from nanoadmin.config.errors import ConfigError

logger = logging.getLogger("nanoadmin.config")

# One parse at a time: pyhocon builds its grammar under a switch of pyparsing's process-wide
# default whitespace, and this module swaps pyhocon's logger and the warning filters, so two
# threads parsing at once (config_update and a reload do it off the event loop) break each other.
_PARSING = threading.Lock()


class _IncludeWarnings(logging.Handler):
    """Collects pyhocon's "Cannot include file" warnings so they can be re-worded."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


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


def parse_hocon(text: str, *, basedir: Path, source: str) -> dict[str, object]:
    """Parse HOCON text; includes resolve against ``basedir``.

    ``${...}`` substitutions are not resolved: NanoMQ's parser drops them, and resolving them
    would let a posted config read environment variables back through error messages.
    """
    with _PARSING:
        tree = _parse_tree(text, basedir=basedir, source=source)
    if not isinstance(tree, ConfigTree):
        raise ConfigError(f"{source}: expected an object at the top level")
    result = plain(tree)
    assert isinstance(result, dict)
    return result


def _parse_tree(text: str, *, basedir: Path, source: str) -> object:
    pyhocon_logger = logging.getLogger("pyhocon.config_parser")
    collector = _IncludeWarnings()
    pyhocon_logger.addHandler(collector)
    previous_propagate = pyhocon_logger.propagate
    pyhocon_logger.propagate = False
    try:
        with warnings.catch_warnings():
            # pyhocon still calls the deprecated Logger.warn for a missing include.
            warnings.simplefilter("ignore", DeprecationWarning)
            tree = ConfigFactory.parse_string(text, basedir=str(basedir), resolve=False)
    except ParseBaseException as exc:
        # pyparsing's message can run to kilobytes of grammar; a short one says what was expected.
        detail = f": {exc.msg}" if len(exc.msg) <= 80 else ""
        raise ConfigError(f"{source}:{exc.lineno}:{exc.col}: syntax error{detail}") from None
    except FileNotFoundError as exc:
        raise ConfigError(f"{source}: required include not found: {exc.filename}") from None
    except ConfigException as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except (OSError, RecursionError, ValueError, TypeError, AttributeError, KeyError) as exc:
        raise ConfigError(f"{source}: cannot parse HOCON: {exc}") from None
    finally:
        pyhocon_logger.removeHandler(collector)
        pyhocon_logger.propagate = previous_propagate
    for message in collector.messages:
        if "Cannot include file" in message:
            missing = message.removeprefix("Cannot include file ").split(". File does")[0]
            logger.warning("%s: include %s not found; skipped", source, missing)
    return tree
