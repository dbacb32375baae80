"""Errors of the browser tool server.

    AgentRLError (sandbox.errors)
    ├── BrowserConfigError                  bad server options (no Chromium at the path, a bad site)
    └── ToolServerError (tool_servers.errors)
        ├── BadArgumentsError          422
        │   ├── UnknownSiteError            session params name a site this server does not serve
        │   └── UnknownTaskError            ... or a task that site does not have
        └── ToolServerInfraError       5xx
            ├── BrowserUnavailableError     Playwright or Chromium is missing, or would not start
            └── BrowserCrashedError         the browser (or this session's page) died mid-episode

What the *model* gets wrong — a bid that is not on the page, a URL off the local
origins, an option a select does not have — is not an exception: the tool answers with
`is_error=True` and a message that says what to do, so the episode goes on. A crashed
browser is infrastructure: the env reports `env_error` and the pool starts a new one.
"""

from __future__ import annotations

from sandbox.errors import AgentRLError
from tool_servers.errors import BadArgumentsError, InternalServerError, ToolServerInfraError


class BrowserConfigError(AgentRLError, ValueError):
    """The server's options cannot work on this host (checked before serving)."""


class UnknownSiteError(BadArgumentsError):
    """Session params name a task site this server does not serve."""


class UnknownTaskError(BadArgumentsError):
    """Session params name a task the site does not have."""


class BrowserUnavailableError(ToolServerInfraError):
    """Playwright is not installed, Chromium is missing, or the browser would not start."""

    status_code = 503
    error_type = "unavailable"


class BrowserCrashedError(InternalServerError):
    """The browser process, or this session's context, died; the session is lost."""
