"""models.common.unstorable: what no backend can store is found, and said where."""

from __future__ import annotations

from typing import Any

import pytest

from sessionhub.models.common import MAX_JSON_DEPTH, unstorable


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


def _batch(size: int) -> list[dict[str, Any]]:
    return [{"type": "action", "properties": {"a": {"b": [1, 2]}}} for _ in range(size)]


def test_a_large_batch_of_small_objects_is_storable() -> None:
    """Many brackets across a list's items are not depth: 500 small events pass."""
    assert unstorable(_batch(500)) is None


@pytest.mark.parametrize(
    ("poison", "expected"),
    [
        ("a\x00b", "NUL characters (\\u0000) are not allowed (at 150.properties.a.b)"),
        (2**70, "integers must fit in 64 bits (at 150.properties.a.b)"),
    ],
    ids=["nul", "big-int"],
)
def test_a_bad_value_in_one_item_of_a_batch_is_named_by_its_path(
    poison: Any, expected: str
) -> None:
    """The walk starts from the failing item, so the path names it from the batch's top."""
    batch = _batch(300)
    batch[150]["properties"]["a"]["b"] = poison
    assert expected == unstorable(batch)


def test_nesting_past_the_limit_inside_a_batch_item_is_refused() -> None:
    """Depth counts from the top of the whole value, list levels included."""
    batch: list[Any] = [{"ok": 1}, _nested(MAX_JSON_DEPTH)]
    problem = unstorable(batch)
    assert problem is not None
    assert problem.startswith(f"JSON may be nested at most {MAX_JSON_DEPTH} levels deep (at 1.")


def test_nesting_just_under_the_limit_is_storable() -> None:
    """A value exactly MAX_JSON_DEPTH - 1 levels deep under a list item is fine."""
    assert unstorable([_nested(MAX_JSON_DEPTH - 2)]) is None
