"""Pydantic models at the browser server's boundary: session params, tool arguments.

Tool arguments are validated before anything touches the page: a bid is a short token
of letters and digits, a key is a Playwright key name (`Enter`, `Control+a`), text has a
length cap. Nothing the model sends is ever evaluated as JavaScript.

>>> ClickArgs(bid="12").bid
'12'
>>> PressArgs(key="Control+a").key
'Control+a'
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BID_PATTERN", "BrowserSessionParams", "ClickArgs", "ClickTextArgs", "FillArgs", "GoBackArgs",
    "GotoArgs", "KeyboardPressArgs", "KeyboardTypeArgs", "MouseButtonArgs", "MouseClickArgs",
    "MouseDragArgs", "MousePointArgs", "ObserveArgs", "PageTextArgs", "PressArgs", "ScreenshotArgs",
    "ScrollArgs", "SearchArgs", "SelectArgs", "ShopGoal",
]

#: BrowserGym bids: a short run of letters, digits, "-" or "_".
BID_PATTERN = r"^[A-Za-z0-9_-]{1,16}$"
#: Playwright key names with optional modifiers: "Enter", "a", "Shift+Tab", "Control+a".
KEY_PATTERN = (r"^(?:(?:Shift|Control|Alt|Meta|ControlOrMeta)\+){0,3}"
               r"(?:[A-Za-z0-9]|[!-/:-@\[-`{-~]|F[0-9]{1,2}|[A-Z][A-Za-z]{1,15})$")
ObservationMode = Literal["axtree", "text", "webshop", "pixels"]
#: A coordinate as sent; points off the viewport are the model's mistake (an `out_of_screen`
#: observation, not a 422), so the bound here only keeps numbers sane.
Coordinate = Field(ge=-100_000, le=100_000, description="Screenshot pixels; (0, 0) is the top-left corner.")
Button = Literal["left", "right", "middle"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ShopGoal(_Model):
    """A shopping goal in WebShop's goal schema (never shown to the model, except
    `instruction_text`)."""

    asin: str = Field(min_length=1, max_length=32)
    instruction_text: str = Field(min_length=1, max_length=2000)
    attributes: list[str] = Field(default_factory=list, max_length=50)
    goal_options: dict[str, str] | list[str] = Field(default_factory=dict)
    price_upper: float = 1_000_000.0
    query: str = ""
    name: str = ""
    product_category: str = ""
    category: str = ""


class BrowserSessionParams(_Model):
    """What a session plays: a site, a task on it, a seed, and the observation it gets."""

    site: str = Field(default="miniwob", min_length=1, max_length=64)
    task: str = Field(default="", max_length=200)
    """The site's task name (MiniWoB++: e.g. "click-button"); MiniShop takes `goal` instead."""
    seed: int = Field(default=0, ge=0, lt=2**31)
    goal: ShopGoal | None = None
    observation: ObservationMode = "axtree"
    """What every action returns: the accessibility tree, the page's text, WebShop's
    `[SEP]`-joined text with `[button] … [button_]` clickables, or — "pixels" — a
    screenshot of a fixed viewport (`pointer.PIXEL_VIEWPORT`) with the visible elements'
    boxes (`boxes.py`), for coordinate actions (`mouse_click`, `keyboard_type`, ...)."""
    screenshot: bool = False
    """Attach a PNG screenshot (base64, in `data`) to every observation."""
    episode_max_time_ms: int = Field(default=1_000_000, ge=1000, le=10_000_000)
    """MiniWoB++'s time limit, which also discounts its reward (BrowserGym: 10^6 ms)."""


class GotoArgs(_Model):
    url: str = Field(min_length=1, max_length=2000, description="A URL on one of the local sites.")


class ClickArgs(_Model):
    bid: str = Field(pattern=BID_PATTERN, description="The element's id, the number in [brackets].")


class FillArgs(_Model):
    bid: str = Field(pattern=BID_PATTERN, description="The text field's id.")
    text: str = Field(max_length=10_000, description="Replaces what the field holds.")


class SelectArgs(_Model):
    bid: str = Field(pattern=BID_PATTERN, description="The select (combobox/listbox) element's id.")
    option: str | list[str] = Field(description="The option's label or value (a list for multi-selects).")


class PressArgs(_Model):
    key: str = Field(pattern=KEY_PATTERN, max_length=40, description='A key or combination, e.g. "Enter", "Control+a".')
    bid: str | None = Field(default=None, pattern=BID_PATTERN, description="Focus this element first (optional).")


class ScrollArgs(_Model):
    direction: Literal["up", "down", "left", "right"] = "down"
    amount: int = Field(default=300, ge=1, le=10_000, description="Pixels.")


class GoBackArgs(_Model):
    pass


class ObserveArgs(_Model):
    pass


class PageTextArgs(_Model):
    max_chars: int = Field(default=20_000, ge=1, le=200_000)


class ScreenshotArgs(_Model):
    full_page: bool = False


class ClickTextArgs(_Model):
    text: str = Field(min_length=1, max_length=500, description="The visible text of a link or button.")


class SearchArgs(_Model):
    query: str = Field(min_length=1, max_length=500, description="Typed into the page's search box, then submitted.")




class MousePointArgs(_Model):
    x: int = Coordinate
    y: int = Coordinate


class MouseClickArgs(MousePointArgs):
    button: Button = "left"
    num_clicks: int = Field(default=1, ge=1, le=3)


class MouseButtonArgs(_Model):
    button: Button = "left"
    x: int | None = Field(default=None, ge=-100_000, le=100_000, description="Move here first (optional).")
    y: int | None = Field(default=None, ge=-100_000, le=100_000, description="Move here first (optional).")


class MouseDragArgs(_Model):
    from_x: int = Coordinate
    from_y: int = Coordinate
    to_x: int = Coordinate
    to_y: int = Coordinate


class KeyboardTypeArgs(_Model):
    text: str = Field(min_length=1, max_length=2000, description="Typed key by key into the focused element.")


class KeyboardPressArgs(_Model):
    key: str = Field(min_length=1, max_length=100, pattern=r"^[\x21-\x7e]+$",
                     description="A key or combination: 'Enter', 'Control+a', or pyautogui's 'enter', 'ctrl+a'.")
