"""Element boxes of a page for pixel-mode observations, in the desktop server's a11y schema.

Every element of the accessibility tree (`axtree.py`) that is visible in the viewport
becomes one dict with the same keys as the desktop server's Tk elements
(`tool_servers/desktop/apps/_runtime.py`), so GUI agents, grounding sets and the
linearised OSWorld tree (`tool_servers.desktop.a11y.linearize`) treat both alike:

| key | browser value |
|---|---|
| `id` | the element's bid as an int (the number the web env's tree shows in [brackets]) |
| `tag` | Chromium's accessibility role (`button`, `textbox`, `checkbox`, `link`, `StaticText`, ...) |
| `name` | the accessible name (a button's label, a text's words) |
| `text` | the current value of a text box or select ("" for other roles) |
| `class` | the HTML tag name (`button`, `input`, `span`, ...) |
| `description` | states, comma-separated (`focused`, `checked`, `expanded`, ...), plus `covered` when the middle of the box hits another element |
| `x`, `y`, `w`, `h` | the box in screenshot pixels (viewport CSS pixels, device scale 1), clipped to the viewport, integers |
| `depth` | the indentation of the element's line in the accessibility tree |

Hidden elements (`display: none`, `visibility: hidden`, opacity 0), empty ones and those
wholly outside the viewport are left out; the rest keep the tree's order (depth first).

>>> from tool_servers.browser.axtree import Element
>>> to_box(Element("7", "button", "OK", "", ("focused",), 2),
...        {"x": 3, "y": 4, "w": 40, "h": 20, "tag": "button", "covered": False})
{'id': 7, 'tag': 'button', 'name': 'OK', 'text': '', 'class': 'button', 'description': 'focused', 'x': 3, 'y': 4, 'w': 40, 'h': 20, 'depth': 2}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tool_servers.browser.axtree import AXTree, Element
from tool_servers.browser.scripts import script

if TYPE_CHECKING:
    from playwright.async_api import Page

__all__ = ["BOX_KEYS", "element_boxes", "to_box"]

#: The keys of every box, as in the desktop server's a11y elements.
BOX_KEYS = ("id", "tag", "name", "text", "class", "description", "x", "y", "w", "h", "depth")


def to_box(element: Element, rect: Mapping[str, Any]) -> dict[str, Any]:
    """One tree element and its measured rectangle (from `js/boxes.js`) as a box dict."""
    states = [*element.states, *(["covered"] if rect.get("covered") else [])]
    return {"id": int(element.bid), "tag": element.role, "name": element.name, "text": element.value,
            "class": str(rect.get("tag", "")), "description": ", ".join(states),
            "x": int(rect["x"]), "y": int(rect["y"]), "w": int(rect["w"]), "h": int(rect["h"]),
            "depth": element.depth}


async def element_boxes(page: Page, tree: AXTree) -> list[dict[str, Any]]:
    """The visible elements of `tree` with their boxes (see the module docstring).

    Elements whose bid is not a number (a page that sets its own `bid` attributes) are
    left out: ids are ints, as on the desktop."""
    elements = [e for e in tree.elements if e.bid.isdigit()]
    rects = await page.evaluate(script("boxes"), [e.bid for e in elements])
    return [to_box(e, rects[e.bid]) for e in elements if e.bid in rects]
