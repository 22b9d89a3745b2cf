"""MQTT topic names and filters: validation, shared-subscription prefixes and matching."""

from __future__ import annotations

SHARE_PREFIX = "$share/"
# MQTT strings carry a 16-bit byte length; a char is at most 4 UTF-8 bytes, so shorter
# strings never need encoding to check it.
_MAX_BYTES = 65535
_ALWAYS_SHORT_ENOUGH = _MAX_BYTES // 4


def _fits(s: str) -> bool:
    return len(s) <= _ALWAYS_SHORT_ENOUGH or len(s.encode("utf-8", "surrogatepass")) <= _MAX_BYTES


def split_shared(topic_filter: str) -> tuple[str | None, str]:
    """``("g", "a/b")`` for ``$share/g/a/b``; ``(None, topic_filter)`` for any other filter."""
    if topic_filter.startswith(SHARE_PREFIX):
        parts = topic_filter.split("/", 2)
        if len(parts) == 3:
            return parts[1], parts[2]
    return None, topic_filter


def _is_valid_plain_filter(topic_filter: str) -> bool:
    if not topic_filter:
        return False
    if "#" not in topic_filter and "+" not in topic_filter:
        return True
    levels = topic_filter.split("/")
    last = len(levels) - 1
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != last):
            return False
        if "+" in level and level != "+":
            return False
    return True


def is_valid_filter(topic_filter: str) -> bool:
    """A subscribable filter: ``+``/``#`` alone in their level, ``#`` last, sane ``$share``."""
    if not topic_filter or "\0" in topic_filter or not _fits(topic_filter):
        return False
    if topic_filter[0] != "$" or not topic_filter.startswith(SHARE_PREFIX):
        return _is_valid_plain_filter(topic_filter)
    parts = topic_filter.split("/", 2)
    if len(parts) != 3:
        return False
    group, real_filter = parts[1], parts[2]
    if not group or "+" in group or "#" in group:
        return False
    return _is_valid_plain_filter(real_filter)


def is_valid_topic_name(topic: str) -> bool:
    """A publishable topic: non-empty, no wildcards, no NUL."""
    return (
        bool(topic) and "+" not in topic and "#" not in topic and "\0" not in topic and _fits(topic)
    )


def filter_matches(topic_filter: str, topic: str) -> bool:
    """Whether ``topic`` matches ``topic_filter`` under MQTT 3.1.1/5 rules (``$share`` stripped)."""
    _, real_filter = split_shared(topic_filter)
    filter_levels = real_filter.split("/")
    topic_levels = topic.split("/")
    # Wildcards in the first level never match $SYS-style topics (MQTT-4.7.2-1).
    if topic.startswith("$") and filter_levels[0] in ("+", "#"):
        return False
    for index, level in enumerate(filter_levels):
        if level == "#":
            # Also when the topic has run out: "a/#" matches "a".
            return True
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(topic_levels) == len(filter_levels)
