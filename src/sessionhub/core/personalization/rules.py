"""Rule trees of segments and experiment targeting: checked once, evaluated many times.

A node is ``{"and": [...]}``, ``{"or": [...]}``, ``{"not": node}`` or a condition:

- ``{"trait": "plan", "op": "eq", "value": "pro"}``: a trait the app set (or, in a decide
  call, an attribute it sent); ``{"computed": name, ...}``: a computed trait;
- ``{"field": "sessions", "op": "gte", "value": 3}``: events, sessions, active_days,
  engagement, lifecycle, days_since_last_seen, days_since_first_seen;
- ``{"pattern": "power_user"}`` (or a list): the user pattern from analytics;
- ``{"affinity": "category:shoes", "op": "gte", "value": 0.2}``: a normalised affinity;
- ``{"event": "purchase", "min": 3, "within_days": 30}``: did X at least N (and at most
  ``max``) times within D days; ``"max": 0`` is "did not do Y";
- ``{"last_active_between_days": [30, 90]}``: active 30-90 days ago but not since.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sessionhub.errors import InvalidInput

OPS = ("eq", "neq", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "exists")
FIELDS = (
    "events",
    "sessions",
    "active_days",
    "engagement",
    "lifecycle",
    "days_since_last_seen",
    "days_since_first_seen",
)
MAX_NODES = 100
CONDITIONS = (
    "trait",
    "computed",
    "field",
    "pattern",
    "affinity",
    "event",
    "last_active_between_days",
)
Context = Mapping[str, Any]  # what a condition reads: see Rule.needs


def compare(actual: Any, op: str, expected: Any) -> bool:
    """``actual op expected``; a comparison of mismatched types is simply false."""
    try:
        if op == "exists":
            return (actual is not None) == bool(expected if expected is not None else True)
        if op == "eq":
            return bool(actual == expected)
        if op == "neq":
            return bool(actual != expected)
        if op == "in":
            return isinstance(expected, list) and actual in expected
        if op == "not_in":
            return isinstance(expected, list) and actual not in expected
        if op == "contains":
            if isinstance(actual, list | str):
                return expected in actual
            return False
        if actual is None or isinstance(actual, bool) or isinstance(expected, bool):
            return False
        if op == "gt":
            return bool(actual > expected)
        if op == "gte":
            return bool(actual >= expected)
        if op == "lt":
            return bool(actual < expected)
        return bool(actual <= expected)
    except TypeError:
        return False


@dataclass
class Rule:
    """A checked rule tree: ``test(context)`` and what the context must hold."""

    test: Callable[[Context], bool]
    behaviours: set[tuple[str, int]] = field(default_factory=set)  # (event, within_days)
    needs_computed: bool = False
    needs_affinity: bool = False
    needs_pattern: bool = False
    kinds: set[str] = field(default_factory=set)  # the kinds of condition used


def _bad(where: str, message: str) -> InvalidInput:
    return InvalidInput(f"{where}: {message}", details={"field": where})


def compile_rules(node: Any, where: str = "rules") -> Rule:
    """Check a rule tree and compile it; a bad node is a 422 naming where it is."""
    rule = Rule(test=lambda ctx: True)
    count = [0]
    rule.test = _compile(node, where, rule, count)
    return rule


def _compile(node: Any, where: str, rule: Rule, count: list[int]) -> Callable[[Context], bool]:
    count[0] += 1
    if count[0] > MAX_NODES:
        raise _bad(where, f"a rule tree may hold at most {MAX_NODES} nodes")
    if not isinstance(node, dict) or not node:
        raise _bad(where, "a rule node is a non-empty object")
    if "and" in node or "or" in node:
        kind = "and" if "and" in node else "or"
        items = node[kind]
        if len(node) != 1 or not isinstance(items, list) or not items:
            raise _bad(where, f"'{kind}' takes a non-empty list of nodes, alone")
        parts = [_compile(item, f"{where}.{kind}.{i}", rule, count) for i, item in enumerate(items)]
        if kind == "and":
            return lambda ctx: all(part(ctx) for part in parts)
        return lambda ctx: any(part(ctx) for part in parts)
    if "not" in node:
        if len(node) != 1:
            raise _bad(where, "'not' takes one node, alone")
        inner = _compile(node["not"], f"{where}.not", rule, count)
        return lambda ctx: not inner(ctx)
    return _condition(node, where, rule)


def _op(node: dict[str, Any], where: str, allowed: tuple[str, ...] = OPS) -> tuple[str, Any]:
    op = node.get("op", "eq")
    if op not in allowed:
        raise _bad(f"{where}.op", f"unknown op {op!r}; known: {', '.join(allowed)}")
    if op != "exists" and "value" not in node:
        raise _bad(f"{where}.value", f"'{op}' needs a value")
    if op in ("in", "not_in") and not isinstance(node["value"], list):
        raise _bad(f"{where}.value", f"'{op}' needs a list")
    return op, node.get("value")


def _only(node: dict[str, Any], where: str, allowed: set[str]) -> None:
    extra = sorted(set(node) - allowed)
    if extra:
        raise _bad(f"{where}.{extra[0]}", "unknown key in this condition")


def _condition(node: dict[str, Any], where: str, rule: Rule) -> Callable[[Context], bool]:
    rule.kinds.update(k for k in node if k in CONDITIONS)
    if "trait" in node or "computed" in node:
        source = "trait" if "trait" in node else "computed"
        _only(node, where, {source, "op", "value"})
        name = node[source]
        if not isinstance(name, str) or not name:
            raise _bad(f"{where}.{source}", "needs a trait name")
        op, value = _op(node, where)
        bag = "traits" if source == "trait" else "computed"
        rule.needs_computed |= source == "computed"
        return lambda ctx: compare(ctx[bag].get(name), op, value)
    if "field" in node:
        _only(node, where, {"field", "op", "value"})
        name = node["field"]
        if name not in FIELDS:
            raise _bad(f"{where}.field", f"unknown field; known: {', '.join(FIELDS)}")
        op, value = _op(node, where)
        return lambda ctx: compare(ctx["fields"].get(name), op, value)
    if "pattern" in node:
        _only(node, where, {"pattern"})
        wanted = node["pattern"]
        values = wanted if isinstance(wanted, list) else [wanted]
        if not values or not all(isinstance(v, str) for v in values):
            raise _bad(f"{where}.pattern", "needs a pattern name or a list of them")
        rule.needs_pattern = True
        return lambda ctx: ctx["pattern"] in values
    if "affinity" in node:
        _only(node, where, {"affinity", "op", "value"})
        dim = node["affinity"]
        if not isinstance(dim, str) or ":" not in dim:
            raise _bad(f"{where}.affinity", "needs a dimension such as category:shoes")
        op, value = _op(node, where, ("gt", "gte", "lt", "lte", "exists"))
        rule.needs_affinity = True
        return lambda ctx: compare(ctx["affinities"].get(dim, 0.0), op, value)
    if "event" in node:
        _only(node, where, {"event", "min", "max", "within_days"})
        name, high = node["event"], node.get("max")
        low = node.get("min", 0 if high is not None else 1)  # "max": 0 alone is "did not"
        days = node.get("within_days", 30)
        if not isinstance(name, str) or not name:
            raise _bad(f"{where}.event", "needs an event type")
        for label, number in (("min", low), ("max", high), ("within_days", days)):
            if number is not None and (type(number) is not int or number < 0):
                raise _bad(f"{where}.{label}", "must be a whole number, 0 or more")
        if not 1 <= days <= 3650:
            raise _bad(f"{where}.within_days", "must be between 1 and 3650")
        rule.behaviours.add((name, days))
        return lambda ctx: (
            low <= ctx["behaviour"].get((name, days), 0)
            and (high is None or ctx["behaviour"].get((name, days), 0) <= high)
        )
    if "last_active_between_days" in node:
        _only(node, where, {"last_active_between_days"})
        span = node["last_active_between_days"]
        if (
            not isinstance(span, list)
            or len(span) != 2
            or not all(type(v) is int and v >= 0 for v in span)
            or span[0] >= span[1]
        ):
            raise _bad(f"{where}.last_active_between_days", "needs [from_days, to_days], from < to")
        low, high = span
        return lambda ctx: low <= ctx["fields"]["days_since_last_seen"] < high
    raise _bad(where, "unknown condition")
