"""The segment builder's rows and the rule tree they stand for, both ways.

The builder edits a flat list of conditions joined by "all" (``and``) or "any" (``or``),
each optionally negated (``not``). A tree that does not fit that shape (nested groups) is
edited as JSON instead; both end up as the same ``rules`` of ``POST /v1/segments``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sessionhub.dashboard.personalization_forms import number, scalar, shown, texts
from sessionhub.errors import InvalidInput

KINDS = {
    "trait": "Trait",
    "computed": "Computed trait",
    "field": "Profile field",
    "pattern": "Pattern",
    "affinity": "Affinity",
    "event": "Did event",
    "inactive": "Last active between (days ago)",
}
OPS = {
    "eq": "=",
    "neq": "≠",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "in": "in",
    "not_in": "not in",
    "contains": "contains",
    "exists": "exists",
}
EVENT_OPS = {"gte": "min", "lte": "max"}  # "eq" sets both
MAX_ROWS = 30


@dataclass
class Row:
    """One condition as the builder shows it."""

    kind: str = "trait"
    negate: bool = False
    subject: str = ""
    op: str = "eq"
    value: str = ""
    days: str = ""


def _value(row: Row) -> Any:
    if row.op in ("in", "not_in"):
        return [scalar(part.strip()) for part in row.value.split(",") if part.strip()]
    return scalar(row.value)


def _condition(row: Row, where: str) -> dict[str, Any]:
    """The rule node of one row; a 422 naming the row when it is incomplete."""
    kind = row.kind
    if kind not in KINDS:
        raise InvalidInput(f"{where}: unknown condition kind.", details={"field": where})
    if kind == "pattern":
        names = [p.strip() for p in (row.value or row.subject).split(",") if p.strip()]
        if not names:
            raise InvalidInput(f"{where}: name a pattern.", details={"field": where})
        return {"pattern": names[0] if len(names) == 1 else names}
    if kind == "inactive":
        low = int(number(row.value, f"{where}.value", whole=True))
        high = int(number(row.days, f"{where}.days", whole=True))
        return {"last_active_between_days": [low, high]}
    if not row.subject:
        raise InvalidInput(f"{where}: give a name.", details={"field": f"{where}.subject"})
    if kind == "event":
        times = int(number(row.value or "1", f"{where}.value", whole=True))
        node: dict[str, Any] = {"event": row.subject}
        if row.op == "eq":
            node.update(min=times, max=times)
        else:
            node[EVENT_OPS.get(row.op, "min")] = times
        node["within_days"] = int(number(row.days or "30", f"{where}.days", whole=True))
        return node
    node = {kind: row.subject, "op": row.op}
    if row.op != "exists":
        node["value"] = number(row.value, f"{where}.value") if kind == "affinity" else _value(row)
    return node


def rules_of(rows: list[Row], match: str) -> dict[str, Any]:
    """The rule tree of the builder's rows: all (``and``) or any (``or``) of them."""
    if not rows:
        raise InvalidInput("Add at least one condition.", details={"field": "rows"})
    nodes = []
    for i, row in enumerate(rows):
        node = _condition(row, f"rows.{i}")
        nodes.append({"not": node} if row.negate else node)
    if len(nodes) == 1:
        return nodes[0]
    return {"or" if match == "any" else "and": nodes}


def rows_from_form(form: Any) -> list[Row]:
    """The builder's rows as submitted (fields repeat once per row, in order)."""
    columns = [
        texts(form, f"c_{name}", most=MAX_ROWS)
        for name in ("kind", "negate", "subject", "op", "value", "days")
    ]
    longest = max(len(column) for column in columns)
    padded = [column + [""] * (longest - len(column)) for column in columns]
    rows = []
    for kind, negate, subject, op, value, days in zip(*padded, strict=True):
        if not (subject or value or days) and kind != "inactive":
            continue  # an untouched blank row
        row = Row(kind or "trait", negate == "not", subject, op if op in OPS else "eq", value, days)
        rows.append(row)
    return rows


def _row(node: Any) -> Row | None:
    negate = False
    if isinstance(node, dict) and set(node) == {"not"}:
        negate, node = True, node["not"]
    if not isinstance(node, dict):
        return None
    for kind in ("trait", "computed", "field"):
        if kind in node and set(node) <= {kind, "op", "value"}:
            op, value = node.get("op", "eq"), node.get("value")
            text = ", ".join(shown(v) for v in value) if isinstance(value, list) else shown(value)
            return Row(kind, negate, str(node[kind]), op, "" if op == "exists" else text)
    if "affinity" in node and set(node) <= {"affinity", "op", "value"}:
        op = node.get("op", "eq")
        value = "" if op == "exists" else shown(node.get("value"))
        return Row("affinity", negate, str(node["affinity"]), op, value)
    if set(node) == {"pattern"}:
        names = node["pattern"] if isinstance(node["pattern"], list) else [node["pattern"]]
        return Row("pattern", negate, value=", ".join(str(n) for n in names))
    if "event" in node and set(node) <= {"event", "min", "max", "within_days"}:
        low, high = node.get("min"), node.get("max")
        days = str(node.get("within_days", 30))
        if low is not None and low == high:
            return Row("event", negate, str(node["event"]), "eq", str(low), days)
        if high is not None and low in (None, 0):
            return Row("event", negate, str(node["event"]), "lte", str(high), days)
        if high is None:
            return Row("event", negate, str(node["event"]), "gte", str(low or 1), days)
        return None
    if set(node) == {"last_active_between_days"}:
        span = node["last_active_between_days"]
        if isinstance(span, list) and len(span) == 2:
            return Row("inactive", negate, "", "eq", str(span[0]), str(span[1]))
    return None


def rows_of(rules: dict[str, Any]) -> tuple[str, list[Row]] | None:
    """The builder's match and rows for a rule tree; None when it needs the JSON editor."""
    match, nodes = "all", [rules]
    if set(rules) == {"and"} or set(rules) == {"or"}:
        match = "all" if "and" in rules else "any"
        nodes = rules["and" if match == "all" else "or"]
    rows = [_row(node) for node in nodes]
    if not rows or any(row is None for row in rows):
        return None
    return match, [row for row in rows if row is not None]
