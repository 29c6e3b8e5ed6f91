"""Measure the browser tracker as the server sends it; print the figures as one JSON document.

The script is fetched from the API app itself (in-process, over ASGI), once as it is and
once gzip-encoded, so the figures are those of the bytes a browser downloads from
``/sdk/sessionhub.js`` (and ``/sdk/sessionhub.mjs``). The budget is 4096 bytes gzipped.

    scripts/bench tracker_size        # or: .venv/bin/python bench/tracker_size.py
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

import httpx
import orjson

from sessionhub import Engine, Settings
from sessionhub.api import create_app

BUDGET_GZIP_BYTES = 4096


async def served_sizes(path: str) -> dict[str, int]:
    """The bytes of ``path`` from a fresh app: as it is, and gzip-encoded on the wire."""
    with tempfile.TemporaryDirectory() as data:
        engine = Engine(Settings(data_dir=Path(data), run_worker=False))
        app = create_app(engine, run_worker=False, manage_engine=False)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            plain = await client.get(path, headers={"Accept-Encoding": "identity"})
            # Read the raw (still compressed) bytes: what travels, not what httpx decodes.
            async with client.stream("GET", path, headers={"Accept-Encoding": "gzip"}) as zipped:
                assert zipped.headers.get("content-encoding") == "gzip", zipped.headers
                wire = b"".join([chunk async for chunk in zipped.aiter_raw()])
        plain.raise_for_status()
        return {"raw_bytes": len(plain.content), "gzip_bytes": len(wire)}


async def run() -> dict[str, Any]:
    script = await served_sizes("/sdk/sessionhub.js")
    module = await served_sizes("/sdk/sessionhub.mjs")
    return {
        **script,
        "budget_gzip_bytes": BUDGET_GZIP_BYTES,
        "within_budget": script["gzip_bytes"] <= BUDGET_GZIP_BYTES,
        "module": module,
        "path": "/sdk/sessionhub.js",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    print(orjson.dumps(asyncio.run(run()), option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
