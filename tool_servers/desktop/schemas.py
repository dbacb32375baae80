"""Pydantic models at the desktop server's boundary: session params and tool arguments.

Tools follow OSWorld's `computer_13` action space in JSON form (CLICK → `click`, MOVE_TO
→ `move`, DRAG_TO → `drag`, TYPING → `type`, PRESS/HOTKEY → `key`, ...). Coordinates are
screen pixels; a point off the screen is answered as a model error (`out_of_screen`),
not rejected by the schema, so the env can count and penalise it.

>>> ClickArgs(x=10, y=20).button
'left'
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ObservationMode = Literal["screenshot", "a11y", "screenshot_a11y"]
Coordinate = Field(ge=-100_000, le=100_000)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DesktopSessionParams(_Model):
    """What a session plays: a mini-app, a goal number, and what each action returns."""

    app: str = Field(default="form", min_length=1, max_length=64)
    seed: int = Field(default=0, ge=0, lt=2**31)
    """Goal number: the same (app, seed) gives the same goal and initial state."""
    observation: ObservationMode = "screenshot_a11y"
    """Attach to every action's answer a PNG screenshot (`data["screenshot_png"]`, base64),
    the linearised a11y tree (in the text), or both."""


class PointArgs(_Model):
    x: int = Coordinate
    y: int = Coordinate


class ClickArgs(PointArgs):
    button: Literal["left", "right", "middle"] = "left"
    num_clicks: int = Field(default=1, ge=1, le=3)


class ButtonArgs(_Model):
    button: Literal["left", "right", "middle"] = "left"


class ScrollArgs(_Model):
    dx: int = Field(default=0, ge=-50, le=50, description="Clicks right (+) or left (-).")
    dy: int = Field(default=0, ge=-50, le=50, description="Clicks up (+) or down (-), as pyautogui.scroll.")
    x: int | None = Field(default=None, ge=-100_000, le=100_000)
    y: int | None = Field(default=None, ge=-100_000, le=100_000)


class TypeArgs(_Model):
    text: str = Field(min_length=1, max_length=2000)


class KeyArgs(_Model):
    combo: str = Field(min_length=1, max_length=100, description="e.g. 'enter', 'ctrl+a', 'shift+tab'.")


class WaitArgs(_Model):
    seconds: float = Field(default=0.5, ge=0, le=5)


class NoArgs(_Model):
    pass
