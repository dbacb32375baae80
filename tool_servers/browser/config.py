"""Options of the browser tool server (`agent-rl serve browser --option KEY=VALUE`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_CHROMIUM = "/usr/bin/chromium"


class BrowserServerConfig(BaseModel):
    """How the one browser process is launched and how its contexts are shared.

    >>> BrowserServerConfig().max_contexts
    4
    """

    model_config = ConfigDict(extra="forbid")

    executable_path: str = DEFAULT_CHROMIUM
    """Chromium binary Playwright drives (Debian's `chromium` package; never downloaded)."""
    max_contexts: int = Field(default=4, ge=1, le=256)
    """Browser contexts (= live sessions) at once; each costs a renderer process."""
    context_wait_s: float = Field(default=30.0, ge=0)
    """How long opening a session waits for a free context before a 503."""
    action_timeout_ms: int = Field(default=2000, ge=100, le=60_000)
    """Playwright's actionability wait for one click/fill/select (an invisible element fails after it)."""
    navigation_timeout_ms: int = Field(default=10_000, ge=500, le=120_000)
    """Longest wait for a page load."""
    settle_ms: int = Field(default=50, ge=0, le=5000)
    """Pause after an action so page scripts (timers, animations) run before the observation."""
    stable_layout_ms: int = Field(default=1500, ge=0, le=10_000)
    """Pixel sessions: after the pause, wait (at most this long) until the elements' boxes
    stop moving, so that a screenshot never shows a half-expanded accordion whose buttons
    are about to move (coordinates read from it would miss). 0: no wait."""
    viewport_width: int = Field(default=800, ge=160, le=4096)
    viewport_height: int = Field(default=600, ge=160, le=4096)
    no_sandbox: bool | None = None
    """Pass `--no-sandbox` to Chromium (its own sandbox cannot start as root); None: when root."""
    shop_data: str | None = None
    """A WebShop data directory (items_shuffle*.json + items_ins_v2*.json) served as the shop
    catalogue instead of the generated MiniShop one."""
    shop_products: int = Field(default=300, ge=20, le=5000)
    """Products of the generated MiniShop catalogue."""
    shop_seed: int = 0
    """Seed of the generated MiniShop catalogue."""
