"""`BrowserPool`: one Chromium process, a bounded number of isolated contexts.

A context is Chromium's cheap unit of isolation (its own cookies, storage and cache): one
per session. The pool caps how many exist at once (`max_contexts`), because each costs a
renderer process. When the browser dies — it crashed, or was killed — every context in it
is lost: their sessions report `BrowserCrashedError` (the env's `env_error`), and the next
`new_context` launches a fresh browser. `generation` counts launches, so a session can
tell that its browser is not the current one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from tool_servers.browser.config import BrowserServerConfig
from tool_servers.browser.errors import BrowserUnavailableError
from tool_servers.browser.launcher import LaunchPlan, browser_pid, plan_launch, tree_memory_kib
from tool_servers.errors import ServerBusyError

if TYPE_CHECKING:  # Playwright is an optional dependency (the `web` extra)
    from playwright.async_api import Browser, BrowserContext, Playwright

log = logging.getLogger(__name__)


def playwright_available() -> bool:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return False
    return True


class BrowserPool:
    """Launches the browser lazily, hands out contexts, relaunches after a crash."""

    def __init__(self, config: BrowserServerConfig) -> None:
        self.config = config
        self._slots = asyncio.Semaphore(config.max_contexts)
        self._lock = asyncio.Lock()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._plan: LaunchPlan | None = None
        self.generation = 0
        self.live_contexts = 0

    async def _ensure_browser(self) -> tuple[Browser, int]:
        async with self._lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser, self.generation
            if self._browser is not None:
                log.warning("browser (generation %d) is gone; launching a new one", self.generation)
                with contextlib.suppress(Exception):
                    await self._browser.close()
                self._browser = None
            if self._playwright is None:
                try:
                    from playwright.async_api import async_playwright
                except ImportError:
                    raise BrowserUnavailableError(
                        "Playwright is not installed: `pip install -e '.[web]'` (or `make setup`)") from None
                self._playwright = await async_playwright().start()
            plan = plan_launch(self.config.executable_path, no_sandbox=self.config.no_sandbox)
            try:
                self._browser = await self._playwright.chromium.launch(
                    executable_path=plan.executable_path, args=list(plan.args), headless=True,
                    timeout=30_000, chromium_sandbox=False)
            except Exception as exc:
                raise BrowserUnavailableError(f"Chromium at {plan.executable_path} did not start: {exc}") from exc
            self._plan = plan
            self.generation += 1
            return self._browser, self.generation

    async def new_context(self, **options: Any) -> tuple[BrowserContext, int]:
        """A fresh context in the current browser (launched if needed), holding a slot until
        `release`. Waits up to `context_wait_s` for a slot, then 503."""
        try:
            async with asyncio.timeout(self.config.context_wait_s):
                await self._slots.acquire()
        except TimeoutError:
            raise ServerBusyError(
                f"all {self.config.max_contexts} browser contexts stayed busy for "
                f"{self.config.context_wait_s:g} s; close sessions or raise max_contexts",
                details={"max_contexts": self.config.max_contexts}) from None
        try:
            browser, generation = await self._ensure_browser()
            context = await browser.new_context(**options)
        except BaseException:
            self._slots.release()
            raise
        self.live_contexts += 1
        return context, generation

    async def release(self, context: BrowserContext) -> None:
        """Close a context (a dead one too) and free its slot. Call exactly once per context."""
        try:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(10):
                    await context.close()
        finally:
            self.live_contexts -= 1
            self._slots.release()

    def is_alive(self, generation: int) -> bool:
        """Whether the browser of `generation` is still the running one."""
        return generation == self.generation and self._browser is not None and self._browser.is_connected()

    @property
    def browser_pid(self) -> int | None:
        """The main browser process (None before launch or after it died)."""
        return browser_pid(self._plan.token) if self._plan is not None else None

    def memory_kib(self) -> int:
        """PSS of the browser's whole process tree (0 when not running)."""
        pid = self.browser_pid
        return tree_memory_kib(pid) if pid is not None else 0

    async def close(self) -> None:
        """Close the browser and the Playwright driver. Idempotent."""
        browser, self._browser = self._browser, None
        playwright, self._playwright = self._playwright, None
        if browser is not None:
            with contextlib.suppress(Exception):
                await browser.close()
        if playwright is not None:
            with contextlib.suppress(Exception):
                await playwright.stop()
