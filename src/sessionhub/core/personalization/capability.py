"""``Engine.personalization``: profiles, segments, recommendations, experiments, federation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sessionhub.core.personalization import evaluation, vectors
from sessionhub.core.personalization.experiments import Experiments
from sessionhub.core.personalization.federation import Federation
from sessionhub.core.personalization.profiles import config_of, half_life_ms
from sessionhub.core.personalization.recommend import SCAN_DAYS, Recommender
from sessionhub.core.personalization.segments import Segments
from sessionhub.core.personalization.traits import Profiles
from sessionhub.errors import InvalidInput
from sessionhub.models.personalization import Evaluation

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine


class Personalization:
    """One object per part of personalization."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self.profiles = Profiles(engine)
        self.segments = Segments(engine)
        self.recommendations = Recommender(engine)
        self.experiments = Experiments(engine)
        self.federation = Federation(engine)

    async def evaluate(
        self,
        app_id: str,
        *,
        k: int = 10,
        max_users: int = 1000,
        strategies: Sequence[str] = evaluation.STRATEGIES,
    ) -> Evaluation:
        """Hit rate and NDCG at ``k`` of each strategy on the app's events, leave-last-out."""
        unknown = sorted(set(strategies) - set(evaluation.STRATEGIES))
        if unknown:
            raise InvalidInput(f"Unknown strategy {unknown[0]!r}.", details={"field": "strategy"})
        if not 1 <= k <= 100:
            raise InvalidInput("k must be between 1 and 100.", details={"field": "k"})
        engine = self._engine
        await engine.apps.get(app_id)
        now = engine.clock.now_ms()
        config = await engine.db.read(config_of, app_id)
        found = await self.recommendations.interactions(app_id, now - SCAN_DAYS * vectors.DAY_MS)
        return evaluation.evaluate(
            found,
            k=k,
            now=now,
            half_life_ms=half_life_ms(config),
            max_users=max_users,
            strategies=strategies,
        )
