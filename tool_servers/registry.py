"""Tool servers by name, for `agent-rl serve NAME` and the envs' embedded defaults.

Entries are import strings ("module:Class") so that listing servers imports nothing
heavy (a browser server should not load Playwright to be listed). Third-party packages
add servers through the entry-point group `agent_rl.tool_servers`::

    [project.entry-points."agent_rl.tool_servers"]
    "calculator" = "my_package.server:CalculatorServer"
"""

from __future__ import annotations

import inspect
from typing import Any

from sandbox.errors import AgentRLError
from sandbox.registry import Registry, load_object
from tool_servers.server import ToolServer

ENTRY_POINT_GROUP = "agent_rl.tool_servers"

TOOL_SERVERS: Registry[str] = Registry("tool server")
TOOL_SERVERS.register("code", "tool_servers.code.server:CodeToolServer")
TOOL_SERVERS.register("sql", "tool_servers.sql.server:SqlToolServer")
TOOL_SERVERS.register("search", "tool_servers.search.server:SearchToolServer")
TOOL_SERVERS.register("browser", "tool_servers.browser.server:BrowserToolServer")
TOOL_SERVERS.register("desktop", "tool_servers.desktop.server:DesktopToolServer")


def load_plugins() -> None:
    """Register tool servers advertised by installed packages (once per process)."""
    TOOL_SERVERS.load_entry_points(ENTRY_POINT_GROUP)


def make_tool_server(name: str, **options: Any) -> ToolServer:
    """Build a registered tool server by name; bad options are a one-line error."""
    load_plugins()
    target = TOOL_SERVERS.get(name)
    try:
        factory = load_object(target, what=f"tool server {name!r}")
    except (ImportError, ValueError) as exc:
        raise AgentRLError(str(exc)) from exc
    try:
        inspect.signature(factory).bind(**options)
    except TypeError as exc:
        raise AgentRLError(f"bad options for tool server {name!r}: {exc}") from None
    server = factory(**options)
    if not isinstance(server, ToolServer):
        raise AgentRLError(f"tool server {name!r} built a {type(server).__name__}, not a ToolServer")
    return server
