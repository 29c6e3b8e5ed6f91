"""Experiments: the list, the setup form, start and stop, and live results with intervals."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.datastructures import FormData

from sessionhub.dashboard.personalization_forms import (
    MAX_JSON,
    explain,
    json_object,
    number,
    plain,
    text,
    texts,
    validated,
)
from sessionhub.dashboard.web import Ctx, CtxDep, hx_redirect
from sessionhub.errors import InvalidInput
from sessionhub.models.personalization import ExperimentIn, ExperimentPatch, Results

router = APIRouter()

MAX_VARIANTS = 20
REFRESH_S = 10  # how often a running experiment's results refresh in the page


def _blank_values() -> dict[str, Any]:
    return {
        "key": "",
        "name": "",
        "unit": "user",
        "variants": [("control", "1", ""), ("treatment", "1", "")],
        "coverage": "100",
        "segment": "",
        "conditions": "",
        "namespace": "",
        "ns_start": "0",
        "ns_end": "1",
        "goal_event": "conversion",
        "goal_kind": "conversion",
        "goal_property": "",
        "min_sample": "100",
        "start": False,
    }


def _values_of(form: FormData) -> dict[str, Any]:
    """The form as typed, to show again when it has a mistake."""
    keys = texts(form, "v_key", 100, MAX_VARIANTS)
    weights = texts(form, "v_weight", 20, MAX_VARIANTS)
    features = texts(form, "v_features", 5_000, MAX_VARIANTS)
    longest = max(len(keys), len(weights), len(features))
    keys, weights, features = (c + [""] * (longest - len(c)) for c in (keys, weights, features))
    variants = [(k, w, f) for k, w, f in zip(keys, weights, features, strict=True) if k or w or f]
    return {
        "key": text(form, "key", 100),
        "name": text(form, "name"),
        "unit": text(form, "unit", 20) or "user",
        "variants": variants,
        "coverage": text(form, "coverage", 20),
        "segment": text(form, "segment", 100),
        "conditions": text(form, "conditions", MAX_JSON + 1),
        "namespace": text(form, "namespace", 100),
        "ns_start": text(form, "ns_start", 20),
        "ns_end": text(form, "ns_end", 20),
        "goal_event": text(form, "goal_event", 100),
        "goal_kind": text(form, "goal_kind", 20) or "conversion",
        "goal_property": text(form, "goal_property", 100),
        "min_sample": text(form, "min_sample", 20),
        "start": text(form, "start") == "1",
    }


def spec_of(values: dict[str, Any]) -> ExperimentIn:
    """The ``POST /v1/experiments`` body the form stands for; a 422 naming the field if not."""
    variants = []
    for i, (key, weight, features) in enumerate(values["variants"]):
        variant: dict[str, Any] = {"key": key}
        if weight:
            variant["weight"] = number(weight, f"variants.{i}.weight")
        found = json_object(features, f"variants.{i}.features")
        if found is not None:
            variant["features"] = found
        variants.append(variant)
    body: dict[str, Any] = {
        "key": values["key"],
        "name": values["name"],
        "unit": values["unit"],
        "variants": variants,
        "coverage": number(values["coverage"] or "100", "coverage") / 100,
        "goal": {"event": values["goal_event"], "kind": values["goal_kind"]},
        "min_sample": int(number(values["min_sample"] or "100", "min_sample", whole=True)),
        "status": "running" if values["start"] else "draft",
    }
    if values["goal_property"]:
        body["goal"]["property"] = values["goal_property"]
    targeting: dict[str, Any] = {}
    if values["segment"]:
        targeting["segment"] = values["segment"]
    conditions = json_object(values["conditions"], "targeting.conditions")
    if conditions is not None:
        targeting["conditions"] = conditions
    body["targeting"] = targeting
    if values["namespace"]:
        body["namespace"] = {
            "name": values["namespace"],
            "start": number(values["ns_start"] or "0", "namespace.start"),
            "end": number(values["ns_end"] or "1", "namespace.end"),
        }
    return validated(ExperimentIn, body)


async def _render_form(ctx: Ctx, values: dict[str, Any], error: str | None = None) -> Response:
    segments = await ctx.engine.personalization.segments.list(ctx.app_id)
    return ctx.render(
        "experiment_form.html",
        status=422 if error else 200,
        values=values,
        error=error,
        segments=segments,
        show_controls=False,
    )


@router.get("/experiments")
async def experiments(ctx: CtxDep) -> Response:
    """Every experiment, newest first, with its status."""
    if ctx.app is None:
        return ctx.render("no_app.html")
    found = await ctx.engine.personalization.experiments.list(ctx.app_id)
    found.sort(key=lambda e: e.created_at, reverse=True)
    return ctx.render("experiments.html", experiments=found, show_controls=False)


@router.get("/experiments/new")
async def new_experiment(ctx: CtxDep) -> Response:
    """The setup form."""
    if ctx.app is None:
        return ctx.render("no_app.html")
    return await _render_form(ctx, _blank_values())


@router.post("/experiments")
async def create_experiment(ctx: CtxDep) -> Response:
    """Define the experiment (a draft, or running at once)."""
    values = _values_of(await ctx.request.form())
    try:
        experiment = await ctx.engine.personalization.experiments.create(
            ctx.app_id, spec_of(values)
        )
    except InvalidInput as exc:
        values["variants"] = values["variants"] or _blank_values()["variants"]
        return await _render_form(ctx, values, explain(exc))
    return hx_redirect(ctx.request, f"/dashboard/experiments/{quote(experiment.key, safe='')}")


def chart_of(results: Results) -> dict[str, Any]:
    """The interval chart's data: each variant's estimate and its 95% interval."""
    return {
        "labels": [v.variant for v in results.variants],
        "values": [v.value for v in results.variants],
        "low": [v.ci_low for v in results.variants],
        "high": [v.ci_high for v in results.variants],
        "metric": "conversion rate" if results.metric == "conversion" else f"mean {results.metric}",
        "percent": results.metric == "conversion",
    }


async def _results(ctx: Ctx, key: str) -> dict[str, Any]:
    """What the results panel shows: the experiment, its results and their chart."""
    experiments = ctx.engine.personalization.experiments
    experiment = await experiments.get(ctx.app_id, plain(key, "key", 100))
    results = await experiments.results(ctx.app_id, experiment.key)
    return {
        "experiment": experiment,
        "results": results,
        "chart": chart_of(results),
        "refresh_s": REFRESH_S,
    }


@router.get("/experiments/{key}")
async def experiment_page(ctx: CtxDep, key: str) -> Response:
    """The experiment's setup, its actions and its results."""
    return ctx.render("experiment.html", **await _results(ctx, key), show_controls=False)


@router.get("/experiments/{key}/results")
async def experiment_results(ctx: CtxDep, key: str) -> Response:
    """The results panel alone (htmx refreshes it while the experiment runs)."""
    return ctx.partial("experiment_results.html", **await _results(ctx, key))


@router.post("/experiments/{key}/status")
async def set_status(ctx: CtxDep, key: str) -> Response:
    """Start or stop the experiment (a stopped one stays stopped)."""
    form = await ctx.request.form()
    wanted = text(form, "status", 20)
    if wanted not in ("running", "stopped"):
        raise InvalidInput("status must be running or stopped.", details={"field": "status"})
    patch = ExperimentPatch(status=wanted)  # type: ignore[arg-type]
    experiment = await ctx.engine.personalization.experiments.update(
        ctx.app_id, plain(key, "key", 100), patch
    )
    return hx_redirect(ctx.request, f"/dashboard/experiments/{quote(experiment.key, safe='')}")
