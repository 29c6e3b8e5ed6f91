"""Progress: percent done weighted by goal estimates, per session and per milestone.

Only leaf goals count (a goal with sub-goals is as done as they are), and skipped goals
count for nothing either way. Each goal weighs its estimate; a goal without one weighs
the mean of the estimated ones, and when none has an estimate every goal weighs the same.
A milestone is complete when it groups at least one goal and each is done or skipped
with at least one done: derived from the goals, never declared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

CLOSED = frozenset({"done", "skipped"})

Row = Mapping[str, Any]


def leaves(goals: Sequence[Row]) -> list[Row]:
    parents = {goal["parent_id"] for goal in goals if goal["parent_id"] is not None}
    return [goal for goal in goals if goal["id"] not in parents]


def percent_done(goals: Sequence[Row]) -> tuple[float, str]:
    """(percent of the weight that is done, "estimates" or "equal")."""
    counted = [goal for goal in goals if goal["status"] != "skipped"]
    estimates = [goal["estimate_s"] for goal in counted if goal["estimate_s"] is not None]
    if not counted:
        return 0.0, "equal"
    if estimates:
        mean = sum(estimates) / len(estimates)
        weights = [
            goal["estimate_s"] if goal["estimate_s"] is not None else mean for goal in counted
        ]
        weighting = "estimates"
    else:
        weights = [1.0] * len(counted)
        weighting = "equal"
    done = sum(w for goal, w in zip(counted, weights, strict=True) if goal["status"] == "done")
    return round(100.0 * done / sum(weights), 2), weighting


def milestone_state(goals: Sequence[Row]) -> tuple[str, int | None]:
    """("completed", when) once every goal is done or skipped and one is done, else ("open", None)."""
    if not goals or any(goal["status"] not in CLOSED for goal in goals):
        return "open", None
    done_at = [goal["done_at"] for goal in goals if goal["status"] == "done" and goal["done_at"]]
    if not done_at:
        return "open", None
    return "completed", max(done_at)
