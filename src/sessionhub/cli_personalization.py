"""``sessionhub recommend evaluate|rebuild`` and ``sessionhub profiles rebuild``.

Registered on the main command in cli.py. The shared plumbing (``_run``, ``say``,
``emit_one``) is imported when a command runs, so this module imports cleanly first.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

from sessionhub.core.personalization.evaluation import STRATEGIES

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

recommend_cli = typer.Typer(
    help="Recommendations: evaluate strategies offline, rebuild the item model.",
    no_args_is_help=True,
)
profiles_cli = typer.Typer(
    help="Personalization profiles: rebuild from raw events.", no_args_is_help=True
)

AppOption = typer.Option(..., "--app", help="The app id.")
JsonOption = typer.Option(False, "--json", help="Print JSON instead of text.")


@recommend_cli.command("evaluate")
def evaluate(
    app: str = AppOption,
    k: int = typer.Option(
        10, "--k", min=1, max=100, help="How many items each strategy recommends."
    ),
    users: int = typer.Option(
        1000, "--users", min=1, help="Evaluate at most this many users (a fixed sample)."
    ),
    strategy: list[str] = typer.Option(
        list(STRATEGIES), "--strategy", help="A strategy to evaluate (repeat for several)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Hit rate and NDCG at k of each strategy on the app's events, leave-last-out."""
    from sessionhub import cli as base

    async def work(engine: Engine) -> Any:
        return await engine.personalization.evaluate(app, k=k, max_users=users, strategies=strategy)

    result = base._run(work)
    if as_json:
        base.say(json.dumps(result.model_dump(mode="json"), indent=2))
        return
    base.say(f"users  {result.users}  (leave-last-out, k={result.k})")
    width = max(len(s) for s in result.hit_rate)
    base.say(f"{'strategy'.ljust(width)}  hit_rate  ndcg")
    for name, rate in result.hit_rate.items():
        base.say(f"{name.ljust(width)}  {rate:<8.4f}  {result.ndcg[name]:.4f}")


@recommend_cli.command("rebuild")
def rebuild_model(app: str = AppOption) -> None:
    """Build the item model now and say how many items it knows (a check of the data)."""
    from sessionhub import cli as base

    async def work(engine: Engine) -> int:
        return await engine.personalization.recommendations.rebuild(app)

    base.say(f"items  {base._run(work)}")


@profiles_cli.command("rebuild")
def rebuild_profiles(
    app: str = AppOption,
    user: str | None = typer.Option(None, "--user", help="Only this user (else every profile)."),
    as_json: bool = JsonOption,
) -> None:
    """Recompute profiles from raw events (after changing the half-life or dimensions)."""
    from sessionhub import cli as base

    async def work(engine: Engine) -> Any:
        await engine.apps.get(app)
        return await engine.personalization.profiles.rebuild(app, user)

    base.emit_one(base._run(work), as_json)
