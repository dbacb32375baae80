"""The supervisor's side of a warm worker: start it in a sandbox, frame requests, read
replies it cannot use against us.

A reply is untrusted (a session's code runs inside the worker and could write any
frame), so its size is capped before it is read and its fields are type-checked; a bad
frame kills the worker.
"""

from __future__ import annotations

import asyncio
import functools
import json
import struct
from pathlib import Path
from typing import Any

from sandbox.backends.base import Backend
from sandbox.errors import SandboxError, SandboxStartError
from sandbox.types import SandboxSpec

_LEN = struct.Struct(">I")
_FILES = ("_worker.py", "_worker_fork.py", "_worker_repl.py")


class WorkerDied(SandboxError):
    """The worker process ended (or was killed) before it replied."""

    def __init__(self, message: str, *, delivered: bool) -> None:
        super().__init__(message)
        self.delivered = delivered  # False: the request never reached it (safe to retry)


@functools.cache
def worker_files() -> dict[str, str]:
    here = Path(__file__).parent
    return {name: (here / name).read_text(encoding="utf-8") for name in _FILES}


def encode(message: dict[str, Any]) -> bytes:
    data = json.dumps(message, ensure_ascii=False).encode("utf-8")
    return _LEN.pack(len(data)) + data


class Worker:
    """One warm sandboxed Python process speaking the `_worker.py` protocol."""

    def __init__(self, process: Any, max_reply: int) -> None:
        self.process = process  # a SandboxProcess
        self.max_reply = max_reply
        self.calls = 0

    @classmethod
    async def start(
        cls, backend: Backend, mode: str, spec: SandboxSpec, hello: dict[str, Any], *,
        max_reply: int, timeout_s: float = 30.0,
    ) -> Worker:
        """Start `python3 -I _worker.py MODE` in `backend` and wait until it is ready."""
        files = {**spec.files, **worker_files()}
        spec = SandboxSpec(limits=spec.limits, env=spec.env, files=files, mounts=spec.mounts,
                           network=spec.network, require=spec.require)
        argv = [backend.python_executable(), "-I", "_worker.py", mode]
        process = await backend.start(argv, spec=spec)
        worker = cls(process, max_reply)
        try:
            async with asyncio.timeout(timeout_s):
                reply = await worker.call(hello, 1 << 16)
        except (TimeoutError, WorkerDied, ValueError) as exc:
            detail = bytes(process.stderr_tail[-2000:]).decode("utf-8", "replace").strip()
            await process.aclose()
            raise SandboxStartError(
                f"the sandbox worker did not start ({type(exc).__name__}: {exc}); "
                f"its stderr: {detail or '(empty)'}"
            ) from None
        except BaseException:  # cancelled while starting: nobody else holds the process
            await process.aclose()  # (shielded: kills it and gives its slot back)
            raise
        if reply.get("op") != "ready":
            await process.aclose()
            raise SandboxStartError(f"the sandbox worker answered {reply.get('op')!r} instead of 'ready'")
        return worker

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def call(self, request: dict[str, Any], max_reply: int | None = None) -> dict[str, Any]:
        """Send one request and return the reply. Raises `WorkerDied` when the process
        ends first, `ValueError` (after killing it) on a malformed reply."""
        limit = max_reply or self.max_reply
        try:
            self.process.stdin.write(encode(request))
            await self.process.stdin.drain()
        except (ConnectionError, RuntimeError) as exc:
            raise WorkerDied(f"the sandbox worker is gone: {exc}", delivered=False) from None
        self.calls += 1
        try:
            (size,) = _LEN.unpack(await self.process.stdout.readexactly(4))
            if size > limit:
                raise ValueError(f"the sandbox worker sent a {size}-byte reply (limit {limit})")
            reply = json.loads(await self.process.stdout.readexactly(size))
        except asyncio.IncompleteReadError:
            raise WorkerDied("the sandbox worker ended during the call", delivered=True) from None
        except ValueError:
            self.process.kill()
            raise
        if not isinstance(reply, dict):
            self.process.kill()
            raise ValueError("the sandbox worker sent a reply that is not an object")  # noqa: TRY004  (a bad frame)
        return reply

    async def aclose(self) -> None:
        await self.process.aclose()


def field(reply: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    """A reply field of the expected type, or `default` (replies are untrusted)."""
    value = reply.get(name, default)
    return value if isinstance(value, kind) and not (kind is int and isinstance(value, bool)) else default


def text(reply: dict[str, Any], name: str) -> str:
    """A latin-1-carried byte string field, decoded as UTF-8 (with replacement)."""
    value = field(reply, name, str, "")
    return value.encode("latin-1", "replace").decode("utf-8", "replace")
