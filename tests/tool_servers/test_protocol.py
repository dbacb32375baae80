"""The tool-server protocol, in-process through ASGITransport (the embedded default)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tool_servers import ToolCall, ToolClient
from tool_servers.errors import (
    BadArgumentsError,
    InternalServerError,
    PayloadTooLargeError,
    ServerBusyError,
    SessionExpiredError,
    ToolServerUnavailableError,
    UnknownSessionError,
    UnknownToolError,
)


async def test_full_session_lifecycle(make_client, echo_server) -> None:
    async with make_client() as client:
        health = await client.health()
        assert health.server == "echo" and health.status == "ok"
        tools = await client.list_tools()
        assert [t.function.name for t in tools] == ["echo", "sleep", "crash"]
        assert tools[0].type == "function"
        assert tools[0].function.parameters["properties"]["text"]["type"] == "string"
        session = await client.create_session({"secret": 7})
        result = await client.call(session, ToolCall("echo", {"text": "hi"}, id="call_0"))
        assert (result.content, result.is_error, result.call_id, result.data) == ("hi", False, "call_0", {"calls": 1})
        verdict = await client.evaluate(session, {"guess": 7})
        assert verdict.reward == 1.0 and verdict.success and verdict.parts == {"exact": 1.0}
        assert (await client.evaluate(session, {"guess": 3})).reward == 0.0
        assert await client.delete_session(session) is True
        assert await client.delete_session(session) is False  # idempotent
        assert [s.secret for s in echo_server.closed] == [7]
    assert echo_server.started == 1 and echo_server.stopped == 1  # owned app shut down on close


async def test_unknown_tool_lists_known_tools(make_client) -> None:
    async with make_client() as client:
        session = await client.create_session()
        with pytest.raises(UnknownToolError, match="echo, sleep"):
            await client.call(session, ToolCall("ecko", {"text": "x"}))


async def test_bad_arguments_name_the_field(make_client) -> None:
    async with make_client() as client:
        session = await client.create_session()
        with pytest.raises(BadArgumentsError, match="text") as info:
            await client.call(session, ToolCall("echo", {"txt": "x"}))
        assert info.value.details["errors"]
        with pytest.raises(BadArgumentsError, match="session params"):
            await client.create_session({"secret": "not a number"})
        with pytest.raises(BadArgumentsError, match="evaluate payload"):
            await client.evaluate(session, {"guess": "seven"})


async def test_unknown_session(make_client) -> None:
    async with make_client() as client:
        with pytest.raises(UnknownSessionError):
            await client.call("nope", ToolCall("echo", {"text": "x"}))
        with pytest.raises(UnknownSessionError):
            await client.evaluate("nope", {"guess": 1})


async def test_expired_session_is_410_and_reaped(make_client, echo_server) -> None:
    async with make_client(session_ttl_s=0.2, reap_interval_s=0.1) as client:
        kept = await client.create_session({"secret": 1})
        session = await client.create_session({"secret": 2})
        await asyncio.sleep(0.45)
        assert sorted(s.secret for s in echo_server.closed) == [1, 2]  # the reaper closed both
        with pytest.raises(SessionExpiredError, match="expired"):
            await client.call(session, ToolCall("echo", {"text": "late"}))
        assert await client.delete_session(kept) is False


async def test_payload_too_large(make_client) -> None:
    async with make_client(max_body_bytes=2048) as client:
        session = await client.create_session()
        with pytest.raises(PayloadTooLargeError, match="2048"):
            await client.call(session, ToolCall("echo", {"text": "x" * 5000}))
        assert (await client.call(session, ToolCall("echo", {"text": "small"}))).content == "small"


async def test_concurrency_limit_answers_busy(make_client) -> None:
    async with make_client(max_concurrency=1, queue_timeout_s=0.1) as client:
        a, b = await client.create_session(), await client.create_session()
        results = await asyncio.gather(client.call(a, ToolCall("sleep", {"seconds": 0.5})),
                                       client.call(b, ToolCall("sleep", {"seconds": 0.5})),
                                       return_exceptions=True)
        assert sum(isinstance(r, ServerBusyError) for r in results) == 1
        assert sum(getattr(r, "content", None) == "slept" for r in results) == 1


async def test_session_limit_answers_busy(make_client) -> None:
    async with make_client(max_sessions=1) as client:
        first = await client.create_session()
        with pytest.raises(ServerBusyError, match="session limit"):
            await client.create_session()
        await client.delete_session(first)
        await client.create_session()  # room again


async def test_handler_crash_is_typed_500(make_client) -> None:
    async with make_client() as client:
        session = await client.create_session()
        with pytest.raises(InternalServerError, match="boom"):
            await client.call(session, ToolCall("crash"))
        assert (await client.call(session, ToolCall("echo", {"text": "still up"}))).content == "still up"


async def test_malformed_bodies_are_400_json(make_client) -> None:
    client = make_client()
    transport = httpx.ASGITransport(app=client.in_process_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as raw:
        response = await raw.post("/sessions", content=b"{not json", headers={"content-type": "application/json"})
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "bad_request"
        response = await raw.post("/sessions", json={"params": {}, "unexpected": 1})
        assert response.status_code == 400 and "unexpected" in response.json()["error"]["message"]
        response = await raw.get("/no/such/route")
        assert response.status_code == 404 and response.json()["error"]["type"] == "not_found"
    await client.aclose()


async def test_unreachable_server_is_unavailable() -> None:
    async with ToolClient("http://127.0.0.1:9", timeout_s=2) as client:
        with pytest.raises(ToolServerUnavailableError, match="did not answer"):
            await client.health()


async def test_closed_client_refuses_requests(make_client) -> None:
    client = make_client()
    await client.aclose()
    await client.aclose()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        await client.health()


async def test_busy_answers_are_retried_when_asked(make_client) -> None:
    async with make_client(busy_retries=3, max_concurrency=1, queue_timeout_s=0) as client:
        a, b = await client.create_session(), await client.create_session()
        results = await asyncio.gather(client.call(a, ToolCall("sleep", {"seconds": 0.3})),
                                       client.call(b, ToolCall("sleep", {"seconds": 0.3})))
        assert [r.content for r in results] == ["slept", "slept"]


async def test_calls_queued_on_one_session_do_not_starve_another(make_client) -> None:
    async with make_client(max_concurrency=2, queue_timeout_s=0.5) as client:
        a, b = await client.create_session(), await client.create_session()
        slow = [client.call(a, ToolCall("sleep", {"seconds": 0.4})) for _ in range(3)]
        fast = client.call(b, ToolCall("echo", {"text": "b"}))
        *_, fast_result = await asyncio.gather(*slow, fast, return_exceptions=True)
        assert getattr(fast_result, "content", fast_result) == "b"


async def test_delete_stops_the_running_and_queued_calls_then_closes(make_client, echo_server) -> None:
    """An abandoned episode's session is given back at once: deleting it cancels the call
    in flight (and those queued behind it) instead of waiting for their results."""
    async with make_client() as client:
        session = await client.create_session({"secret": 5})
        running = asyncio.create_task(client.call(session, ToolCall("sleep", {"seconds": 5})))
        queued = asyncio.create_task(client.call(session, ToolCall("echo", {"text": "late"})))
        await asyncio.sleep(0.1)
        assert (await client.health()).active_calls == 1
        started = time.monotonic()
        assert await client.delete_session(session) is True
        assert time.monotonic() - started < 2.0  # not the 5 s the call would have taken
        for call in (running, queued):
            with pytest.raises(UnknownSessionError, match="deleted"):
                await call
        assert [s.secret for s in echo_server.closed] == [5]
        assert echo_server.closed_while_sleeping == [False]  # closed after the handler unwound, not under it
        assert echo_server.closed[0].calls == []  # the queued call never ran
        health = await client.health()
        assert (health.sessions, health.active_calls) == (0, 0)


async def test_a_cancelled_caller_cancels_its_call(make_client, echo_server) -> None:
    async with make_client() as client:
        session = await client.create_session()
        call = asyncio.create_task(client.call(session, ToolCall("sleep", {"seconds": 5})))
        await asyncio.sleep(0.1)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert (await client.health()).active_calls == 0
        assert (await client.call(session, ToolCall("echo", {"text": "next"}))).content == "next"


async def test_wrong_method_is_405_json(make_client) -> None:
    client = make_client()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=client.in_process_app), base_url="http://t") as raw:
        response = await raw.put("/sessions")
        assert response.status_code == 405 and response.json()["error"]["type"] == "method_not_allowed"
        assert "POST" in response.headers["allow"]
    await client.aclose()
