"""Errors of the desktop tool server.

    AgentRLError (sandbox.errors)
    ├── DesktopConfigError                  bad server options (no Xvfb / xdotool on this host)
    └── ToolServerError (tool_servers.errors)
        ├── BadArgumentsError          422
        │   ├── UnknownAppError             session params name an app this server does not have
        │   └── BadKeyError                 a key name xdotool cannot press
        ├── ServerBusyError            503
        │   └── DesktopBusyError            all display slots stayed busy (the session limit)
        └── ToolServerInfraError       5xx
            ├── DesktopUnavailableError     Xvfb or the app would not start
            └── DesktopCrashedError         this session's Xvfb or app died mid-episode

What the *model* gets wrong — a click outside the screen — is not an exception: the tool
answers `is_error=True` with `data["error_kind"] = "out_of_screen"`, and the episode goes
on. A dead display is infrastructure: the env reports `env_error` (NaN, never 0), and the
session's processes are already gone when the error is raised.
"""

from __future__ import annotations

from sandbox.errors import AgentRLError
from tool_servers.errors import (
    BadArgumentsError,
    InternalServerError,
    ServerBusyError,
    ToolServerInfraError,
)


class DesktopConfigError(AgentRLError, ValueError):
    """The server's options cannot work on this host (checked before serving)."""


class UnknownAppError(BadArgumentsError):
    """Session params name a mini-app this server does not have."""


class BadKeyError(BadArgumentsError):
    """A key or combination that is not in the supported key names."""


class DesktopBusyError(ServerBusyError):
    """Every display slot stayed busy for `display_wait_s` (the session limit)."""


class DesktopUnavailableError(ToolServerInfraError):
    """Xvfb, xdotool or the app is missing or would not start."""

    status_code = 503
    error_type = "unavailable"


class DesktopCrashedError(InternalServerError):
    """The session's X server or app died; the session's processes have been torn down."""
