"""Large request bodies are parsed by ``api.bodies.loads``: what ``json.loads`` makes of them."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionhub import Engine
from sessionhub.api.bodies import loads
from sessionhub.models import SessionCreate
from tests.conftest import Keys, bearer

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()  # any size: json.loads keeps them exact, and so must loads
    | st.floats()  # with NaN and ±Infinity, which json.dumps writes and json.loads reads
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


@given(JSON_VALUES, st.booleans(), st.sampled_from([None, 2]))
def test_loads_reads_what_json_loads_reads(
    value: Any, ascii_only: bool, indent: int | None
) -> None:
    """The same value, to the type, the sign of a zero and the order of keys."""
    text = json.dumps(value, ensure_ascii=ascii_only, indent=indent)
    assert repr(json.loads(text)) == repr(loads(text))
    assert repr(json.loads(text)) == repr(loads(text.encode()))


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": "\\ud800"}',  # a lone surrogate escape: pydantic_core's parser refuses it
        b'\xef\xbb\xbf{"a": 1}',  # a UTF-8 byte order mark: so does it
        b'{"a": 1, "b": 2, "a": 3}',  # a repeated key: the last value, at the first place
        b'{"a": 1e400, "b": -Infinity, "c": NaN}',
        b'{"n": 123456789012345678901234567890, "m": -9223372036854775809}',
        b"[1.5e-324, 2.2250738585072011e-308, 0.30000000000000004]",
    ],
)
def test_loads_reads_what_the_other_parser_refuses_or_may_read_otherwise(body: bytes) -> None:
    assert repr(json.loads(body)) == repr(loads(body))


@pytest.mark.parametrize("body", [b"{", b'{"a": }', b"[1, 2,]", b'{"a": "x\ty"}', b"{'a': 1}"])
def test_invalid_json_raises_what_json_loads_raises(body: bytes) -> None:
    """JSONDecodeError, with its message and place: the API answers 400 as before."""
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(body)
    with pytest.raises(json.JSONDecodeError) as raised:
        loads(body)
    assert str(expected.value) == str(raised.value)


async def test_an_event_batch_goes_through_either_parser(
    api: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    """Through the API: a batch both parsers read, one only ``json.loads`` reads, one neither
    reads, and one with an integer beyond 64 bits (rejected by index, not rounded)."""
    session, _ = await engine.sessions.create(keys.app_id, SessionCreate())

    def batch(properties: str) -> bytes:
        events = [
            f'{{"id": "{uuid.uuid4()}", "session_id": "{session.id}", "type": "action",'
            f' "properties": {properties}}}',
            f'{{"id": "{uuid.uuid4()}", "session_id": "{session.id}", "type": "page_view"}}',
        ]
        return f'{{"events": [{", ".join(events)}]}}'.encode()

    async def send(body: bytes) -> httpx.Response:
        headers = {**bearer(keys.publishable), "Content-Type": "application/json"}
        return await api.post("/v1/events", content=body, headers=headers)

    plain = await send(batch('{"name": "add_to_cart"}'))
    assert (200, 2) == (plain.status_code, plain.json()["accepted"])
    surrogate = await send(batch('{"name": "\\ud800"}'))
    assert 200 == surrogate.status_code
    assert 1 == surrogate.json()["accepted"]
    assert [0] == [r["index"] for r in surrogate.json()["rejected"]]
    big = await send(batch('{"n": 123456789012345678901234567890}'))
    assert (200, 1) == (big.status_code, big.json()["accepted"])
    assert "fit in 64 bits (at properties.n)" in big.json()["rejected"][0]["message"]
    broken = await send(b'{"events": [')
    assert 400 == broken.status_code
    assert "bad_request" == broken.json()["error"]["code"]
    assert 4 == (await engine.sessions.get(keys.app_id, session.id)).events
