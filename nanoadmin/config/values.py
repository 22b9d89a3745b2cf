"""Every config value is normalised here: durations, byte sizes, booleans, numbers, lists."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence

_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)?\s*$", re.IGNORECASE)
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
# At most 20 digits: more fit no field here, and Python refuses int() past 4300 of them.
_BYTESIZE = re.compile(r"^\s*([0-9]{1,20})\s*(b|k|kb|m|mb|g|gb)?\s*$", re.IGNORECASE)
_BYTESIZE_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_TRUE = frozenset({"true", "yes", "on"})
_FALSE = frozenset({"false", "no", "off"})


# Keys whose values are secrets: a message about one never shows the value, whatever its type.
_SECRET_NAMES = frozenset({"password", "key_password", "keypass"})


def is_secret_key(key: str) -> bool:
    """Whether the dotted ``key`` (or environment variable) holds a secret: a password, or
    anything below one (``auth.password.<user>``)."""
    return any(
        part in _SECRET_NAMES or part.endswith("_password") for part in key.lower().split(".")
    )


class ValueProblem(Exception):
    """A value that does not have the expected form; settings turn it into a ConfigError."""

    def __init__(self, key: str, value: object, expected: str) -> None:
        # For messages that must not echo what was sent (it may come from an included file).
        self.without_value = f"{key} has an invalid value. Expected {expected}."
        if is_secret_key(key):
            super().__init__(self.without_value)
        else:
            super().__init__(f"{key} has value {shown(value)}. Expected {expected}.")
        self.key = key


class UnknownKey(ValueProblem):
    """A key where nanoadmin knows every key there may be; ``known`` says which."""

    def __init__(self, key: str, known: Sequence[str], what: str) -> None:
        parent = key.rsplit(".", 1)[0] if "." in key else ""
        name = key.rsplit(".", 1)[-1]
        close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
        hint = f" Did you mean {parent + '.' if parent else ''}{close[0]}?" if close else ""
        listed = f" Expected one of: {', '.join(known)}." if len(known) > 1 else ""
        message = f"{key} is not {what}.{hint}{listed}"
        Exception.__init__(self, message)
        self.key = key
        self.without_value = message


def shown(value: object, limit: int = 80) -> str:
    """``value`` as a message quotes it: its repr, cut to ``limit`` characters."""
    try:
        text = repr(value)
    except ValueError:  # an int of more than 4300 digits
        return "<a number too long to show>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def lookup(tree: Mapping[str, object], dotted: str) -> object | None:
    """The value at ``a.b.c`` in a nested tree, or None."""
    node: object = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def boolean(key: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueProblem(key, value, "true or false")


# NanoMQ keeps its numbers in 32-bit fields at most; sizes are bytes, rendered in KiB.
MAX_INTEGER = 2**32 - 1
MAX_BYTES = MAX_INTEGER * 1024


def integer(key: str, value: object, *, minimum: int = 0, maximum: int = MAX_INTEGER) -> int:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*-?[0-9]{1,20}\s*", value):
        number = int(value)
    if number is None or not minimum <= number <= maximum:
        raise ValueProblem(key, value, f"an integer {minimum}..{maximum}")
    return number


def number(key: str, value: object) -> float:
    """A finite number within NanoMQ's 32-bit fields (``1e300`` is no keepalive multiplier)."""
    found: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        found = float(value) if abs(value) <= MAX_INTEGER else None
    elif isinstance(value, str) and len(value) <= 40:
        try:
            found = float(value)
        except ValueError:
            pass
    if found is None or not -MAX_INTEGER <= found <= MAX_INTEGER:  # NaN fails both
        raise ValueProblem(key, value, f"a number -{MAX_INTEGER}..{MAX_INTEGER}")
    return found


def string(key: str, value: object) -> str:
    if isinstance(value, str):
        return value
    raise ValueProblem(key, value, "a quoted string")


def string_list(key: str, value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise ValueProblem(key, value, "a string or a list of strings")


def duration_seconds(key: str, value: object) -> float:
    """``10s``, ``1m``, ``2h``, ``1d``, ``500ms`` or a bare number of seconds."""
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            seconds = float(match.group(1)) * _DURATION_UNITS[(match.group(2) or "s").lower()]
    if seconds is None or not 0 <= seconds <= MAX_INTEGER:
        raise ValueProblem(key, value, "a duration such as 10s, 15m, 1h or 7d")
    return seconds


def byte_size(key: str, value: object) -> int:
    """``256MB``, ``64KB``, ``1G`` (1024-based, as NanoMQ) or a bare number of bytes."""
    size: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str):
        match = _BYTESIZE.match(value)
        if match:
            size = int(match.group(1)) * _BYTESIZE_UNITS[(match.group(2) or "b")[0].lower()]
    if size is None or not 0 <= size <= MAX_BYTES:
        raise ValueProblem(key, value, "a size such as 1048576, 64KB or 10MB")
    return size
