"""The request journal: a bounded ring of what each request asked and got, never a credential."""

from __future__ import annotations

import itertools
import re
import time
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
        # Times compare as shown (to the microsecond): an entry's own time selects it.
        return (
            (self.method is None or entry.method == self.method)
            and (self.path is None or fnmatchcase(entry.target, self.path))
            and (self.status is None or entry.status == self.status)
            and (self.since is None or round(entry.time, 6) >= self.since)
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


# An answer body up to this size is kept as it is (most are shared or small) to read its code
# from when the journal is read; a longer one, its two ends only.
CODE_SOURCE_MAX = 512
_CODE_FIRST = re.compile(rb'\{"code":(-?\d+)')
_CODE_LAST = re.compile(rb'"code":(-?\d+)\}$')


def code_source(body: bytes) -> bytes:
    """What of an answer body is kept to read its ``code`` from: NanoMQ puts it first or last."""
    return body if len(body) <= CODE_SOURCE_MAX else body[:16] + body[-32:]


def answer_code(source: bytes | None) -> int | None:
    if source is None:
        return None
    found = _CODE_FIRST.match(source) or _CODE_LAST.search(source[-32:])
    return int(found.group(1)) if found else None


class Journal:
    """The last ``size`` requests, oldest first; size 0 keeps none.

    A request pays for one tuple of what it already has (perf_counter readings, the answer's
    body or its ends); times, durations and codes are worked out when the journal is read.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: deque[tuple[Any, ...]] = deque(maxlen=size)
        self._ids = itertools.count(1)
        # perf_counter readings to wall-clock time, as of now.
        self._wall_offset = time.time() - time.perf_counter()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Entry]:
        offset = self._wall_offset
        for kept in self._entries:
            (entry_id, ended, started, method, target, status, source) = kept[:7]
            scheme, outcome, body_size, body, fault = kept[7:]
            yield Entry(
                entry_id,
                ended + offset,
                method,
                target,
                status,
                answer_code(source) if status is not None else None,
                scheme,
                outcome,
                (ended - started) * 1000,
                body_size,
                body,
                fault,
            )

    def add(
        self,
        ended: float,
        started: float,
        method: str,
        target: str,
        status: int | None,
        code_source: bytes | None,
        scheme: str,
        outcome: str,
        body_size: int,
        body: str | None = None,
        fault: int | None = None,
    ) -> None:
        """One request: ``started`` and ``ended`` are perf_counter readings, ``code_source``
        what :func:`code_source` keeps of the answer; the target is cut and masked here."""
        if len(target) > JOURNAL_TARGET_MAX or "@" in target:
            target = journal_target(target)
        self._entries.append(
            (
                next(self._ids),
                ended,
                started,
                method,
                target,
                status,
                code_source,
                scheme,
                outcome,
                body_size,
                body,
                fault,
            )
        )

    def select(self, wanted: JournalFilter) -> list[dict[str, object]]:
        return [entry.as_json() for entry in self if wanted.keeps(entry)]

    def clear(self) -> None:
        self._entries.clear()
