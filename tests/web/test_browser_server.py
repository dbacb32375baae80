"""The browser tool server in real headless Chromium: actions, typed errors, the origin
gate, session cleanup, the context cap, and recovery from a killed browser."""

from __future__ import annotations

import asyncio
import base64
import os
import signal

import pytest

from tests.web.conftest import MAX_CONTEXTS, needs_browser, server_of
from tool_servers import ToolClient
from tool_servers.errors import (
    BadArgumentsError,
    InternalServerError,
    ServerBusyError,
    UnknownToolError,
)
from tool_servers.types import ToolCall

pytestmark = [needs_browser, pytest.mark.asyncio(loop_scope="session")]


async def _session(client: ToolClient, task: str = "enter-text", **params: object) -> str:
    return await client.create_session({"site": "miniwob", "task": task, "seed": 5, **params})


async def test_actions_answer_with_the_new_tree(browser_client: ToolClient) -> None:
    session = await _session(browser_client)
    try:
        first = await browser_client.call(session, ToolCall("observe", {}))
        box = next(e for e in first.data["elements"] if e["role"] == "textbox")
        filled = await browser_client.call(session, ToolCall("fill", {"bid": box["bid"], "text": "hello"}))
        assert not filled.is_error and f"[{box['bid']}] textbox '', focused, value='hello'" in filled.content
        assert filled.data["goal"].startswith("Enter ") and filled.data["done"] is False
        text = await browser_client.call(session, ToolCall("page_text", {}))
        assert first.data["goal"] in text.content
        shot = await browser_client.call(session, ToolCall("screenshot", {}))
        assert base64.b64decode(shot.data["screenshot_png"])[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        await browser_client.delete_session(session)


async def test_the_model_s_mistakes_are_observations(browser_client: ToolClient) -> None:
    session = await _session(browser_client)
    try:
        missing = await browser_client.call(session, ToolCall("click", {"bid": "9999"}))
        assert missing.is_error and missing.data["error_kind"] == "no_such_element"
        assert 'no element with bid "9999"' in missing.content
        canvas = next(e for e in missing.data["elements"] if e["role"] == "Canvas")
        not_fillable = await browser_client.call(session, ToolCall("fill", {"bid": canvas["bid"], "text": "x"}))
        assert not_fillable.is_error and not_fillable.data["error_kind"] == "action_failed"
        no_back = await browser_client.call(session, ToolCall("go_back", {}))
        assert no_back.is_error and "no previous page" in no_back.content
        assert no_back.data["url"].startswith("http://miniwob.test/")
    finally:
        await browser_client.delete_session(session)


@pytest.mark.parametrize(("tool", "arguments", "error"), [
    ("click", {"bid": 'a"] , body'}, BadArgumentsError),  # cannot break out of the selector
    ("press", {"key": "Enter; alert(1)"}, BadArgumentsError),
    ("fill", {"bid": "1"}, BadArgumentsError),
    ("evaluate", {"script": "1"}, UnknownToolError),  # there is no JavaScript tool
])
async def test_bad_calls_are_typed_errors(browser_client: ToolClient, tool: str, arguments: dict,
                                          error: type[Exception]) -> None:
    session = await _session(browser_client, "click-test")
    try:
        with pytest.raises(error):
            await browser_client.call(session, ToolCall(tool, arguments))
    finally:
        await browser_client.delete_session(session)


async def test_bad_session_params_are_typed_errors(browser_client: ToolClient) -> None:
    with pytest.raises(BadArgumentsError, match="no site 'wikipedia'"):
        await browser_client.create_session({"site": "wikipedia"})
    with pytest.raises(BadArgumentsError, match="draw-circle"):
        await browser_client.create_session({"site": "miniwob", "task": "draw-circle"})
    with pytest.raises(BadArgumentsError, match="needs a goal"):
        await browser_client.create_session({"site": "minishop"})
    assert server_of(browser_client).pool.live_contexts == 0


async def test_goto_reaches_only_local_origins(browser_client: ToolClient) -> None:
    session = await _session(browser_client, "click-test")
    try:
        for url in ("http://example.com/", "https://shop.test/", "http://shop.test:8080/", "http://127.0.0.1:8000/",
                    "file:///etc/passwd", "http://user@shop.test/", "javascript:alert(1)"):
            result = await browser_client.call(session, ToolCall("goto", {"url": url}))
            assert result.is_error and "not on a local site" in result.content, url
            assert result.data["url"].startswith("http://miniwob.test/")
        local = await browser_client.call(session, ToolCall("goto", {"url": "http://shop.test/"}))
        assert not local.is_error and "MiniShop" in local.content
    finally:
        await browser_client.delete_session(session)


async def test_requests_a_page_makes_off_origin_are_blocked(browser_client: ToolClient) -> None:
    """Even a page's own script cannot reach another origin: the context's router aborts it."""
    session = await _session(browser_client, "click-test")
    try:
        runtime = browser_client.in_process_app.state.runtime  # type: ignore[union-attr]
        browser_session = runtime.store.get(session).state
        outcome = await browser_session.page.evaluate("""async () => {
            const tries = {};
            for (const url of ['http://example.com/x', 'http://10.0.0.1/', 'https://shop.test/']) {
                try { await fetch(url, {mode: 'no-cors'}); tries[url] = 'reached'; }
                catch (e) { tries[url] = 'failed'; }
            }
            const local = await fetch('/core/core.js');
            tries.local = local.ok ? 'reached' : 'failed';
            return tries;
        }""")
        assert outcome == {"http://example.com/x": "failed", "http://10.0.0.1/": "failed",
                           "https://shop.test/": "failed", "local": "reached"}
        assert {"http://example.com/x", "http://10.0.0.1/", "https://shop.test/"} <= set(browser_session.gate.blocked)
        observed = await browser_client.call(session, ToolCall("observe", {}))
        assert observed.data["blocked_requests"] >= 3
    finally:
        await browser_client.delete_session(session)


async def test_sessions_are_isolated_and_cleaned_up(browser_client: ToolClient) -> None:
    server = server_of(browser_client)
    sessions = [await _session(browser_client, "enter-text", seed=s) for s in range(2)]
    box = "15"
    await browser_client.call(sessions[0], ToolCall("fill", {"bid": box, "text": "only here"}))
    other = await browser_client.call(sessions[1], ToolCall("observe", {}))
    assert "only here" not in other.content
    assert server.pool.live_contexts == 2
    for session in sessions:
        await browser_client.delete_session(session)
    assert server.pool.live_contexts == 0
    assert server.pool._browser is not None and server.pool._browser.contexts == []


async def test_the_context_cap_answers_busy(browser_client: ToolClient) -> None:
    sessions = [await _session(browser_client, "click-test") for _ in range(MAX_CONTEXTS)]
    try:
        with pytest.raises(ServerBusyError, match="browser contexts"):
            await _session(browser_client, "click-test")
    finally:
        for session in sessions:
            await browser_client.delete_session(session)
    await browser_client.delete_session(await _session(browser_client, "click-test"))


async def test_a_killed_browser_is_an_infra_error_and_the_pool_recovers(browser_client: ToolClient) -> None:
    server = server_of(browser_client)
    session = await _session(browser_client, "click-test")
    generation, pid = server.pool.generation, server.pool.browser_pid
    assert pid is not None and server.pool.memory_kib() > 0
    os.kill(pid, signal.SIGKILL)
    for _ in range(50):
        if not server.pool.is_alive(generation):
            break
        await asyncio.sleep(0.1)
    with pytest.raises(InternalServerError, match="browser"):
        await browser_client.call(session, ToolCall("click", {"bid": "13"}))
    await browser_client.delete_session(session)
    assert server.pool.live_contexts == 0
    again = await _session(browser_client, "click-test")
    result = await browser_client.call(again, ToolCall("observe", {}))
    assert "Click Me!" in result.content and server.pool.generation == generation + 1
    await browser_client.delete_session(again)
