"""The FastAPI app factory: one protocol for every tool server.

`create_app(server)` wraps a `ToolServer` in the routes of the protocol, with typed JSON
errors, a session store with TTLs, a concurrency limit and a body-size limit. The same
app serves over HTTP (`agent-rl serve NAME`) and in-process through
`httpx.ASGITransport` (the embedded default) — one code path.

ASGI transports do not run lifespan events, so the runtime starts itself lazily on the
first request instead of relying on startup hooks; shutdown runs from the lifespan when
served by uvicorn, or from `ToolClient.aclose()` when in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from tool_servers.errors import (
    BadArgumentsError,
    BadRequestError,
    InternalServerError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    ServerBusyError,
    ToolServerError,
    UnknownToolError,
)
from tool_servers.schemas import (
    CallRequest,
    CallResponse,
    CreateSessionRequest,
    CreateSessionResponse,
    DeleteSessionResponse,
    ErrorResponse,
    EvaluateRequest,
    EvaluateResponse,
    HealthResponse,
    ToolsResponse,
)
from tool_servers.server import Tool, ToolOutput, ToolServer
from tool_servers.sessions import SessionStore
from tool_servers.settings import ServerSettings

log = logging.getLogger(__name__)


class ServerRuntime:
    """Everything the routes share: the server, its sessions, the limits, the reaper."""

    def __init__(self, server: ToolServer, settings: ServerSettings) -> None:
        self.server = server
        self.settings = settings
        self.store = SessionStore(server.close_session, max_sessions=settings.max_sessions)
        self.tools: dict[str, Tool] = {tool.name: tool for tool in server.tools()}
        self.active_calls = 0
        self.started_at = time.monotonic()
        self._slots: asyncio.Semaphore | None = None
        self._reaper: asyncio.Task[None] | None = None
        self._start_lock: asyncio.Lock | None = None
        self._started = False
        self._closed = False

    async def ensure_started(self) -> None:
        if self._started:
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._started:
                return
            await self.server.startup()
            self._slots = asyncio.Semaphore(self.settings.max_concurrency)
            self._reaper = asyncio.get_running_loop().create_task(self._reap_forever())
            self._started = True
            self._closed = False

    async def shutdown(self) -> None:
        """Close every session and the server. Idempotent."""
        if self._closed or not self._started:
            self._closed = True
            return
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        await self.store.close_all()
        await self.server.shutdown()
        self._started = False

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.reap_interval_s)
            try:
                await self.store.reap()
            except Exception:
                log.exception("session reaper failed; will retry")

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """A concurrency slot, or 503 after `queue_timeout_s` of waiting."""
        assert self._slots is not None
        try:
            async with asyncio.timeout(self.settings.queue_timeout_s):
                await self._slots.acquire()
        except TimeoutError:
            raise ServerBusyError(
                f"all {self.settings.max_concurrency} execution slots stayed busy for "
                f"{self.settings.queue_timeout_s:g} s; retry later",
                details={"max_concurrency": self.settings.max_concurrency},
            ) from None
        self.active_calls += 1
        try:
            yield
        finally:
            self.active_calls -= 1
            self._slots.release()


def _problems(errors: Sequence[Any]) -> tuple[list[dict[str, str]], str]:
    """Pydantic errors as JSON-able details plus a one-line summary (first five)."""
    problems = [{"loc": ".".join(str(p) for p in err["loc"]), "msg": err["msg"]} for err in errors]
    return problems, "; ".join(f"{p['loc'] or '(root)'}: {p['msg']}" for p in problems[:5])


def _validate(model: type[BaseModel], data: dict[str, Any], what: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems, summary = _problems(exc.errors())
        raise BadArgumentsError(f"invalid {what}: {summary}", details={"errors": problems}) from None


class BodyLimitMiddleware:
    """Rejects bodies over `max_bytes` with a typed 413 before any route parses them."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send, int(declared))
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._reject(send, size)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, send: Any, size: int) -> None:
        error = PayloadTooLargeError(
            f"request body of {size} bytes exceeds the server limit of {self.max_bytes} bytes",
            details={"max_bytes": self.max_bytes},
        )
        payload = json.dumps(error.to_body()).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})


def _error_response(error: ToolServerError) -> JSONResponse:
    headers = {"Retry-After": "1"} if isinstance(error, ServerBusyError) else None
    return JSONResponse(error.to_body(), status_code=error.status_code, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ToolServerError)
    async def _typed(_: Request, exc: ToolServerError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems, summary = _problems(exc.errors())
        return _error_response(BadRequestError(f"malformed request: {summary}", details={"errors": problems}))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return _error_response(NotFoundError(f"no route {request.method} {request.url.path}"))
        if exc.status_code == 405:
            error: ToolServerError = MethodNotAllowedError(f"{request.method} is not allowed on {request.url.path}")
        else:
            error = BadRequestError(str(exc.detail))
        return JSONResponse(error.to_body(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:
        log.exception("tool server crashed on a request")
        return _error_response(InternalServerError(f"internal error: {type(exc).__name__}: {exc}"))


def create_app(server: ToolServer, settings: ServerSettings | None = None) -> FastAPI:
    """Build the protocol app around `server`. `app.state.runtime` holds the runtime.

    Without `settings`, the server's own `default_settings` apply over the defaults."""
    settings = settings or ServerSettings.model_validate(server.default_settings)
    runtime = ServerRuntime(server, settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.ensure_started()
        yield
        await runtime.shutdown()

    app = FastAPI(title=f"agent-rl tool server: {server.name}", version=server.version,
                  lifespan=lifespan, responses={"4XX": {"model": ErrorResponse}, "5XX": {"model": ErrorResponse}})
    app.state.runtime = runtime
    _install_error_handlers(app)
    _add_routes(app, runtime)
    server.add_routes(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    return app


def _add_routes(app: FastAPI, runtime: ServerRuntime) -> None:
    server = runtime.server

    @app.get("/health", response_model=HealthResponse)
    async def health() -> HealthResponse:
        await runtime.ensure_started()
        return HealthResponse(server=server.name, version=server.version, sessions=len(runtime.store),
                              active_calls=runtime.active_calls,
                              uptime_s=round(time.monotonic() - runtime.started_at, 3))

    @app.get("/tools", response_model=ToolsResponse)
    async def tools() -> ToolsResponse:
        return ToolsResponse(tools=[tool.spec() for tool in runtime.tools.values()])

    @app.post("/sessions", response_model=CreateSessionResponse, status_code=201)
    async def create_session(body: CreateSessionRequest) -> CreateSessionResponse:
        await runtime.ensure_started()
        params = _validate(server.session_params, body.params, "session params")
        ttl = min(body.ttl_s or runtime.settings.session_ttl_s, runtime.settings.max_session_ttl_s)
        with runtime.store.reserve():
            state = await server.open_session(params)
            session = runtime.store.add(state, ttl)
        return CreateSessionResponse(session_id=session.id, ttl_s=ttl)

    @app.post("/sessions/{session_id}/call", response_model=CallResponse)
    async def call(session_id: str, body: CallRequest) -> CallResponse:
        await runtime.ensure_started()
        session = runtime.store.get(session_id)
        tool = runtime.tools.get(body.tool)
        if tool is None:
            known = ", ".join(sorted(runtime.tools))
            raise UnknownToolError(f"unknown tool {body.tool!r}; this server offers: {known}",
                                   details={"tool": body.tool, "known": sorted(runtime.tools)})
        arguments = _validate(tool.arguments, body.arguments, f"arguments for tool {tool.name!r}")

        async def run() -> ToolOutput:
            async with runtime.slot():
                return await tool.handler(session.state, arguments)

        # In the session's turn first (`store.run`): a call queued behind its session must
        # not hold one of the server's execution slots while it waits.
        output = await runtime.store.run(session, run)
        return CallResponse(content=output.content, is_error=output.is_error, data=output.data)

    @app.post("/sessions/{session_id}/evaluate", response_model=EvaluateResponse)
    async def evaluate(session_id: str, body: EvaluateRequest) -> EvaluateResponse:
        await runtime.ensure_started()
        session = runtime.store.get(session_id)
        payload = _validate(server.evaluate_payload, body.payload, "evaluate payload")

        async def run() -> EvaluateResponse:
            async with runtime.slot():
                return await server.evaluate(session.state, payload)

        return await runtime.store.run(session, run)

    @app.delete("/sessions/{session_id}", response_model=DeleteSessionResponse)
    async def delete_session(session_id: str) -> DeleteSessionResponse:
        await runtime.ensure_started()
        runtime.store.get(session_id)  # 404 / 410 for unknown or expired ids
        return DeleteSessionResponse(deleted=await runtime.store.delete(session_id))
