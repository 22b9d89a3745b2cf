"""The rule engine's rules, in memory: NanoMQ's CRUD with its codes, no SQL is run."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nanoadmin.model.broker import ModelError
from nanoadmin.model.secrets import masked, restore_secrets
from nanoadmin.settings import RULE_ACTIONS as ACTIONS
from nanoadmin.settings import RuleSettings

if TYPE_CHECKING:
    from nanoadmin.model.scenario import RuleSeed

REQUIRED_PARAMS = {
    "repub": ("topic", "address"),
    "sqlite": ("table",),
    "mysql": ("table", "username", "password", "host"),
    "postgresql": ("table", "username", "password", "host"),
    "timescaledb": ("table", "username", "password", "host"),
}
_ALLOWED = {
    "repub": (
        "topic",
        "address",
        "proto_ver",
        "keepalive",
        "clientid",
        "username",
        "password",
        "clean_start",
    ),
    "sqlite": ("table",),
    "mysql": ("table", "username", "password", "host"),
    "postgresql": ("table", "username", "password", "host"),
    "timescaledb": ("table", "username", "password", "host"),
}


class RuleNotFound(ModelError):
    def __init__(self, rule_id: int) -> None:
        super().__init__(f"no rule with id {rule_id}")


class RuleParamsMissing(ModelError):
    """A rule without rawsql, actions or a required action param."""


class RuleActionUnsupported(ModelError):
    """An action the rule engine does not have."""


class RuleRejected(ModelError):
    """A rule the engine refuses: a duplicate table, unknown params, a changed action."""


@dataclass(slots=True)
class Rule:
    id: int
    name: str
    rawsql: str
    enabled: bool = True
    params: dict[str, object] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "rawsql": self.rawsql, "id": self.id, "enabled": self.enabled}


def parse_rule_id(text: str) -> int:
    """NanoMQ's ``sscanf("rule:%d")``: anything else is rule 0, which never exists."""
    if not text.startswith("rule:"):
        return 0
    digits = text[5:]
    sign = 1
    if digits[:1] in "+-" and digits[:1]:
        sign, digits = (-1 if digits[0] == "-" else 1), digits[1:]
    count = len(digits) - len(digits.lstrip("0123456789"))
    if not count or count > 20:  # more digits overflow %d: no rule has such an id
        return 0
    return sign * int(digits[:count])


def parse_action(actions: object) -> tuple[str, dict[str, object]]:
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping):
        raise RuleParamsMissing("actions must be a list with one action object")
    action = actions[0]
    name = action.get("name")
    if name not in ACTIONS:
        raise RuleActionUnsupported(
            f"unsupported action {name!r}; expected one of: {', '.join(ACTIONS)}"
        )
    assert isinstance(name, str)
    params = action.get("params", {})
    if not isinstance(params, Mapping):
        raise RuleParamsMissing("action params must be an object")
    missing = [key for key in REQUIRED_PARAMS[name] if key not in params]
    if missing:
        raise RuleParamsMissing(f"{name} action needs params: {', '.join(missing)}")
    unknown = [key for key in params if key not in _ALLOWED[name]]
    if unknown:
        raise RuleRejected(f"{name} action does not take params: {', '.join(map(str, unknown))}")
    return name, dict(params)


class RuleTable:
    """Rules by id, created from the config's ``rules`` block and the /rules endpoints."""

    def __init__(self) -> None:
        self._rules: dict[int, Rule] = {}
        self._next_id = 1

    @classmethod
    def from_settings(cls, rules: Iterable[RuleSettings]) -> RuleTable:
        table = cls()
        for rule in rules:
            table._add(rule.action, rule.sql, rule.enabled, dict(rule.params))
        return table

    @classmethod
    def from_seeds(cls, seeds: Iterable[RuleSeed], held: RuleTable | None = None) -> RuleTable:
        """Rules with the ids they were exported with; new ones continue after the highest. A
        masked secret in a rule's params keeps the one ``held`` has under that id."""
        table = cls()
        for seed in seeds:
            params = dict(seed.params)
            current = held._rules.get(seed.id) if held is not None else None
            if current is not None:
                restore_secrets(params, current.params)
            table._rules[seed.id] = Rule(seed.id, seed.action, seed.rawsql, seed.enabled, params)
            table._next_id = max(table._next_id, seed.id + 1)
        return table

    def seeds(self) -> list[dict[str, object]]:
        """The rules as a scenario lists them (``rules`` entries), in id order."""
        return [
            {
                "id": rule.id,
                "rawsql": rule.rawsql,
                "enabled": rule.enabled,
                "actions": [{"name": rule.name, "params": masked(rule.params)}],
            }
            for rule in self._rules.values()
        ]

    def _add(self, name: str, rawsql: str, enabled: bool, params: dict[str, object]) -> Rule:
        rule = Rule(self._next_id, name, rawsql, enabled, params)
        self._rules[rule.id] = rule
        self._next_id += 1
        return rule

    def list(self) -> list[dict[str, object]]:
        return [rule.as_json() for rule in self._rules.values()]

    def get(self, rule_id: int) -> dict[str, object]:
        rule = self._rules.get(rule_id)
        if rule is None:
            raise RuleNotFound(rule_id)
        return rule.as_json()

    def create(self, body: Mapping[str, object]) -> Rule:
        rawsql = body.get("rawsql")
        if not isinstance(rawsql, str) or not rawsql.strip():
            raise RuleParamsMissing("rawsql must be a non-empty string")
        name, params = parse_action(body.get("actions"))
        if name == "sqlite" and any(
            r.name == "sqlite" and r.params.get("table") == params["table"]
            for r in self._rules.values()
        ):
            raise RuleRejected(f"a sqlite rule already writes table {params['table']!r}")
        return self._add(name, rawsql, True, params)

    def update(self, rule_id: int, body: Mapping[str, object]) -> Rule:
        rule = self._rules.get(rule_id)
        if rule is None:
            raise RuleNotFound(rule_id)
        rawsql, enabled, actions = body.get("rawsql"), body.get("enabled"), body.get("actions")
        if rawsql is not None and (not isinstance(rawsql, str) or not rawsql.strip()):
            raise RuleRejected("rawsql must be a non-empty string")
        if enabled is not None and not isinstance(enabled, bool):
            raise RuleRejected("enabled must be true or false")
        params = rule.params
        if actions is not None:
            name, params = parse_action(actions)
            if name != rule.name:
                raise RuleRejected(f"a rule's action cannot change ({rule.name} to {name})")
        if rawsql is not None:
            rule.rawsql = rawsql
        if enabled is not None:
            rule.enabled = enabled
        rule.params = params
        return rule

    def delete(self, rule_id: int) -> None:
        if self._rules.pop(rule_id, None) is None:
            raise RuleNotFound(rule_id)

    def __len__(self) -> int:
        return len(self._rules)
