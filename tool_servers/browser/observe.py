"""Observations of a page: the accessibility tree with bids, the page text, WebShop's
text view, a screenshot.

Every observation first runs `js/mark.js`, so that each element the page shows has a bid
before the tree is read.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tool_servers.browser.axtree import AXTree, bids_by_backend_id, render_axtree
from tool_servers.browser.boxes import element_boxes
from tool_servers.browser.scripts import script

if TYPE_CHECKING:
    from playwright.async_api import CDPSession, Page

MAX_TEXT_CHARS = 200_000


@dataclass(slots=True)
class Observation:
    url: str
    title: str
    text: str
    elements: list[dict[str, Any]] = field(default_factory=list)
    screenshot_png_b64: str | None = None


async def mark(page: Page) -> int:
    """Give every element a bid (idempotent: existing bids are kept)."""
    return int(await page.evaluate(script("mark")))


async def axtree(page: Page, cdp: CDPSession) -> AXTree:
    """The BrowserGym-style accessibility tree of the page's main frame."""
    await mark(page)
    document = await cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})
    nodes = (await cdp.send("Accessibility.getFullAXTree"))["nodes"]
    return render_axtree(nodes, bids_by_backend_id(document))


async def page_text(page: Page, limit: int = MAX_TEXT_CHARS) -> str:
    text = await page.evaluate("() => document.body ? document.body.innerText : ''")
    return str(text)[:limit]


async def webshop_text(page: Page) -> str:
    await mark(page)
    return str(await page.evaluate(script("webshop_text")))


async def screenshot(page: Page, full_page: bool = False) -> str:
    """A PNG of the viewport (or the whole page), base64-encoded."""
    return base64.b64encode(await page.screenshot(type="png", full_page=full_page)).decode()


async def observe(page: Page, cdp: CDPSession, mode: str, with_screenshot: bool = False) -> Observation:
    """The observation `mode` asks for ("axtree", "text", "webshop" or "pixels": the visible
    elements' boxes, linearised as OSWorld's a11y tree, and always a screenshot)."""
    if mode == "pixels":
        from tool_servers.desktop.a11y import linearize

        elements = await element_boxes(page, await axtree(page, cdp))
        text, with_screenshot = linearize(elements), True
    elif mode == "axtree":
        tree = await axtree(page, cdp)
        text, elements = tree.text, [e.to_dict() for e in tree.elements]
    elif mode == "webshop":
        text, elements = await webshop_text(page), []
    else:
        await mark(page)
        text, elements = await page_text(page), []
    shot = await screenshot(page) if with_screenshot else None
    return Observation(page.url, await page.title(), text, elements, shot)
