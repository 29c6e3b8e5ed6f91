"""The Engine: the whole product in-process, on the configured storage.

async with Engine(Settings.from_env()) as engine:
    app = await engine.apps.create("shop")
    session, _ = await engine.sessions.create(app.id, SessionCreate(user_id="u1"))
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

from sessionhub.clock import Clock, SystemClock
from sessionhub.config import Settings
from sessionhub.core.analytics import Analytics
from sessionhub.core.apps import Apps, Keys
from sessionhub.core.audit import Audit
from sessionhub.core.bulk import BulkSessions
from sessionhub.core.cart import Cart
from sessionhub.core.consent import Consent
from sessionhub.core.encryption import Encryption
from sessionhub.core.events import Events
from sessionhub.core.live import LiveBus
from sessionhub.core.memory import Memory
from sessionhub.core.personalization.capability import Personalization
from sessionhub.core.preferences import Preferences
from sessionhub.core.privacy_report import PrivacyReports
from sessionhub.core.ratelimits import RateLimits
from sessionhub.core.response_cache import ResponseCache
from sessionhub.core.sessions import Sessions
from sessionhub.core.shares import Shares
from sessionhub.core.state import State
from sessionhub.core.subjects import Subjects
from sessionhub.core.tracker import Tracker
from sessionhub.core.work import Work
from sessionhub.enrich.client import parse_networks
from sessionhub.enrich.geo import GeoLookup
from sessionhub.models.analytics import QueryIn, QueryResult
from sessionhub.storage import Database
from sessionhub.storage.migrate import upgrade_async


class Engine:
    """Every capability of Sessionhub, over one database."""

    def __init__(self, settings: Settings | None = None, *, clock: Clock | None = None):
        self.settings = settings or Settings.from_env()
        self.clock: Clock = clock or SystemClock()
        self.db = Database(
            self.settings.resolved_database_url,
            batch_max=self.settings.commit_batch_max,
            pg_pool_size=self.settings.pg_pool_size,
            pg_writers=self.settings.pg_writers,
        )
        self.geo = GeoLookup(Path(self.settings.geoip_mmdb) if self.settings.geoip_mmdb else None)
        self.trusted_proxies = parse_networks(self.settings.trusted_proxies)
        self.audit = Audit(self)
        self.encryption = Encryption(self)
        self.apps = Apps(self)
        self.keys = Keys(self)
        self.sessions = Sessions(self)
        self.bulk = BulkSessions(self)
        self.events = Events(self)
        self.memory = Memory(self)
        self.preferences = Preferences(self)
        self.cart = Cart(self)
        self.state = State(self)
        self.response_cache = ResponseCache(self)
        self.shares = Shares(self)
        self.analytics = Analytics(self)
        self.tracker = Tracker(self)
        self.rate_limits = RateLimits(self)
        self.consent = Consent(self)
        self.subjects = Subjects(self)
        self.privacy = PrivacyReports(self)
        self.live = LiveBus(self.settings.redis_url)
        self.work = Work(self)
        self.personalization = Personalization(self)

    async def start(self, *, migrate: bool = True) -> Engine:
        """Bring the schema up to date (unless told not to) and open the database."""
        if migrate:
            await upgrade_async(self.db.url)
        await self.db.start()
        await self.audit.start()
        await self.encryption.start()
        return self

    async def query(self, app_id: str, spec: QueryIn | dict[str, Any] | None = None) -> QueryResult:
        """Answer an analytics query: ``engine.analytics.query`` (see docs/analytics.md)."""
        return await self.analytics.query(app_id, spec)

    async def close(self) -> None:
        """Finish queued writes and close the database."""
        await self.db.close()
        await self.rate_limits.close()
        await self.live.close()

    async def __aenter__(self) -> Engine:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
