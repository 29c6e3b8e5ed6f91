"""The segment builder's rows and rule trees, both ways (no storage involved)."""

from __future__ import annotations

from typing import Any

import pytest

from sessionhub.core.personalization.rules import compile_rules
from sessionhub.dashboard.personalization_rules import Row, rows_of, rules_of
from sessionhub.errors import InvalidInput

ROWS = [
    Row("trait", False, "plan", "eq", "pro"),
    Row("trait", True, "age", "gte", "18"),
    Row("trait", False, "code", "eq", '"42"'),
    Row("computed", False, "orders", "in", '1, 2, three, "4"'),
    Row("field", False, "lifecycle", "neq", "dormant"),
    Row("trait", False, "email", "exists", ""),
    Row("pattern", False, "", "eq", "power_user, regular_user"),
    Row("affinity", False, "category:shoes", "gte", "0.25"),
    Row("event", False, "purchase", "gte", "3", "30"),
    Row("event", True, "refund", "lte", "0", "90"),
    Row("event", False, "login", "eq", "2", "7"),
    Row("inactive", False, "", "eq", "30", "90"),
]


@pytest.mark.parametrize("match", ["all", "any"])
def test_rows_make_a_valid_tree_that_reads_back_as_the_same_rows(match: str) -> None:
    """Every kind of row gives a tree the core accepts, and the tree gives the rows back."""
    rules = rules_of(ROWS, match)
    compile_rules(rules)
    assert [("or" if match == "any" else "and")] == list(rules)
    assert (match, ROWS) == rows_of(rules)


def test_values_are_typed_as_json_where_they_read_as_json() -> None:
    """Numbers and true stay numbers and booleans; a quoted number stays text."""
    rules = rules_of(ROWS[:4], "all")
    values = [node.get("value", node.get("not", {}).get("value")) for node in rules["and"]]
    assert ["pro", 18, "42", [1, 2, "three", "4"]] == values


@pytest.mark.parametrize(
    "rules",
    [
        {"and": [{"or": [{"trait": "a", "op": "eq", "value": 1}]}]},
        {"event": "buy", "min": 2, "max": 5, "within_days": 3},
        {"not": {"not": {"trait": "a", "op": "eq", "value": 1}}},
    ],
)
def test_trees_the_rows_cannot_hold_go_to_the_json_editor(rules: dict[str, Any]) -> None:
    """Nested groups, a min-and-max range or a double negation are not flattened."""
    assert rows_of(rules) is None


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (Row("trait", False, "", "eq", "x"), "rows.0.subject"),
        (Row("event", False, "buy", "gte", "lots", "30"), "rows.0.value"),
        (Row("inactive", False, "", "eq", "30", "soon"), "rows.0.days"),
        (Row("affinity", False, "category:x", "gte", "high"), "rows.0.value"),
        (Row("nonsense", False, "x", "eq", "1"), "rows.0"),
    ],
)
def test_an_incomplete_row_is_a_422_naming_it(row: Row, field: str) -> None:
    """A row missing its name or with a word for a number names the row and the field."""
    with pytest.raises(InvalidInput) as caught:
        rules_of([row], "all")
    assert field == caught.value.details["field"]
