"""Topic filters and names: matching, shared subscriptions, what is valid."""

from __future__ import annotations

import pytest

from nanoadmin.model import filter_matches, is_valid_filter, is_valid_topic_name, split_shared

# -- topics --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic_filter", "topic", "matches"),
    [
        ("a/b", "a/b", True),
        ("a/b", "a/c", False),
        ("a/b", "a/b/c", False),
        ("a/+", "a/b", True),
        ("a/+", "a/b/c", False),
        ("a/+", "a", False),
        ("a/+", "a/", True),
        ("+/+", "/x", True),
        ("+", "a", True),
        ("+", "/a", False),
        ("a/+/c", "a/b/c", True),
        ("a/+/c", "a/b/d", False),
        ("a/#", "a", True),
        ("a/#", "a/b", True),
        ("a/#", "a/b/c", True),
        ("a/#", "ab", False),
        ("a/#", "b/a", False),
        ("#", "a/b/c", True),
        ("#", "/", True),
        ("+/#", "a", True),
        ("sensors/+/temp", "sensors/room1/temp", True),
        ("sensors/+/temp", "sensors/room1/humidity", False),
        ("#", "$SYS/broker", False),
        ("+/broker", "$SYS/broker", False),
        ("$SYS/#", "$SYS/broker", True),
        ("$SYS/+", "$SYS/broker", True),
        ("$SYS/#", "$SYS", True),
        ("a/$b", "a/$b", True),
        ("+/$b", "a/$b", True),
        ("$share/g/a/+", "a/b", True),
        ("$share/g/#", "a/b", True),
        ("$share/g/a/+", "b/b", False),
        ("$share/g/#", "$SYS/x", False),
        ("A/b", "a/b", False),
    ],
)
def test_filter_matches(topic_filter: str, topic: str, matches: bool) -> None:
    assert filter_matches(topic_filter, topic) is matches


def test_split_shared() -> None:
    assert split_shared("$share/group/a/b/#") == ("group", "a/b/#")
    assert split_shared("a/b") == (None, "a/b")
    assert split_shared("$SYS/#") == (None, "$SYS/#")
    assert split_shared("$share") == (None, "$share")


@pytest.mark.parametrize(
    ("topic_filter", "valid"),
    [
        ("a", True),
        ("a/b/c", True),
        ("/", True),
        ("a//b", True),
        ("#", True),
        ("+", True),
        ("a/#", True),
        ("a/+/c", True),
        ("+/+/#", True),
        ("$SYS/#", True),
        ("$share", True),
        ("$share/g/a/#", True),
        ("$share/g/+", True),
        ("", False),
        ("a/#/b", False),
        ("a#", False),
        ("a/b#", False),
        ("a+/b", False),
        ("a/+b", False),
        ("##", False),
        ("a\0b", False),
        ("$share/", False),
        ("$share/g", False),
        ("$share/g/", False),
        ("$share//a", False),
        ("$share/g+/a", False),
        ("$share/#/a", False),
        ("$share/g/a/#/b", False),
        ("x" * 70000, False),
    ],
)
def test_is_valid_filter(topic_filter: str, valid: bool) -> None:
    assert is_valid_filter(topic_filter) is valid


@pytest.mark.parametrize(
    ("topic", "valid"),
    [
        ("a", True),
        ("a/b", True),
        ("/", True),
        ("$SYS/x", True),
        ("é/ü", True),
        ("", False),
        ("a/+", False),
        ("a/#", False),
        ("a+b", False),
        ("a\0", False),
    ],
)
def test_is_valid_topic_name(topic: str, valid: bool) -> None:
    assert is_valid_topic_name(topic) is valid
