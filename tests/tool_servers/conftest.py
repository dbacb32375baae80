"""A tiny tool server for protocol tests: real app, real client, no sandbox needed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from pydantic import BaseModel, ConfigDict, Field

from tool_servers import ServerSettings, Tool, ToolClient, ToolOutput, ToolServer, create_app
from tool_servers.schemas import EvaluateResponse


class EchoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=10_000)


class SleepArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(ge=0, le=5)


class NoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    secret: int = 0


class Guess(BaseModel):
    model_config = ConfigDict(extra="forbid")
    guess: int


@dataclass
class EchoState:
    secret: int
    calls: list[str] = field(default_factory=list)
    sleeping: bool = False  # a `sleep` call is inside its handler


class EchoServer(ToolServer):
    name = "echo"
    session_params = Params
    evaluate_payload = Guess

    def __init__(self) -> None:
        self.closed: list[EchoState] = []
        self.closed_while_sleeping: list[bool] = []  # per close: was a handler still running?
        self.started = 0
        self.stopped = 0

    def tools(self) -> list[Tool]:
        return [Tool("echo", "Repeat the text.", EchoArgs, self.echo),
                Tool("sleep", "Sleep a while.", SleepArgs, self.sleep),
                Tool("crash", "Raise an exception (a server bug).", NoArgs, self.crash)]

    async def startup(self) -> None:
        self.started += 1

    async def shutdown(self) -> None:
        self.stopped += 1

    async def open_session(self, params: BaseModel) -> EchoState:
        assert isinstance(params, Params)
        return EchoState(secret=params.secret)

    async def close_session(self, state: EchoState) -> None:
        self.closed.append(state)
        self.closed_while_sleeping.append(state.sleeping)

    async def echo(self, state: EchoState, args: EchoArgs) -> ToolOutput:
        state.calls.append(args.text)
        return ToolOutput(args.text, data={"calls": len(state.calls)})

    async def sleep(self, state: EchoState, args: SleepArgs) -> ToolOutput:
        state.sleeping = True
        try:
            await asyncio.sleep(args.seconds)
        finally:
            await asyncio.sleep(0.05)  # unwinding takes a moment: close must wait for it
            state.sleeping = False
        return ToolOutput("slept")

    async def crash(self, state: EchoState, args: NoArgs) -> ToolOutput:
        raise RuntimeError("boom")

    async def evaluate(self, state: EchoState, payload: BaseModel) -> EvaluateResponse:
        assert isinstance(payload, Guess)
        right = payload.guess == state.secret
        return EvaluateResponse(reward=float(right), success=right, parts={"exact": float(right)})


@pytest.fixture
def echo_server() -> EchoServer:
    return EchoServer()


@pytest.fixture
def make_client(echo_server: EchoServer):
    clients: list[ToolClient] = []

    def factory(busy_retries: int = 0, **settings: object) -> ToolClient:
        client = ToolClient.in_process(create_app(echo_server, ServerSettings(**settings)),
                                       busy_retries=busy_retries)
        clients.append(client)
        return client

    yield factory
