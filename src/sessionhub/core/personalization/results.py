"""Experiment results: per variant the metric with its interval, the tests against control,
the sample-ratio check and the minimum-sample guard (the statistics are in ``stats``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sessionhub.core.personalization import stats
from sessionhub.models.personalization import Results, VariantResult

SRM_ALPHA = 0.001  # below this the split is broken: the results are not to be trusted


def compute_results(
    row: Mapping[Any, Any],
    exposures: list[tuple[str, str]],
    events: list[tuple[str, str, Any]],
) -> Results:
    """The results of an experiment from its exposures and its units' goal events."""
    goal = row["goal"]
    kind = goal.get("kind", "conversion")
    prop = goal.get("property")
    order = [v["key"] for v in row["variants"]]
    per_unit: dict[str, float] = {}
    for _, unit, properties in events:
        if kind == "property":
            value = (properties or {}).get(prop)
            if isinstance(value, int | float) and not isinstance(value, bool):
                per_unit[unit] = per_unit.get(unit, 0.0) + float(value)
        else:
            per_unit[unit] = per_unit.get(unit, 0.0) + 1
    values: dict[str, list[float]] = {v: [] for v in order}
    for variant, unit in exposures:
        values.setdefault(variant, []).append(per_unit.get(unit, 0.0))
    counts = [len(values[v]) for v in order]
    srm = stats.srm_p_value(counts, [float(v["weight"]) for v in row["variants"]])
    enough = all(c >= row["min_sample"] for c in counts)
    control = order[0]
    out = []
    for variant in order:
        vals = values[variant]
        n = len(vals)
        is_control = variant == control
        if kind == "conversion":
            conversions = sum(1 for v in vals if v > 0)
            rate = conversions / n if n else 0.0
            low, high = stats.wilson(conversions, n)
            cc = sum(1 for v in values[control] if v > 0)
            cn = len(values[control])
            base = cc / cn if cn else 0.0
            p = None if is_control else stats.two_proportion_p(cc, cn, conversions, n)
            bayes = (
                None
                if is_control or not n or not cn
                else stats.bayes_proportions((cc, cn), (conversions, n))
            )
            value, conv = rate, conversions
        else:
            summary = stats.summarize(vals)
            base_summary = stats.summarize(values[control])
            low, high = stats.mean_ci(summary)
            value, conv, base = summary.mean, None, base_summary.mean
            p = None if is_control else stats.welch_p(base_summary, summary)
            bayes = (
                None
                if is_control or not n or not base_summary.n
                else stats.bayes_means(base_summary, summary)
            )
        guarded = not enough
        out.append(
            VariantResult(
                variant=variant,
                units=n,
                conversions=conv,
                value=value,
                ci_low=low,
                ci_high=high,
                lift=None if is_control or base == 0 else (value - base) / base,
                p_value=None if guarded else p,
                chance_to_beat_control=None if guarded or bayes is None else bayes[0],
                expected_loss=None if guarded or bayes is None else bayes[1],
            )
        )
    return Results(
        experiment=row["key"],
        metric=kind if kind != "property" else f"sum of {prop}",
        control=control,
        variants=out,
        srm_p_value=srm,
        srm_warning=srm is not None and srm < SRM_ALPHA,
        enough_data=enough,
    )
