"""Cycles among goals: sub-goal trees and ``depends_on`` links must never loop."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def find_cycle(edges: Mapping[K, Sequence[K]]) -> list[K] | None:
    """A cycle in the directed graph ``edges`` (node -> nodes it points to), or None.

    The cycle is returned as the nodes along it, the first repeated at the end.
    """
    state: dict[K, int] = {}  # 1: on the current path, 2: finished
    for start in edges:
        if start in state:
            continue
        path: list[K] = [start]
        stack = [iter(edges.get(start, ()))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
                continue
            seen = state.get(nxt)
            if seen == 1:
                return [*path[path.index(nxt) :], nxt]
            if seen is None:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(edges.get(nxt, ())))
    return None
