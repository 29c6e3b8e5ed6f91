"""Session state endpoints: preferences, cart, key/value state in three scopes, response cache.

All need a secret key.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import Response

from sessionhub.api.auth import app_id_of, get_engine
from sessionhub.api.params import SecretCaller, SessionPath, UserPath
from sessionhub.api.responses import json_response
from sessionhub.models import (
    CacheEntry,
    CacheLookup,
    CachePut,
    CacheResult,
    CacheStats,
    Cart,
    CartItemIn,
    CartQuantity,
    Preferences,
    StateEntries,
    StateEntry,
    StatePut,
    StateScope,
)

router = APIRouter(prefix="/v1", tags=["state"])

KeyPath = Annotated[str, Path(max_length=200)]
JsonObject = Annotated[dict[str, Any], Body()]
SessionScope = Annotated[
    StateScope,
    Query(description="session: this session's; user: its user's (shared by their sessions); app."),
]

# -- preferences ----------------------------------------------------------------------------


@router.get("/sessions/{session_id}/preferences", response_model=Preferences)
async def get_preferences(
    session_id: SessionPath, request: Request, caller: SecretCaller
) -> Response:
    return json_response(await get_engine(request).preferences.get(app_id_of(caller), session_id))


@router.patch("/sessions/{session_id}/preferences", response_model=Preferences)
async def patch_preferences(
    session_id: SessionPath, body: JsonObject, request: Request, caller: SecretCaller
) -> Response:
    """Apply a JSON merge patch (RFC 7396): objects merge, ``null`` removes a key."""
    return json_response(
        await get_engine(request).preferences.patch(app_id_of(caller), session_id, body)
    )


@router.put("/sessions/{session_id}/preferences", response_model=Preferences)
async def replace_preferences(
    session_id: SessionPath, body: JsonObject, request: Request, caller: SecretCaller
) -> Response:
    """Replace the preferences as a whole."""
    return json_response(
        await get_engine(request).preferences.replace(app_id_of(caller), session_id, body)
    )


@router.delete("/sessions/{session_id}/preferences/{key}", response_model=Preferences)
async def delete_preference(
    session_id: SessionPath, key: KeyPath, request: Request, caller: SecretCaller
) -> Response:
    """Remove one preference (404 when it is not set)."""
    return json_response(
        await get_engine(request).preferences.delete_key(app_id_of(caller), session_id, key)
    )


# -- cart -----------------------------------------------------------------------------------


@router.get("/sessions/{session_id}/cart", response_model=Cart)
async def get_cart(session_id: SessionPath, request: Request, caller: SecretCaller) -> Response:
    """The cart with its item count and total (decimal strings)."""
    return json_response(await get_engine(request).cart.get(app_id_of(caller), session_id))


@router.post("/sessions/{session_id}/cart/items", response_model=Cart)
async def add_cart_item(
    session_id: SessionPath, body: CartItemIn, request: Request, caller: SecretCaller
) -> Response:
    """Add an item; adding a sku already in the cart adds to its quantity."""
    return json_response(await get_engine(request).cart.add(app_id_of(caller), session_id, body))


@router.patch("/sessions/{session_id}/cart/items/{sku}", response_model=Cart)
async def set_cart_quantity(
    session_id: SessionPath,
    sku: KeyPath,
    body: CartQuantity,
    request: Request,
    caller: SecretCaller,
) -> Response:
    """Set an item's quantity."""
    cart = await get_engine(request).cart.set_quantity(
        app_id_of(caller), session_id, sku, body.quantity
    )
    return json_response(cart)


@router.delete("/sessions/{session_id}/cart/items/{sku}", response_model=Cart)
async def remove_cart_item(
    session_id: SessionPath, sku: KeyPath, request: Request, caller: SecretCaller
) -> Response:
    return json_response(await get_engine(request).cart.remove(app_id_of(caller), session_id, sku))


@router.delete("/sessions/{session_id}/cart")
async def clear_cart(session_id: SessionPath, request: Request, caller: SecretCaller) -> Response:
    """Empty the cart. Returns ``{"removed": n}`` (different items)."""
    removed = await get_engine(request).cart.clear(app_id_of(caller), session_id)
    return json_response({"removed": removed})


# -- key/value state ------------------------------------------------------------------------


@router.get("/sessions/{session_id}/state", response_model=StateEntries)
async def list_session_state(
    session_id: SessionPath, request: Request, caller: SecretCaller, scope: SessionScope = "session"
) -> Response:
    entries = await get_engine(request).state.list(app_id_of(caller), scope, session_id=session_id)
    return json_response(entries)


@router.get("/sessions/{session_id}/state/{key}", response_model=StateEntry)
async def get_session_state(
    session_id: SessionPath,
    key: KeyPath,
    request: Request,
    caller: SecretCaller,
    scope: SessionScope = "session",
) -> Response:
    entry = await get_engine(request).state.get(
        app_id_of(caller), scope, key, session_id=session_id
    )
    return json_response(entry)


@router.put("/sessions/{session_id}/state/{key}", response_model=StateEntry)
async def put_session_state(
    session_id: SessionPath,
    key: KeyPath,
    body: StatePut,
    request: Request,
    caller: SecretCaller,
    scope: SessionScope = "session",
) -> Response:
    """Set a key, with an optional TTL in seconds."""
    entry = await get_engine(request).state.put(
        app_id_of(caller), scope, key, body, session_id=session_id
    )
    return json_response(entry)


@router.delete("/sessions/{session_id}/state/{key}", status_code=204)
async def delete_session_state(
    session_id: SessionPath,
    key: KeyPath,
    request: Request,
    caller: SecretCaller,
    scope: SessionScope = "session",
) -> Response:
    await get_engine(request).state.delete(app_id_of(caller), scope, key, session_id=session_id)
    return Response(status_code=204)


@router.get("/users/{user_id}/state", response_model=StateEntries)
async def list_user_state(user_id: UserPath, request: Request, caller: SecretCaller) -> Response:
    entries = await get_engine(request).state.list(app_id_of(caller), "user", user_id=user_id)
    return json_response(entries)


@router.get("/users/{user_id}/state/{key}", response_model=StateEntry)
async def get_user_state(
    user_id: UserPath, key: KeyPath, request: Request, caller: SecretCaller
) -> Response:
    entry = await get_engine(request).state.get(app_id_of(caller), "user", key, user_id=user_id)
    return json_response(entry)


@router.put("/users/{user_id}/state/{key}", response_model=StateEntry)
async def put_user_state(
    user_id: UserPath, key: KeyPath, body: StatePut, request: Request, caller: SecretCaller
) -> Response:
    entry = await get_engine(request).state.put(
        app_id_of(caller), "user", key, body, user_id=user_id
    )
    return json_response(entry)


@router.delete("/users/{user_id}/state/{key}", status_code=204)
async def delete_user_state(
    user_id: UserPath, key: KeyPath, request: Request, caller: SecretCaller
) -> Response:
    await get_engine(request).state.delete(app_id_of(caller), "user", key, user_id=user_id)
    return Response(status_code=204)


@router.get("/state", response_model=StateEntries)
async def list_app_state(request: Request, caller: SecretCaller) -> Response:
    return json_response(await get_engine(request).state.list(app_id_of(caller), "app"))


@router.get("/state/{key}", response_model=StateEntry)
async def get_app_state(key: KeyPath, request: Request, caller: SecretCaller) -> Response:
    return json_response(await get_engine(request).state.get(app_id_of(caller), "app", key))


@router.put("/state/{key}", response_model=StateEntry)
async def put_app_state(
    key: KeyPath, body: StatePut, request: Request, caller: SecretCaller
) -> Response:
    return json_response(await get_engine(request).state.put(app_id_of(caller), "app", key, body))


@router.delete("/state/{key}", status_code=204)
async def delete_app_state(key: KeyPath, request: Request, caller: SecretCaller) -> Response:
    await get_engine(request).state.delete(app_id_of(caller), "app", key)
    return Response(status_code=204)


# -- response cache -------------------------------------------------------------------------


@router.put("/sessions/{session_id}/cache", response_model=CacheEntry)
async def put_session_cache(
    session_id: SessionPath, body: CachePut, request: Request, caller: SecretCaller
) -> Response:
    """Store an answer for a prompt in the session's cache."""
    entry = await get_engine(request).response_cache.put(
        app_id_of(caller), body, session_id=session_id
    )
    return json_response(entry)


@router.post("/sessions/{session_id}/cache/lookup", response_model=CacheResult)
async def lookup_session_cache(
    session_id: SessionPath, body: CacheLookup, request: Request, caller: SecretCaller
) -> Response:
    """The session's cached answer for a prompt (normalized), counting a hit or a miss."""
    result = await get_engine(request).response_cache.lookup(
        app_id_of(caller), body, session_id=session_id
    )
    return json_response(result)


@router.get("/sessions/{session_id}/cache/stats", response_model=CacheStats)
async def session_cache_stats(
    session_id: SessionPath, request: Request, caller: SecretCaller
) -> Response:
    stats = await get_engine(request).response_cache.stats(app_id_of(caller), session_id=session_id)
    return json_response(stats)


@router.delete("/sessions/{session_id}/cache")
async def clear_session_cache(
    session_id: SessionPath, request: Request, caller: SecretCaller
) -> Response:
    removed = await get_engine(request).response_cache.clear(
        app_id_of(caller), session_id=session_id
    )
    return json_response({"removed": removed})


@router.put("/cache", response_model=CacheEntry)
async def put_app_cache(body: CachePut, request: Request, caller: SecretCaller) -> Response:
    """Store an answer for a prompt in the app-wide cache."""
    return json_response(await get_engine(request).response_cache.put(app_id_of(caller), body))


@router.post("/cache/lookup", response_model=CacheResult)
async def lookup_app_cache(body: CacheLookup, request: Request, caller: SecretCaller) -> Response:
    return json_response(await get_engine(request).response_cache.lookup(app_id_of(caller), body))


@router.get("/cache/stats", response_model=CacheStats)
async def app_cache_stats(request: Request, caller: SecretCaller) -> Response:
    return json_response(await get_engine(request).response_cache.stats(app_id_of(caller)))


@router.delete("/cache")
async def clear_app_cache(request: Request, caller: SecretCaller) -> Response:
    removed = await get_engine(request).response_cache.clear(app_id_of(caller))
    return json_response({"removed": removed})
