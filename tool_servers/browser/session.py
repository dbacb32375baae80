"""One browser session: an isolated context with one tab, its origin gate and its episode.

`guard()` wraps every use of the page. Playwright raises one error type for everything;
the guard sorts them: if the browser (or the context) is gone, the session is lost and
`BrowserCrashedError` (infrastructure) goes up; otherwise the failure was the action's
(a timeout waiting for an invisible element, an unknown key) and the caller turns it into
an observation.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tool_servers.browser.errors import BrowserCrashedError
from tool_servers.browser.router import OriginGate
from tool_servers.browser.sites.base import Episode, Site

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, CDPSession, Page

    from tool_servers.browser.pool import BrowserPool
    from tool_servers.browser.schemas import BrowserSessionParams


class ActionFailed(Exception):
    """An action could not be done (the model's fault); the message is for the model."""


@dataclass(slots=True)
class BrowserSession:
    params: BrowserSessionParams
    site: Site
    episode: Episode
    gate: OriginGate
    context: BrowserContext
    page: Page
    cdp: CDPSession
    generation: int
    pool: BrowserPool
    steps: int = 0
    closed: bool = False
    last_error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def lost(self) -> bool:
        return self.closed or not self.pool.is_alive(self.generation) or self.page.is_closed()

    @contextlib.asynccontextmanager
    async def guard(self, what: str) -> AsyncIterator[None]:
        """Run page work; a dead browser becomes `BrowserCrashedError`, any other Playwright
        error `ActionFailed` with a short message."""
        if self.lost():
            raise BrowserCrashedError(f"the browser of this session is gone ({what}); start a new session")
        from playwright.async_api import Error as PlaywrightError

        try:
            yield
        except PlaywrightError as exc:
            if self.lost() or "closed" in str(exc).lower() and "target" in str(exc).lower():
                raise BrowserCrashedError(f"the browser died during {what}: {_first_line(exc)}") from exc
            raise ActionFailed(_first_line(exc)) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
