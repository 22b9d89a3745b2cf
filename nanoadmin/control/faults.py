"""Fault rules: which /api/v4 requests get a delay, an error, a dropped or truncated answer."""

from __future__ import annotations

import math
import os
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Literal

from nanoadmin.config import ConfigError
from nanoadmin.http.limits import MAX_FAULT_DELAY_MS, MAX_FAULT_RULES
from nanoadmin.model.scenario import ScenarioError, read_tree

Effect = Literal["error", "drop", "truncate", "hang"]
EFFECTS: tuple[Effect, ...] = ("error", "drop", "truncate", "hang")
METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH")
_RULE_KEYS = ("match", "delay_ms", *EFFECTS, "probability", "times")
_MATCH_KEYS = ("method", "path")
_ERROR_KEYS = ("status", "code", "message")
_WILDCARD = re.compile(r"[*?\[]")
MAX_PATH_GLOB = 512
MAX_MESSAGE = 200


class FaultProblem(ValueError):
    """A fault tree nanoadmin refuses: ``field`` names where, ``missing`` when it is absent."""

    def __init__(self, field: str, message: str, *, missing: bool = False) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.missing = missing


@dataclass(frozen=True, slots=True)
class FaultRule:
    path: str
    method: str | None = None
    delay_ms: tuple[int, int] | None = None
    effect: Effect | None = None
    error_status: int = 503
    error_code: int = 102
    error_message: str | None = None
    probability: float = 1.0
    times: int | None = None

    def matches(self, method: str, below_root: str) -> bool:
        return (self.method is None or self.method == method) and fnmatchcase(below_root, self.path)

    def as_json(self) -> dict[str, object]:
        rule: dict[str, object] = {"match": {"path": self.path}}
        if self.method is not None:
            rule["match"] = {"method": self.method, "path": self.path}
        if self.delay_ms is not None:
            low, high = self.delay_ms
            rule["delay_ms"] = low if low == high else [low, high]
        if self.effect == "error":
            error: dict[str, object] = {"status": self.error_status, "code": self.error_code}
            if self.error_message is not None:
                error["message"] = self.error_message
            rule["error"] = error
        elif self.effect is not None:
            rule[self.effect] = True
        rule["probability"] = self.probability
        if self.times is not None:
            rule["times"] = self.times
        return rule


def _table(field: str, value: object, keys: Sequence[str]) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise FaultProblem(field, f"must be an object with keys among {', '.join(keys)}")
    for key in value:
        if key not in keys:
            raise FaultProblem(f"{field}.{key}", f"unknown key; expected one of {', '.join(keys)}")
    return value


def _integer(field: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FaultProblem(field, f"must be an integer {low}..{high}")
    return value


def _segments_could_match(literal: str, pattern: str, *, whole: bool) -> bool:
    """Whether a target below /api/v4 starting with (``whole``: equal to) ``literal`` can reach
    the endpoint ``pattern`` (``/clients/{clientid}``)."""
    have = literal.split("?")[0].split("/")[1:]
    want = [segment for segment in pattern.split("/") if segment]
    if have and have[-1] == "" and (whole or len(have) > len(want)):
        have.pop()  # a trailing slash, which NanoMQ allows
    if len(have) > len(want) or (whole and len(have) != len(want)):
        return False
    for index, segment in enumerate(have):
        expected = want[index]
        if expected.startswith("{"):
            continue
        last_partial = not whole and index == len(have) - 1
        if not (expected.startswith(segment) if last_partial else expected == segment):
            return False
    return True


def check_path_glob(field: str, glob: object, endpoints: Sequence[str]) -> str:
    """``glob`` if some target below /api/v4 it matches reaches one of ``endpoints``."""
    if not isinstance(glob, str) or not glob:
        raise FaultProblem(field, "must be a glob on the target below /api/v4, such as /clients*")
    if len(glob) > MAX_PATH_GLOB or any(ord(c) < 32 or ord(c) == 127 for c in glob):
        raise FaultProblem(field, f"must be printable and at most {MAX_PATH_GLOB} characters")
    wildcard = _WILDCARD.search(glob)
    literal = glob if wildcard is None else glob[: wildcard.start()]
    if literal and not literal.startswith("/"):
        raise FaultProblem(field, f"{glob!r} matches nothing: targets below /api/v4 start with /")
    if not literal or any(
        _segments_could_match(literal, pattern, whole=wildcard is None) for pattern in endpoints
    ):
        return glob
    raise FaultProblem(field, f"{glob!r} matches no endpoint under /api/v4")


def parse_rule(field: str, value: object, endpoints: Sequence[str]) -> FaultRule:
    table = _table(field, value, _RULE_KEYS)
    if "match" not in table:
        raise FaultProblem(f"{field}.match", "is required", missing=True)
    match = _table(f"{field}.match", table["match"], _MATCH_KEYS)
    if "path" not in match:
        raise FaultProblem(f"{field}.match.path", "is required", missing=True)
    path = check_path_glob(f"{field}.match.path", match["path"], endpoints)
    method = match.get("method")
    if method is not None:
        if not isinstance(method, str) or method.upper() not in METHODS:
            raise FaultProblem(f"{field}.match.method", f"must be one of {', '.join(METHODS)}")
        method = method.upper()
    delay = table.get("delay_ms")
    delay_ms: tuple[int, int] | None = None
    if delay is not None:
        if isinstance(delay, list):
            if len(delay) != 2:
                raise FaultProblem(f"{field}.delay_ms", "a range must be [low, high]")
            low = _integer(f"{field}.delay_ms[0]", delay[0], 0, MAX_FAULT_DELAY_MS)
            high = _integer(f"{field}.delay_ms[1]", delay[1], 0, MAX_FAULT_DELAY_MS)
            if low > high:
                raise FaultProblem(f"{field}.delay_ms", f"[{low}, {high}] has low above high")
            delay_ms = (low, high)
        else:
            fixed = _integer(f"{field}.delay_ms", delay, 0, MAX_FAULT_DELAY_MS)
            delay_ms = (fixed, fixed)
    effects = [name for name in EFFECTS if name in table]
    if len(effects) > 1:
        raise FaultProblem(field, f"takes at most one of {', '.join(EFFECTS)}, not {effects}")
    effect = effects[0] if effects else None
    status, code, message = 503, 102, None
    if effect == "error":
        error = _table(f"{field}.error", table["error"], _ERROR_KEYS)
        status = _integer(f"{field}.error.status", error.get("status", 503), 400, 599)
        code = _integer(f"{field}.error.code", error.get("code", 102), 0, 9999)
        if "message" in error:
            text = error["message"]
            if not isinstance(text, str) or len(text) > MAX_MESSAGE:
                raise FaultProblem(
                    f"{field}.error.message",
                    f"must be a string of {MAX_MESSAGE} characters at most",
                )
            message = text
    elif effect is not None and table[effect] is not True:
        raise FaultProblem(f"{field}.{effect}", "must be true (leave it out for no such effect)")
    if effect is None and delay_ms is None:
        raise FaultProblem(
            field, f"needs an effect: delay_ms, or one of {', '.join(EFFECTS)}", missing=True
        )
    probability = table.get("probability", 1.0)
    if (
        isinstance(probability, bool)
        or not isinstance(probability, int | float)
        or not 0 <= probability <= 1
        or math.isnan(probability)
    ):
        raise FaultProblem(f"{field}.probability", "must be a number 0..1")
    times = table.get("times")
    if times is not None:
        times = _integer(f"{field}.times", times, 1, 10**9)
    return FaultRule(
        path,
        method,
        delay_ms,
        effect,
        status,
        code,
        message,
        float(probability),
        times,
    )


@dataclass(frozen=True, slots=True)
class FaultPlan:
    seed: int | None
    rules: tuple[FaultRule, ...]


def parse_plan(value: object, endpoints: Sequence[str], source: str = "faults") -> FaultPlan:
    """``{"seed": 42, "rules": [rule...]}``, checked against the /api/v4 ``endpoints``."""
    table = _table(source, value, ("seed", "rules"))
    seed = table.get("seed")
    if seed is not None:
        seed = _integer(f"{source}.seed", seed, -(2**63), 2**63 - 1)
    entries = table.get("rules", [])
    if not isinstance(entries, list):
        raise FaultProblem(f"{source}.rules", "must be a list of rules")
    if len(entries) > MAX_FAULT_RULES:
        raise FaultProblem(
            f"{source}.rules", f"holds {len(entries)} rules; at most {MAX_FAULT_RULES}"
        )
    rules = tuple(
        parse_rule(f"{source}.rules[{index}]", entry, endpoints)
        for index, entry in enumerate(entries)
    )
    return FaultPlan(seed, rules)


def read_plan(path: Path, endpoints: Sequence[str]) -> FaultPlan:
    """A fault file (--faults): TOML or JSON, the tree PUT /faults takes; ConfigError naming
    the file and field when it cannot be used."""
    try:
        return parse_plan(read_tree(path, "faults file"), endpoints, source=str(path))
    except ScenarioError as exc:
        raise ConfigError(exc.message) from None
    except FaultProblem as exc:
        raise ConfigError(str(exc)) from None


class Faults:
    """The rules in force, how often each fired, and the seeded generator their draws use;
    ``endpoints`` are the /api/v4 patterns a rule's path must be able to reach."""

    def __init__(self, endpoints: Sequence[str] = ()) -> None:
        self.endpoints = tuple(endpoints)
        self.rules: list[FaultRule] = []
        self.fired: list[int] = []
        self.seed = 0
        self._random = random.Random(0)

    def replace(self, plan: FaultPlan) -> None:
        self.seed = plan.seed if plan.seed is not None else int.from_bytes(os.urandom(4), "big")
        self._random = random.Random(self.seed)
        self.rules = list(plan.rules)
        self.fired = [0] * len(self.rules)

    def append(self, rule: FaultRule) -> int:
        if len(self.rules) >= MAX_FAULT_RULES:
            raise FaultProblem("rules", f"already holds {MAX_FAULT_RULES} rules, the most it can")
        self.rules.append(rule)
        self.fired.append(0)
        return len(self.rules) - 1

    def remove(self, index: int) -> None:
        if not 0 <= index < len(self.rules):
            raise FaultProblem("index", f"no rule {index}; there are {len(self.rules)}")
        del self.rules[index]
        del self.fired[index]

    def clear(self) -> None:
        self.rules.clear()
        self.fired.clear()

    def pick(self, method: str, below_root: str) -> tuple[int, FaultRule, float] | None:
        """The first rule that matches and fires, with its index and delay in seconds; its
        firing is counted."""
        for index, rule in enumerate(self.rules):
            if not rule.matches(method, below_root):
                continue
            if rule.times is not None and self.fired[index] >= rule.times:
                continue
            if rule.probability < 1 and self._random.random() >= rule.probability:
                continue
            self.fired[index] += 1
            delay = 0.0
            if rule.delay_ms is not None:
                low, high = rule.delay_ms
                delay = (low if low == high else self._random.uniform(low, high)) / 1000
            return index, rule, delay
        return None

    def view(self) -> dict[str, object]:
        return {
            "seed": self.seed,
            "rules": [
                {**rule.as_json(), "fired": fired}
                for rule, fired in zip(self.rules, self.fired, strict=True)
            ],
        }
