"""Sessions with a time-to-live, and the reaper that closes idle ones.

A session left behind by a crashed client must not hold a sandbox or a browser
forever: each session expires `ttl_s` seconds after its last use, and a background
task closes expired sessions. Recently expired ids are remembered (bounded), so a late
caller gets "session expired" (410) rather than a puzzling "unknown session" (404).

Calls on a session (`SessionStore.run`) run one at a time, in order, each in a task of
its own, so that deleting the session stops them: a client that abandons an episode
(cancelled mid-call, its connection gone) deletes its session and gets the sandbox back
at once, instead of waiting for a call whose result nobody reads. The session's state is
closed only after its calls have unwound, never under a running handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tool_servers.errors import ServerBusyError, SessionExpiredError, UnknownSessionError

log = logging.getLogger(__name__)

T = TypeVar("T")

_EXPIRED_MEMORY = 4096
#: How long closing a session waits for its cancelled calls to unwind (a handler that
#: ignores cancellation) before closing the session's state anyway.
_DELETE_GRACE_S = 60.0


@dataclass(slots=True)
class Session:
    """A live session: the server's state object plus bookkeeping."""

    id: str
    state: Any
    ttl_s: float
    last_used: float = field(default_factory=time.monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # calls within a session run in order
    calls: set[asyncio.Task[Any]] = field(default_factory=set)  # running or queued (`SessionStore.run`)
    closed: bool = False  # deleted, expired or shut down: no call may start on it any more

    def expired(self, now: float) -> bool:
        return now - self.last_used > self.ttl_s

    @property
    def busy(self) -> bool:
        return bool(self.calls)


class SessionStore:
    """Holds live sessions; closes them through `close` on delete, expiry or shutdown."""

    def __init__(self, close: Callable[[Any], Awaitable[None]], *, max_sessions: int) -> None:
        self._close = close
        self._sessions: dict[str, Session] = {}
        self._expired: OrderedDict[str, None] = OrderedDict()
        self._pending = 0  # sessions being opened: they count against the limit already
        self._closing: set[asyncio.Task[None]] = set()  # background closes, awaited at shutdown
        self.max_sessions = max_sessions

    def __len__(self) -> int:
        return len(self._sessions)

    @contextlib.contextmanager
    def reserve(self) -> Iterator[None]:
        """Hold a place under `max_sessions` while a session is being opened."""
        if len(self._sessions) + self._pending >= self.max_sessions:
            raise ServerBusyError(
                f"session limit reached ({self.max_sessions} live sessions); delete finished "
                "sessions or raise the server's max_sessions",
                details={"max_sessions": self.max_sessions},
            )
        self._pending += 1
        try:
            yield
        finally:
            self._pending -= 1

    def add(self, state: Any, ttl_s: float) -> Session:
        session = Session(id=secrets.token_hex(12), state=state, ttl_s=ttl_s)
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str) -> Session:
        session = self._sessions.get(session_id)
        if session is None:
            if session_id in self._expired:
                raise SessionExpiredError(
                    f"session {session_id!r} expired after being idle; create a new session",
                    details={"session_id": session_id},
                )
            raise UnknownSessionError(f"no session {session_id!r}", details={"session_id": session_id})
        now = time.monotonic()
        if session.expired(now) and not session.busy:
            self._forget(session_id, expired=True)
            self._close_in_background(session)
            raise SessionExpiredError(
                f"session {session_id!r} expired after {session.ttl_s:g} s idle; create a new session",
                details={"session_id": session_id, "ttl_s": session.ttl_s},
            )
        session.last_used = now
        return session

    async def run(self, session: Session, work: Callable[[], Awaitable[T]]) -> T:
        """Run `work()` (a tool call, an evaluation) on `session`: after the calls queued
        before it, in a task of its own that deleting the session cancels — the caller then
        gets `UnknownSessionError`. Cancelling the caller cancels the call, as awaiting it
        directly would."""

        async def in_turn() -> T:
            async with session.lock:
                if session.closed:
                    raise _deleted(session.id)
                return await work()

        call = asyncio.ensure_future(in_turn())
        session.calls.add(call)
        call.add_done_callback(session.calls.discard)
        try:
            return await call
        except asyncio.CancelledError:
            caller = asyncio.current_task()
            if call.cancelled() and session.closed and (caller is None or not caller.cancelling()):
                raise _deleted(session.id) from None  # stopped by a delete, not by our caller
            raise

    async def delete(self, session_id: str) -> bool:
        """Forget the session at once (new calls get 404), cancel the calls running or
        queued on it, and close it once they have unwound — never under a running handler,
        and never waiting for a call to finish its work. The close completes even if the
        caller is cancelled meanwhile."""
        session = self._sessions.get(session_id)
        if session is None:
            return False
        self._forget(session_id, expired=False)
        await asyncio.shield(self._close_in_background(session))
        return True

    async def reap(self) -> int:
        """Close every expired, idle session. Returns how many were closed."""
        now = time.monotonic()
        victims = [s for s in self._sessions.values() if s.expired(now) and not s.busy]
        for session in victims:
            self._forget(session.id, expired=True)
            await self._stop_and_close(session)
        if victims:
            log.info("reaped %d expired session(s)", len(victims))
        return len(victims)

    async def close_all(self) -> None:
        """Stop every session's calls, close every session and wait for background closes
        (server shutdown)."""
        sessions = list(self._sessions.values())
        self._sessions.clear()
        for session in sessions:
            self._cancel_calls(session)  # all at once, before waiting on any
        for session in sessions:
            await self._stop_and_close(session)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    def _close_in_background(self, session: Session) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(self._stop_and_close(session))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        return task

    @staticmethod
    def _cancel_calls(session: Session) -> None:
        session.closed = True
        for call in list(session.calls):
            call.cancel()

    async def _stop_and_close(self, session: Session) -> None:
        self._cancel_calls(session)
        if session.calls:
            _, running = await asyncio.wait(list(session.calls), timeout=_DELETE_GRACE_S)
            if running:
                log.warning("session %s: a call ignored cancellation for %.0f s; closing the session anyway",
                            session.id, _DELETE_GRACE_S)
        await self._safe_close(session)

    def _forget(self, session_id: str, *, expired: bool) -> None:
        self._sessions.pop(session_id, None)
        if expired:
            self._expired[session_id] = None
            while len(self._expired) > _EXPIRED_MEMORY:
                self._expired.popitem(last=False)

    async def _safe_close(self, session: Session) -> None:
        try:
            await self._close(session.state)
        except Exception:  # a failing close must not take the reaper or the server down
            log.exception("closing session %s failed", session.id)


def _deleted(session_id: str) -> UnknownSessionError:
    return UnknownSessionError(f"session {session_id!r} was deleted; the call on it was stopped",
                               details={"session_id": session_id, "deleted": True})
