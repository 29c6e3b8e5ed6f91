"""Profiles, personalization settings, segments and recommendations under /v1."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from sessionhub.api.auth import app_id_of, get_engine
from sessionhub.api.params import Cursor, DevicePath, Limit, SecretCaller, UserPath
from sessionhub.api.responses import json_response
from sessionhub.models import Page
from sessionhub.models.personalization import (
    Membership,
    PersonalizationSettings,
    Profile,
    Rebuild,
    Rebuilt,
    Recommendations,
    Segment,
    SegmentCount,
    SegmentHistory,
    SegmentIn,
    Strategy,
    TraitsPatch,
    Vector,
)

router = APIRouter(prefix="/v1", tags=["personalization"])

KeyPath = Annotated[str, Path(description="The segment's key.", max_length=100)]
IdQuery = Annotated[str | None, Query(min_length=1, max_length=200)]


# -- profiles --------------------------------------------------------------------------------


@router.get("/profiles", response_model=Page[Profile])
async def list_profiles(
    request: Request,
    caller: SecretCaller,
    kind: Literal["user", "device"] = "user",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """User (or anonymous device) profiles, by id."""
    page = await get_engine(request).personalization.profiles.list(
        app_id_of(caller), kind=kind, limit=limit, cursor=cursor
    )
    return json_response(page)


@router.post("/profiles/rebuild", response_model=Rebuilt)
async def rebuild_profiles(body: Rebuild, request: Request, caller: SecretCaller) -> Response:
    """Recompute profiles (one user's, or all) from raw events, keeping the traits set."""
    engine = get_engine(request)
    return json_response(
        await engine.personalization.profiles.rebuild(app_id_of(caller), body.user_id)
    )


@router.get("/profiles/{user_id}", response_model=Profile)
async def get_profile(user_id: UserPath, request: Request, caller: SecretCaller) -> Response:
    """A user's profile: activity, traits, computed traits, scores, lifecycle, affinities."""
    engine = get_engine(request)
    return json_response(await engine.personalization.profiles.get(app_id_of(caller), user_id))


@router.patch("/profiles/{user_id}/traits", response_model=Profile)
async def set_traits(
    user_id: UserPath, body: TraitsPatch, request: Request, caller: SecretCaller
) -> Response:
    """Merge-patch the user's traits (null removes one); 403 without personalization consent."""
    engine = get_engine(request)
    profile = await engine.personalization.profiles.set_traits(
        app_id_of(caller), user_id, body.traits
    )
    return json_response(profile)


@router.get("/profiles/{user_id}/vector", response_model=Vector)
async def get_vector(
    user_id: UserPath,
    request: Request,
    caller: SecretCaller,
    half_life_days: Annotated[float | None, Query(gt=0, le=3650)] = None,
) -> Response:
    """The user's affinity vector, normalised; another half-life recomputes from raw events."""
    engine = get_engine(request)
    vector = await engine.personalization.profiles.vector(
        app_id_of(caller), user_id, half_life_days=half_life_days
    )
    return json_response(vector)


@router.get("/devices/{device_id}/profile", response_model=Profile)
async def get_device_profile(
    device_id: DevicePath, request: Request, caller: SecretCaller
) -> Response:
    """An anonymous device's profile (until the device is identified)."""
    engine = get_engine(request)
    profile = await engine.personalization.profiles.get(app_id_of(caller), device_id, "device")
    return json_response(profile)


@router.get("/personalization/settings", response_model=PersonalizationSettings)
async def get_settings(request: Request, caller: SecretCaller) -> Response:
    """How the app's profiles, vectors and recommendations are computed."""
    engine = get_engine(request)
    return json_response(await engine.personalization.profiles.settings(app_id_of(caller)))


@router.put("/personalization/settings", response_model=PersonalizationSettings)
async def put_settings(
    body: PersonalizationSettings, request: Request, caller: SecretCaller
) -> Response:
    """Replace the settings; rebuild profiles to apply them to past events."""
    engine = get_engine(request)
    return json_response(await engine.personalization.profiles.configure(app_id_of(caller), body))


# -- segments --------------------------------------------------------------------------------


@router.post("/segments", response_model=Segment)
async def put_segment(body: SegmentIn, request: Request, caller: SecretCaller) -> Response:
    """Create or replace a segment: a rule tree, or a static list of users."""
    engine = get_engine(request)
    return json_response(await engine.personalization.segments.put(app_id_of(caller), body))


@router.get("/segments", response_model=list[Segment])
async def list_segments(request: Request, caller: SecretCaller) -> Response:
    """The app's segments."""
    segments = await get_engine(request).personalization.segments.list(app_id_of(caller))
    return json_response([s.model_dump(mode="json") for s in segments])


@router.get("/segments/{key}", response_model=Segment)
async def get_segment(key: KeyPath, request: Request, caller: SecretCaller) -> Response:
    engine = get_engine(request)
    return json_response(await engine.personalization.segments.get(app_id_of(caller), key))


@router.delete("/segments/{key}", status_code=204)
async def delete_segment(key: KeyPath, request: Request, caller: SecretCaller) -> Response:
    await get_engine(request).personalization.segments.delete(app_id_of(caller), key)
    return Response(status_code=204)


@router.get("/segments/{key}/members", response_model=Page[str])
async def segment_members(
    key: KeyPath, request: Request, caller: SecretCaller, limit: Limit = 100, cursor: Cursor = None
) -> Response:
    """The segment's members now, by user id."""
    engine = get_engine(request)
    page = await engine.personalization.segments.members(
        app_id_of(caller), key, limit=limit, cursor=cursor
    )
    return json_response(page)


@router.get("/segments/{key}/members/{user_id}", response_model=Membership)
async def segment_membership(
    key: KeyPath, user_id: UserPath, request: Request, caller: SecretCaller
) -> Response:
    """Whether the user is in the segment now."""
    engine = get_engine(request)
    return json_response(
        await engine.personalization.segments.check(app_id_of(caller), key, user_id)
    )


@router.get("/segments/{key}/count", response_model=SegmentCount)
async def segment_count(key: KeyPath, request: Request, caller: SecretCaller) -> Response:
    engine = get_engine(request)
    return json_response(await engine.personalization.segments.count(app_id_of(caller), key))


@router.get("/segments/{key}/history", response_model=SegmentHistory)
async def segment_history(
    key: KeyPath,
    request: Request,
    caller: SecretCaller,
    days: Annotated[int, Query(ge=1, le=3650)] = 90,
) -> Response:
    """The segment's size per day, as the worker recorded it."""
    engine = get_engine(request)
    return json_response(
        await engine.personalization.segments.history(app_id_of(caller), key, days)
    )


# -- recommendations -------------------------------------------------------------------------


@router.get("/recommendations", response_model=Recommendations)
async def recommendations(
    request: Request,
    caller: SecretCaller,
    strategy: Strategy | None = None,
    user_id: IdQuery = None,
    session_id: IdQuery = None,
    item_id: IdQuery = None,
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    category: Annotated[str | None, Query(max_length=200)] = None,
    exclude_seen: bool = True,
) -> Response:
    """Items for a user, a session or an item (or the popular ones), each with its reasons."""
    engine = get_engine(request)
    result = await engine.personalization.recommendations.recommend(
        app_id_of(caller),
        strategy=strategy,
        user_id=user_id,
        session_id=session_id,
        item_id=item_id,
        k=k,
        category=category,
        exclude_seen=exclude_seen,
    )
    return json_response(result)


@router.post("/recommendations/rebuild", response_model=dict[str, int])
async def rebuild_recommendations(request: Request, caller: SecretCaller) -> Response:
    """Rebuild the item model now (it is otherwise rebuilt every few minutes)."""
    items = await get_engine(request).personalization.recommendations.rebuild(app_id_of(caller))
    return json_response({"items": items})
