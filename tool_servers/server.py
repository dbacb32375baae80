"""`ToolServer`: what a tool-server author writes. The HTTP plumbing is in `app.py`.

A server declares its tools (name, description, a pydantic arguments model, an async
handler), what a session holds, and how to evaluate a final answer. Handlers are async
and must never block the event loop: run subprocesses with asyncio, push blocking work
to `asyncio.to_thread`.

Example (a complete server)::

    class EchoArgs(BaseModel):
        text: str

    class EchoServer(ToolServer):
        name = "echo"

        def tools(self):
            return [Tool("echo", "Repeat the text.", EchoArgs, self.echo)]

        async def echo(self, state, args: EchoArgs) -> ToolOutput:
            return ToolOutput(args.text)
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from tool_servers.schemas import EvaluateResponse, FunctionSpec, ToolSpec


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """What a tool handler returns: text for the model, structured data for the env."""

    content: str
    is_error: bool = False
    data: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Any, Any], Awaitable[ToolOutput]]


def through(run: Callable[[Any, Any, Any], Awaitable[ToolOutput]], action: Any) -> Handler:
    """A tool handler that hands `action` to a server's one guarded `run(state, action, args)`
    (the browser and desktop servers do every action through one such method: lock, error
    mapping, settling, the screen in the answer)."""
    async def handler(state: Any, args: Any) -> ToolOutput:
        return await run(state, action, args)
    return handler


@dataclass(frozen=True, slots=True)
class Tool:
    """One tool: its arguments model doubles as the JSON schema the model is shown."""

    name: str
    description: str
    arguments: type[BaseModel]
    handler: Handler

    def spec(self) -> ToolSpec:
        schema = self.arguments.model_json_schema()
        schema.pop("title", None)
        return ToolSpec(function=FunctionSpec(name=self.name, description=self.description, parameters=schema))


class NoParams(BaseModel):
    """Session parameters of a server that takes none."""

    model_config = ConfigDict(extra="forbid")


class ToolServer(abc.ABC):
    """Base class of every tool server (code, sql, search, browser, desktop)."""

    name: ClassVar[str]
    version: ClassVar[str] = "0.1.0"
    #: Validates `POST /sessions` `params`; bad params are a 422 `bad_arguments` error.
    session_params: ClassVar[type[BaseModel]] = NoParams
    #: Validates `POST /sessions/{id}/evaluate` `payload`.
    evaluate_payload: ClassVar[type[BaseModel]] = NoParams
    #: `ServerSettings` fields this server needs changed from the defaults (e.g. a larger
    #: body limit when sessions carry big hidden tests). Explicit settings still win.
    default_settings: ClassVar[dict[str, Any]] = {}

    @abc.abstractmethod
    def tools(self) -> list[Tool]:
        """The tools this server offers (the same list for every session)."""

    def validate(self) -> None:
        """Check, synchronously and before serving, that this server can run on this host
        (e.g. the sandbox can enforce what it must). Raise an `AgentRLError` that says what
        to fix. `agent-rl serve` calls it so a misconfiguration is one line, not a crash
        on the first request."""

    def add_routes(self, app: Any) -> None:
        """Add server-specific HTTP routes beside the protocol's (e.g. Search-R1's
        `POST /retrieve`). Called once by `create_app`; the default adds none."""

    async def startup(self) -> None:
        """Acquire process-wide resources (pools, browsers). Called once, lazily."""

    async def shutdown(self) -> None:
        """Release what `startup` acquired. Idempotent."""

    async def open_session(self, params: BaseModel) -> Any:
        """Create per-session state (returned object is passed to handlers)."""
        return params

    async def close_session(self, state: Any) -> None:
        """Release per-session state. Called on delete, on TTL expiry and at shutdown."""

    async def evaluate(self, state: Any, payload: BaseModel) -> EvaluateResponse:
        """Score a final answer server-side, so ground truth never leaves the server."""
        from tool_servers.errors import NotFoundError

        raise NotFoundError(f"tool server {self.name!r} has no evaluator")
