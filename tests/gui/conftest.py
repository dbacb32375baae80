"""A real desktop tool server (Xvfb + Tk apps + xdotool) shared by the GUI tests, in-process
through the ASGI transport, capped at 2 displays (the 2-core machine).

Tests skip, with the reason, where Xvfb, xdotool, tkinter or mss is missing; `make setup`
installs them.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tool_servers import ToolClient, create_app

HAVE_DESKTOP = all(shutil.which(tool) for tool in ("Xvfb", "xdotool")) and all(
    importlib.util.find_spec(module) is not None for module in ("tkinter", "mss"))
needs_desktop = pytest.mark.skipif(not HAVE_DESKTOP, reason="needs Xvfb and xdotool (apt-get), tkinter and mss "
                                                            "(`make setup`)")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def desktop_client() -> AsyncIterator[ToolClient]:
    """The shared desktop server's client; `server_of(client)` is the server."""
    from tool_servers.desktop import DesktopToolServer

    client = ToolClient.in_process(create_app(DesktopToolServer(max_displays=2, display_wait_s=5.0)))
    yield client
    await client.aclose()


def server_of(client: ToolClient):  # type: ignore[no-untyped-def]  # -> DesktopToolServer
    app = client.in_process_app
    assert app is not None, "an in-process client"
    return app.state.runtime.server


def alive(pid: int) -> bool:
    """Whether a process exists (zombies count as gone: they hold no resources)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
