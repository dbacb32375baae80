"""`agent-rl serve code` over real HTTP on 127.0.0.1: every endpoint, every error case."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time

import httpx
import pytest

import envs
from envs.parsing import render_tool_call
from tool_servers import ToolCall
from tool_servers.local import LocalServer, start_local_server

HIDDEN = {"tests": [{"kind": "stdio", "input": "2 3\n", "output": "5\n"},
                    {"kind": "stdio", "input": "10 -4\n", "output": "6\n"}]}
SOLUTION = "a, b = map(int, input().split())\nprint(a + b)\n"


def post(server: LocalServer, path: str, **kwargs) -> httpx.Response:
    return httpx.post(server.url + path, timeout=30, **kwargs)


def new_session(server: LocalServer, **body) -> str:
    response = post(server, "/sessions", json={"params": {"hidden": HIDDEN}, **body})
    assert response.status_code == 201, response.text
    return response.json()["session_id"]


def assert_error(response: httpx.Response, status: int, error_type: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] == error_type and error["message"]
    return error["message"]


def test_every_endpoint_answers(code_server: LocalServer) -> None:
    health = httpx.get(code_server.url + "/health").json()
    assert health["status"] == "ok" and health["server"] == "code"
    tools = httpx.get(code_server.url + "/tools").json()["tools"]
    assert tools[0]["function"]["name"] == "python"
    assert "code" in tools[0]["function"]["parameters"]["required"]
    session = new_session(code_server)
    called = post(code_server, f"/sessions/{session}/call",
                  json={"tool": "python", "arguments": {"code": "print(6 * 7)"}}).json()
    assert "42" in called["content"] and called["is_error"] is False and called["data"]["status"] == "ok"
    verdict = post(code_server, f"/sessions/{session}/evaluate", json={"payload": {"solution": SOLUTION}}).json()
    assert verdict["reward"] == 1.0 and verdict["success"] is True
    assert verdict["data"]["verdicts"] == ["pass", "pass"]
    wrong = post(code_server, f"/sessions/{session}/evaluate", json={"payload": {"solution": "print(5)"}}).json()
    assert wrong["reward"] == 0.0 and wrong["success"] is False
    assert httpx.delete(f"{code_server.url}/sessions/{session}").json() == {"deleted": True}


def test_error_cases_are_typed_json(code_server: LocalServer) -> None:
    session = new_session(code_server)
    call = f"/sessions/{session}/call"
    assert "python" in assert_error(post(code_server, call, json={"tool": "bash", "arguments": {}}), 404, "unknown_tool")
    assert "code" in assert_error(post(code_server, call, json={"tool": "python", "arguments": {"cod": "1"}}),
                                  422, "bad_arguments")
    assert_error(post(code_server, call, json={"tool": "python", "arguments": {"code": "1", "timeout_s": 999}}),
                 422, "bad_arguments")
    assert_error(post(code_server, "/sessions/nope/call", json={"tool": "python", "arguments": {"code": "1"}}),
                 404, "unknown_session")
    assert_error(httpx.delete(code_server.url + "/sessions/nope"), 404, "unknown_session")
    assert_error(post(code_server, call, content=b"{oops", headers={"content-type": "application/json"}),
                 400, "bad_request")
    assert_error(post(code_server, call, json={"tool": "python"} | {"extra": 1}), 400, "bad_request")
    assert_error(post(code_server, "/sessions", json={"params": {"hidden": {"tests": []}}}), 422, "bad_arguments")
    assert "limit" in assert_error(post(code_server, call, json={"tool": "python", "arguments": {"code": "x" * (2 << 20)}}),
                                   413, "payload_too_large")
    assert_error(httpx.get(code_server.url + "/nowhere"), 404, "not_found")
    bare = post(code_server, "/sessions", json={}).json()["session_id"]
    assert "hidden tests" in assert_error(post(code_server, f"/sessions/{bare}/evaluate",
                                               json={"payload": {"solution": "print(1)"}}), 400, "bad_request")
    short = new_session(code_server, ttl_s=0.3)
    time.sleep(0.6)
    assert_error(post(code_server, f"/sessions/{short}/call", json={"tool": "python", "arguments": {"code": "1"}}),
                 410, "session_expired")
    for sid in (session, bare):
        httpx.delete(f"{code_server.url}/sessions/{sid}")


def test_session_limit_is_503_with_retry_after(code_server: LocalServer) -> None:
    live = int(httpx.get(code_server.url + "/health").json()["sessions"])
    sessions = [new_session(code_server) for _ in range(8 - live)]
    try:
        response = post(code_server, "/sessions", json={"params": {}})
        assert_error(response, 503, "server_busy")
        assert response.headers["retry-after"]
    finally:
        for sid in sessions:
            httpx.delete(f"{code_server.url}/sessions/{sid}")


async def test_deleting_a_session_stops_its_running_call(code_server: LocalServer) -> None:
    """An episode abandoned mid-call drops its connection, but the server keeps running the
    handler; the episode's delete must stop that call and free the session at once, not
    wait the call's 25 s (a consumer that stops early waits for every delete)."""
    from tool_servers import ToolClient

    async with ToolClient(code_server.url) as client:
        before = (await client.health()).sessions
        session = await client.create_session({"hidden": HIDDEN})
        slow = ToolCall("python", {"code": "import time\ntime.sleep(25)", "timeout_s": 28})
        call = asyncio.create_task(client.call(session, slow))
        deadline = time.monotonic() + 20
        while (await client.health()).active_calls < 1:
            assert time.monotonic() < deadline, "the call never started"
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # well inside the sandboxed sleep
        call.cancel()  # the episode is cancelled: its request is abandoned
        with contextlib.suppress(asyncio.CancelledError):
            await call
        started = time.monotonic()
        assert await client.delete_session(session) is True
        assert time.monotonic() - started < 10.0
        health = await client.health()
        assert (health.sessions, health.active_calls) == (before, 0)


def test_crashed_server_mid_episode_is_env_error_not_zero() -> None:
    server = start_local_server("code")
    env = envs.make("code-stdio-v0", server_url=server.url, limit=2)
    try:
        env.reset(seed=0)
        server.stop()  # the tool server dies mid-episode
        _, reward, terminated, truncated, info = env.step(render_tool_call(ToolCall("python", {"code": "print(1)"})))
        assert info["env_error"] is True and info["status"] == "env_error"
        assert math.isnan(reward) and truncated and not terminated
        assert info["outcome_reward"] is None and "did not answer" in info["error"]
    finally:
        env.close()
        server.stop()


def test_reset_against_a_dead_server_raises_a_typed_error() -> None:
    from tool_servers.errors import ToolServerUnavailableError

    env = envs.make("code-stdio-v0", server_url="http://127.0.0.1:9", limit=1)
    try:
        with pytest.raises(ToolServerUnavailableError):
            env.reset(seed=0)
    finally:
        env.close()


async def test_code_server_accepts_megabyte_hidden_tests_by_default() -> None:
    from tool_servers import ToolClient, create_app, make_tool_server

    big = "1 2\n" * 400_000  # ≈ 1.6 MB of stdin, as LiveCodeBench private tests have
    hidden = {"tests": [{"kind": "stdio", "input": big, "output": "3\n"}]}
    async with ToolClient.in_process(create_app(make_tool_server("code"))) as client:
        session = await client.create_session({"hidden": hidden})
        verdict = await client.evaluate(session, {"solution": "a, b = map(int, input().split())\nprint(a + b)\n"})
        assert verdict.reward == 1.0
