"""Layout of a paths result as a Sankey-style flow: node boxes per depth, links as bands."""

from __future__ import annotations

from dataclasses import dataclass

from sessionhub.models.analytics import PathsResult

WIDTH = 960
COLUMN_GAP = 200
NODE_WIDTH = 14
HEIGHT = 420
GAP = 10


@dataclass(frozen=True)
class Box:
    depth: int
    name: str
    sessions: int
    x: float
    y: float
    height: float


@dataclass(frozen=True)
class Band:
    path: str
    width: float
    sessions: int
    title: str


@dataclass(frozen=True)
class Flow:
    width: int
    height: int
    boxes: list[Box]
    bands: list[Band]


def sankey(result: PathsResult) -> Flow:
    """Place the anchor at depth 0 and each depth's steps in a column, heights ∝ sessions."""
    columns: dict[int, list[tuple[str, int]]] = {0: [(result.anchor, result.sessions)]}
    for node in result.nodes:
        columns.setdefault(node.depth, []).append((node.name, node.sessions))
    biggest = max((sum(count for _, count in items) for items in columns.values()), default=0) or 1
    scale = (HEIGHT - GAP * 8) / biggest
    boxes: dict[tuple[int, str], Box] = {}
    for depth, items in sorted(columns.items()):
        y = 0.0
        for name, count in sorted(items, key=lambda item: -item[1]):
            height = max(2.0, count * scale)
            boxes[(depth, name)] = Box(depth, name, count, depth * COLUMN_GAP, y, height)
            y += height + GAP
    # Each box hands out (and takes in) band space from its top down, in link order.
    out_used: dict[tuple[int, str], float] = {}
    in_used: dict[tuple[int, str], float] = {}
    bands: list[Band] = []
    for link in sorted(result.links, key=lambda link: (link.depth, -link.sessions)):
        source = boxes.get((link.depth - 1, link.source))
        target = boxes.get((link.depth, link.target))
        if source is None or target is None:
            continue
        width = max(1.0, link.sessions * scale)
        y0 = source.y + out_used.get((source.depth, source.name), 0) + width / 2
        y1 = target.y + in_used.get((target.depth, target.name), 0) + width / 2
        out_used[(source.depth, source.name)] = out_used.get((source.depth, source.name), 0) + width
        in_used[(target.depth, target.name)] = in_used.get((target.depth, target.name), 0) + width
        x0, x1 = source.x + NODE_WIDTH, target.x
        middle = (x0 + x1) / 2
        path = f"M{x0:.1f},{y0:.1f} C{middle:.1f},{y0:.1f} {middle:.1f},{y1:.1f} {x1:.1f},{y1:.1f}"
        title = f"{link.source} → {link.target}: {link.sessions}"
        bands.append(Band(path, width, link.sessions, title))
    depth = max(columns)
    height = int(max((b.y + b.height for b in boxes.values()), default=HEIGHT)) + 10
    return Flow(
        depth * COLUMN_GAP + NODE_WIDTH + 180, max(height, 120), list(boxes.values()), bands
    )
