"""Options of the desktop tool server (`agent-rl serve desktop --option KEY=VALUE`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DesktopServerConfig(BaseModel):
    """Displays, their size and the session limit.

    >>> DesktopServerConfig().max_displays
    2
    """

    model_config = ConfigDict(extra="forbid")

    xvfb_path: str = "Xvfb"
    xdotool_path: str = "xdotool"
    python: str | None = None
    """Interpreter for the mini-apps (needs tkinter); None: the server's own."""
    width: int = Field(default=640, ge=160, le=3840)
    height: int = Field(default=480, ge=160, le=2160)
    max_displays: int = Field(default=2, ge=1, le=64)
    """Live sessions (= Xvfb + app pairs) at once: the session limit of a 2-core machine."""
    display_wait_s: float = Field(default=30.0, ge=0)
    """How long opening a session waits for a free display before a 503."""
    start_timeout_s: float = Field(default=15.0, gt=0, le=120)
    """Longest wait for Xvfb to pick a display and the app to map its window."""
    settle_ms: int = Field(default=30, ge=0, le=5000)
    """Pause after an input action so Tk redraws before the observation."""
    type_delay_ms: int = Field(default=2, ge=0, le=200)
    """xdotool's delay between typed characters."""
    png_level: int = Field(default=1, ge=0, le=9)
    """zlib level of screenshots (1: fast; screenshots are taken after every action)."""
