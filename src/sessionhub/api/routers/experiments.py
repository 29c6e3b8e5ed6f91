"""Experiments and ``GET /v1/decide`` under /v1."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from sessionhub.api.auth import app_id_of, get_engine
from sessionhub.api.params import AppCaller, SecretCaller
from sessionhub.api.responses import json_response
from sessionhub.errors import InvalidInput
from sessionhub.models.common import unstorable
from sessionhub.models.personalization import (
    Decision,
    Experiment,
    ExperimentIn,
    ExperimentPatch,
    Results,
)

router = APIRouter(prefix="/v1", tags=["experiments"])

KeyPath = Annotated[str, Path(description="The experiment's key.", max_length=100)]
UnitQuery = Annotated[str | None, Query(min_length=1, max_length=200)]


def checked_text(name: str, value: str | None) -> str | None:
    """A query value the database can hold (no NUL), else a 422 naming it."""
    if value is not None and "\x00" in value:
        raise InvalidInput(f"{name} may not contain NUL characters.", details={"field": name})
    return value


def attributes_of(raw: str | None) -> dict[str, Any]:
    """The ``attributes`` query value: a JSON object, else a 422."""
    if raw is None:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict) or unstorable(value) is not None:
        raise InvalidInput("attributes must be a JSON object.", details={"field": "attributes"})
    return value


@router.get("/decide", response_model=Decision)
async def decide(
    request: Request,
    caller: AppCaller,
    user_id: UnitQuery = None,
    device_id: UnitQuery = None,
    session_id: UnitQuery = None,
    attributes: Annotated[
        str | None, Query(max_length=4096, description="A JSON object for targeting conditions.")
    ] = None,
    track: Annotated[bool, Query(description="Log the exposures of new assignments.")] = True,
) -> Response:
    """The variant of each running experiment for this unit, and their feature values, in one call."""
    engine = get_engine(request)
    decision = await engine.personalization.experiments.decide(
        app_id_of(caller),
        user_id=checked_text("user_id", user_id),
        device_id=checked_text("device_id", device_id),
        session_id=checked_text("session_id", session_id),
        attributes=attributes_of(attributes),
        track=track,
    )
    return json_response(decision)


@router.post("/experiments", response_model=Experiment, status_code=201)
async def create_experiment(body: ExperimentIn, request: Request, caller: SecretCaller) -> Response:
    """Define an experiment: variants and weights, unit, targeting, coverage, namespace, goal."""
    engine = get_engine(request)
    experiment = await engine.personalization.experiments.create(app_id_of(caller), body)
    return json_response(experiment, status=201)


@router.get("/experiments", response_model=list[Experiment])
async def list_experiments(request: Request, caller: SecretCaller) -> Response:
    found = await get_engine(request).personalization.experiments.list(app_id_of(caller))
    return json_response([e.model_dump(mode="json") for e in found])


@router.get("/experiments/{key}", response_model=Experiment)
async def get_experiment(key: KeyPath, request: Request, caller: SecretCaller) -> Response:
    engine = get_engine(request)
    return json_response(await engine.personalization.experiments.get(app_id_of(caller), key))


@router.patch("/experiments/{key}", response_model=Experiment)
async def update_experiment(
    key: KeyPath, body: ExperimentPatch, request: Request, caller: SecretCaller
) -> Response:
    """Start, stop, rename, or change coverage or weights (assigned units keep their variant)."""
    engine = get_engine(request)
    return json_response(
        await engine.personalization.experiments.update(app_id_of(caller), key, body)
    )


@router.get("/experiments/{key}/results", response_model=Results)
async def experiment_results(key: KeyPath, request: Request, caller: SecretCaller) -> Response:
    """Per variant: units, rate or mean with 95% interval, z/Welch p-value, chance to beat
    control and expected loss; the sample-ratio-mismatch check; the minimum-sample guard."""
    engine = get_engine(request)
    return json_response(await engine.personalization.experiments.results(app_id_of(caller), key))
