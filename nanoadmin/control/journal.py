"""The request journal: a bounded ring of what each request asked and got, never a credential."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, NamedTuple

import orjson

from nanoadmin.http.limits import JOURNAL_BODY_MAX, JOURNAL_TARGET_MAX
from nanoadmin.model.secrets import MASK, masked

# "user:password@" in an absolute-form target (GET http://admin:public@host/api/v4/brokers).
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@]*@")
# A secret written as HOCON, TOML or key=value text (config_update's body, a string in JSON).
_SECRET_ASSIGNMENT = re.compile(
    r"""((?:^|[\s{,"'])(?:key_)?password["']?\s*[=:]\s*)("(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^\s,}\n]+)""",
    re.IGNORECASE,
)
_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.S
)


class Entry(NamedTuple):
    """One request as the journal keeps it: plain values, rendered only when asked for."""

    id: int
    time: float
    method: str
    target: str
    status: int | None
    code: int | None
    scheme: str
    outcome: str
    duration_ms: float
    body_size: int
    body: str | None
    fault: int | None

    def as_json(self) -> dict[str, object]:
        entry: dict[str, object] = {
            "id": self.id,
            "time": round(self.time, 6),
            "method": self.method,
            "target": self.target,
            "status": self.status,
            "code": self.code,
            "auth": {"scheme": self.scheme, "outcome": self.outcome},
            "duration_ms": round(self.duration_ms, 3),
            "body_size": self.body_size,
        }
        if self.body is not None:
            entry["body"] = self.body
        if self.fault is not None:
            entry["fault"] = self.fault
        return entry


@dataclass(frozen=True, slots=True)
class JournalFilter:
    method: str | None = None
    path: str | None = None
    status: int | None = None
    since: float | None = None
    after: int | None = None

    def keeps(self, entry: Entry) -> bool:
        return (
            (self.method is None or entry.method == self.method)
            and (self.path is None or fnmatchcase(entry.target, self.path))
            and (self.status is None or entry.status == self.status)
            and (self.since is None or entry.time >= self.since)
            and (self.after is None or entry.id > self.after)
        )


def journal_target(target: str) -> str:
    """The target as the journal keeps it: userinfo masked, cut to JOURNAL_TARGET_MAX."""
    if "@" in target:
        target = _USERINFO.sub(rf"\g<1>{MASK}@", target)
    if len(target) > JOURNAL_TARGET_MAX:
        return target[:JOURNAL_TARGET_MAX] + "..."
    return target


def masked_text(text: str) -> str:
    """``text`` with every password assignment and private key in it masked."""
    text = _PRIVATE_KEY.sub(MASK, text)
    return _SECRET_ASSIGNMENT.sub(_masked_assignment, text)


def _masked_assignment(match: re.Match[str]) -> str:
    quote = match.group(2)[0]
    return match.group(1) + (quote + MASK + quote if quote in "\"'" else MASK)


def journal_body(raw: bytes) -> str:
    """A request body as the journal keeps it: JSON with secrets masked as GET /configuration
    masks them (and masked again as text, for the HOCON a string may carry), other text with
    its password assignments masked; cut to JOURNAL_BODY_MAX characters."""
    text = raw.decode("utf-8", "replace")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        shown = masked_text(text)
    else:
        shown = masked_text(orjson.dumps(masked(value)).decode())
    if len(shown) > JOURNAL_BODY_MAX:
        return shown[:JOURNAL_BODY_MAX] + "..."
    return shown


class Journal:
    """The last ``size`` requests, oldest first; size 0 keeps none.

    Entries are kept as plain tuples (each field an :class:`Entry` field) and made into entries
    only when read: a request pays for a tuple, not for a record class.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: deque[tuple[Any, ...]] = deque(maxlen=size)
        self._next_id = 1

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Entry]:
        return (Entry._make(fields) for fields in self._entries)

    def add(
        self,
        time: float,
        method: str,
        target: str,
        status: int | None,
        code: int | None,
        scheme: str,
        outcome: str,
        duration_ms: float,
        body_size: int,
        body: str | None = None,
        fault: int | None = None,
    ) -> None:
        entry_id = self._next_id
        self._next_id = entry_id + 1
        if len(target) > JOURNAL_TARGET_MAX or "@" in target:
            target = journal_target(target)
        self._entries.append(
            (
                entry_id,
                time,
                method,
                target,
                status,
                code,
                scheme,
                outcome,
                duration_ms,
                body_size,
                body,
                fault,
            )
        )

    def select(self, wanted: JournalFilter) -> list[dict[str, object]]:
        return [entry.as_json() for entry in self if wanted.keeps(entry)]

    def clear(self) -> None:
        self._entries.clear()
