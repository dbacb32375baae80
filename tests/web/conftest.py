"""One real headless Chromium for the web tests: a browser tool server shared by every
test of the session (in-process, through the ASGI transport), capped at 3 contexts.

Tests that need the browser skip, with the reason, where Playwright or Chromium is
missing; `make setup` installs both.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tool_servers import ToolClient, create_app
from tool_servers.browser.config import DEFAULT_CHROMIUM
from tool_servers.browser.pool import playwright_available

MAX_CONTEXTS = 3

needs_browser = pytest.mark.skipif(
    not (playwright_available() and os.access(DEFAULT_CHROMIUM, os.X_OK)),
    reason=f"needs Playwright (`pip install -e '.[web]'`) and Chromium at {DEFAULT_CHROMIUM} (`make setup`)")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser_client() -> AsyncIterator[ToolClient]:
    """The shared browser server's client; its `app` exposes the server (`server_of`)."""
    from tool_servers.browser import BrowserToolServer

    client = ToolClient.in_process(create_app(BrowserToolServer(max_contexts=MAX_CONTEXTS, settle_ms=20, context_wait_s=1.0)))
    yield client
    await client.aclose()


def server_of(client: ToolClient):  # type: ignore[no-untyped-def]  # -> BrowserToolServer
    app = client.in_process_app
    assert app is not None, "an in-process client"
    return app.state.runtime.server
