"""A Hypothesis state machine of the session lifecycle against a plain model, on a fake clock.

Rules create, heartbeat, identify, rotate, revoke, end, delete and erase (GDPR) sessions
and users, run the worker and move time; after every step each session the engine shows
must agree with the model: which ids exist, status, end reason, user, and expiry, at the
very moment a limit passes (before any worker has written it down).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from sessionhub import Engine, FakeClock, Settings
from sessionhub.clock import to_ms
from sessionhub.errors import NotFound, SessionEnded
from sessionhub.models import AppSettings, Identify, SessionCreate, SessionEnd
from sessionhub.models.privacy import SubjectIn
from sessionhub.worker import Worker

IDLE_MS = 300_000
ABSOLUTE_MS = 3_600_000
USERS = ("u1", "u2")
DEVICES = ("d1", "d2", "d3")
EXAMPLES = int(os.environ.get("SESSIONHUB_STATEFUL_EXAMPLES", "20"))

T = TypeVar("T")


@dataclass
class Modelled:
    """What the model knows of one session."""

    user_id: str | None
    device_id: str
    started: int
    last: int
    idle_at: int
    absolute_at: int
    status: str = "active"
    reason: str | None = None

    def end_at(self, now: int) -> tuple[str, int] | None:
        """(reason, when) if over at ``now``: the earlier limit passed, as the engine decides."""
        if self.status != "active":
            return (self.reason or "", 0)
        due = [(at, why) for at, why in ((self.absolute_at, "expired"), (self.idle_at, "timeout"))]
        passed = [item for item in due if now >= item[0]]
        if not passed:
            return None
        at, why = min(passed)
        return why, at

    def active(self, now: int) -> bool:
        return self.end_at(now) is None


def lifecycle_machine(runner: asyncio.Runner, engine: Engine, clock: FakeClock) -> type:
    """The state machine class, driving ``engine`` through ``runner``'s event loop."""

    def run(awaitable: Awaitable[T]) -> T:
        return runner.run(awaitable)  # type: ignore[arg-type]

    class Lifecycle(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            app_settings = AppSettings(
                idle_timeout_s=IDLE_MS // 1000, absolute_lifetime_s=ABSOLUTE_MS // 1000
            )
            self.app_id = run(engine.apps.create("stateful", app_settings)).id
            self.sessions: dict[str, Modelled] = {}
            self.gone: dict[str, None] = {}  # an ordered set
            self.links: dict[str, str] = {}  # device -> user

        @property
        def now(self) -> int:
            return clock.now_ms()

        def pick(self, data: st.DataObject, *, with_gone: bool = True) -> str:
            # In the order they came to be (ids are random): a replay picks the same session.
            ids = list(self.sessions) + (list(self.gone) if with_gone else [])
            return data.draw(st.sampled_from(ids), label="session")

        def expect_gone(self, call: Awaitable[Any]) -> None:
            with pytest.raises(NotFound):
                run(call)

        # -- rules --------------------------------------------------------------------------

        @rule(user=st.sampled_from((None, *USERS)), device=st.sampled_from(DEVICES))
        def create(self, user: str | None, device: str) -> None:
            session, created = run(
                engine.sessions.create(self.app_id, SessionCreate(user_id=user, device_id=device))
            )
            now = self.now
            assert created
            self.sessions[session.id] = Modelled(
                user_id=user if user is not None else self.links.get(device),
                device_id=device,
                started=now,
                last=now,
                idle_at=now + IDLE_MS,
                absolute_at=now + ABSOLUTE_MS,
            )

        @precondition(lambda self: self.sessions or self.gone)
        @rule(data=st.data())
        def heartbeat(self, data: st.DataObject) -> None:
            sid = self.pick(data)
            if sid in self.gone:
                return self.expect_gone(engine.sessions.heartbeat(self.app_id, sid))
            model = self.sessions[sid]
            if not model.active(self.now):
                with pytest.raises(SessionEnded):
                    run(engine.sessions.heartbeat(self.app_id, sid))
                return None
            run(engine.sessions.heartbeat(self.app_id, sid))
            model.last, model.idle_at = self.now, self.now + IDLE_MS
            return None

        @rule(
            data=st.data(),
            device=st.sampled_from(DEVICES),
            user=st.sampled_from(USERS),
            in_session=st.booleans(),
            rotate=st.booleans(),
        )
        def identify(
            self, data: st.DataObject, device: str, user: str, in_session: bool, rotate: bool
        ) -> None:
            sid = self.pick(data, with_gone=False) if in_session and self.sessions else None
            request = Identify(device_id=device, user_id=user, session_id=sid, rotate=rotate)
            if sid is not None and rotate and not self.sessions[sid].active(self.now):
                with pytest.raises(SessionEnded):
                    run(engine.sessions.identify(self.app_id, request))
                return  # the whole identify rolled back
            identified = run(engine.sessions.identify(self.app_id, request))
            self.links[device] = user
            for model in self.sessions.values():
                if model.device_id == device and model.user_id is None:
                    model.user_id = user
            if sid is not None:
                self.sessions[sid].user_id = user
                if rotate:
                    assert identified.session is not None
                    self.sessions[identified.session.id] = self.sessions.pop(sid)
                    self.gone[sid] = None

        @precondition(lambda self: self.sessions or self.gone)
        @rule(data=st.data())
        def rotate(self, data: st.DataObject) -> None:
            sid = self.pick(data)
            if sid in self.gone:
                return self.expect_gone(engine.sessions.rotate(self.app_id, sid))
            if not self.sessions[sid].active(self.now):
                with pytest.raises(SessionEnded):
                    run(engine.sessions.rotate(self.app_id, sid))
                return None
            rotated = run(engine.sessions.rotate(self.app_id, sid))
            assert rotated.id != sid
            self.sessions[rotated.id] = self.sessions.pop(sid)
            self.gone[sid] = None
            return None

        @precondition(lambda self: self.sessions or self.gone)
        @rule(data=st.data())
        def revoke(self, data: st.DataObject) -> None:
            sid = self.pick(data)
            if sid in self.gone:
                return self.expect_gone(engine.sessions.revoke(self.app_id, sid))
            run(engine.sessions.revoke(self.app_id, sid))
            model = self.sessions[sid]
            if model.active(self.now):
                model.status, model.reason = "ended", "revoked"
            return None

        @precondition(lambda self: self.sessions or self.gone)
        @rule(data=st.data())
        def end(self, data: st.DataObject) -> None:
            sid = self.pick(data)
            if sid in self.gone:
                return self.expect_gone(engine.sessions.end(self.app_id, sid))
            model = self.sessions[sid]
            if not model.active(self.now):
                with pytest.raises(SessionEnded):
                    run(engine.sessions.end(self.app_id, sid, SessionEnd(reason="logout")))
                return None
            run(engine.sessions.end(self.app_id, sid, SessionEnd(reason="logout")))
            model.status, model.reason, model.last = "ended", "logout", self.now
            return None

        @precondition(lambda self: self.sessions or self.gone)
        @rule(data=st.data())
        def delete(self, data: st.DataObject) -> None:
            sid = self.pick(data)
            if sid in self.gone:
                return self.expect_gone(engine.sessions.delete(self.app_id, sid))
            run(engine.sessions.delete(self.app_id, sid))
            del self.sessions[sid]
            self.gone[sid] = None
            return None

        @rule(user=st.sampled_from(USERS))
        def revoke_user(self, user: str) -> None:
            revoked = run(engine.sessions.revoke_user(self.app_id, user))
            running = [
                m for m in self.sessions.values() if m.user_id == user and m.active(self.now)
            ]
            for model in running:
                model.status, model.reason = "ended", "revoked"
            assert len(running) == revoked.revoked

        @rule(user=st.sampled_from(USERS))
        def erase(self, user: str) -> None:
            run(engine.subjects.erase(self.app_id, SubjectIn(user_id=user)))
            linked = {device for device, owner in self.links.items() if owner == user}
            devices = linked | {m.device_id for m in self.sessions.values() if m.user_id == user}
            for sid, model in list(self.sessions.items()):
                theirs = model.user_id == user or (
                    model.user_id is None and model.device_id in linked
                )
                if theirs:
                    del self.sessions[sid]
                    self.gone[sid] = None
            self.links = {d: u for d, u in self.links.items() if d not in devices and u != user}

        @rule(seconds=st.one_of(st.integers(1, 400), st.integers(3000, 4000)))
        def advance(self, seconds: int) -> None:
            clock.advance(seconds)

        @rule()
        def worker(self) -> None:
            run(Worker(engine).run_once())

        # -- what must always hold ----------------------------------------------------------

        @invariant()
        def every_read_agrees_with_the_model(self) -> None:
            now = self.now
            page = run(engine.sessions.list(self.app_id, limit=500))
            shown = {s.id: s for s in page.items}
            assert sorted(self.sessions) == sorted(shown)
            for sid, model in self.sessions.items():
                session = shown[sid]
                ended = model.end_at(now)
                expected_expiry = None if ended else min(model.idle_at, model.absolute_at)
                actual_expiry = to_ms(session.expires_at) if session.expires_at else None
                assert (
                    "ended" if ended else "active",
                    ended[0] if ended else None,
                    model.user_id,
                    expected_expiry,
                ) == (session.status, session.end_reason, session.user_id, actual_expiry), sid

        @invariant()
        def gone_ids_stay_gone(self) -> None:
            for sid in list(self.gone)[-3:]:  # the latest few: each look-up is a read
                with pytest.raises(NotFound):
                    run(engine.sessions.get(self.app_id, sid))

    return Lifecycle


def test_the_session_lifecycle_agrees_with_its_model(database_url: str, tmp_path: Any) -> None:
    """Any sequence of lifecycle calls and clock moves leaves every session as the model says."""
    clock = FakeClock()
    engine_settings = Settings(
        database_url=database_url, data_dir=tmp_path, run_worker=False, app_cache_s=0
    )
    with asyncio.Runner() as runner:
        engine = runner.run(Engine(engine_settings, clock=clock).start(migrate=False))
        try:
            machine = lifecycle_machine(runner, engine, clock)
            run_state_machine_as_test(
                machine,
                settings=settings(
                    # PostgreSQL round trips cost ~10x SQLite's: fewer examples keep it bounded.
                    max_examples=EXAMPLES if database_url.startswith("sqlite") else EXAMPLES // 5,
                    stateful_step_count=20,
                    deadline=None,
                    derandomize=True,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                ),
            )
        finally:
            runner.run(engine.close())
