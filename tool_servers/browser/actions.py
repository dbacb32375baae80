"""The model's actions as Playwright calls on elements found by bid.

Each function does one action and returns a one-line result for the model, or raises
`ActionFailed` with a message that says what to do instead. Elements are found with the
attribute selector `[bid="…"]`; the bid was validated against `schemas.BID_PATTERN`, so
it cannot break out of the selector.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tool_servers.browser.observe import mark
from tool_servers.browser.router import local_site
from tool_servers.browser.schemas import (
    ClickArgs,
    ClickTextArgs,
    FillArgs,
    GotoArgs,
    PressArgs,
    ScrollArgs,
    SearchArgs,
    SelectArgs,
)
from tool_servers.browser.scripts import script
from tool_servers.browser.session import ActionFailed, BrowserSession

if TYPE_CHECKING:
    from playwright.async_api import Locator


class NoSuchElement(ActionFailed):
    """The bid is not on the current page."""


async def element(session: BrowserSession, bid: str) -> Locator:
    """The element with `bid`, or `NoSuchElement`."""
    await mark(session.page)
    locator = session.page.locator(f'[bid="{bid}"]')
    if await locator.count() == 0:
        raise NoSuchElement(f'no element with bid "{bid}" on this page; use a bid from the latest observation')
    return locator.first


def _timeout(session: BrowserSession) -> int:
    return session.pool.config.action_timeout_ms


async def click(session: BrowserSession, args: ClickArgs) -> str:
    """Click the element's centre; if another element covers the centre, click a visible
    part of it instead (a person would), else fail with Playwright's reason."""
    from playwright.async_api import Error as PlaywrightError

    target = await element(session, args.bid)
    try:
        await target.click(timeout=_timeout(session))
    except PlaywrightError as exc:
        box = await target.bounding_box() if "intercepts pointer events" in str(exc) else None
        if box is None or not await _click_uncovered(target, box):
            raise
    return f'clicked element "{args.bid}"'


async def _click_uncovered(target: Locator, box: dict[str, float]) -> bool:
    """Try points near the element's corners and edges; True once one click lands."""
    from playwright.async_api import Error as PlaywrightError

    width, height = box["width"], box["height"]
    inset_x, inset_y = min(3.0, width / 4), min(3.0, height / 4)
    points = [(inset_x, inset_y), (width - inset_x, inset_y), (inset_x, height - inset_y),
              (width - inset_x, height - inset_y), (width / 2, inset_y), (width / 2, height - inset_y),
              (inset_x, height / 2), (width - inset_x, height / 2)]
    for x, y in points:
        try:
            await target.click(position={"x": x, "y": y}, timeout=250)
        except PlaywrightError:
            continue
        return True
    return False


async def fill(session: BrowserSession, args: FillArgs) -> str:
    target = await element(session, args.bid)
    await target.fill(args.text, timeout=_timeout(session))
    return f'filled element "{args.bid}" with {args.text!r}'


async def select(session: BrowserSession, args: SelectArgs) -> str:
    target = await element(session, args.bid)
    chosen = await target.select_option(args.option, timeout=_timeout(session))
    return f'selected {", ".join(map(repr, chosen))} in element "{args.bid}"'


async def press(session: BrowserSession, args: PressArgs) -> str:
    if args.bid is not None:
        await (await element(session, args.bid)).press(args.key, timeout=_timeout(session))
        return f'pressed {args.key} in element "{args.bid}"'
    await session.page.keyboard.press(args.key)
    return f"pressed {args.key}"


async def scroll(session: BrowserSession, args: ScrollArgs) -> str:
    dx = {"left": -args.amount, "right": args.amount}.get(args.direction, 0)
    dy = {"up": -args.amount, "down": args.amount}.get(args.direction, 0)
    await session.page.mouse.wheel(dx, dy)
    return f"scrolled {args.direction} by {args.amount} px"


async def go_back(session: BrowserSession) -> str:
    timeout = session.pool.config.navigation_timeout_ms
    before = session.page.url
    await session.page.go_back(timeout=timeout)
    if session.page.url == "about:blank":  # the blank tab the session started in: not a page
        await session.page.go_forward(timeout=timeout)
        raise ActionFailed("there is no previous page")
    if session.page.url == before:
        raise ActionFailed("there is no previous page")
    return "went back"


async def goto(session: BrowserSession, args: GotoArgs) -> str:
    sites = session.extra["sites"]
    if local_site(args.url, sites) is None:
        origins = ", ".join(f"{site.origin}/" for site in sites.values())
        raise ActionFailed(f"{args.url!r} is not on a local site; only these can be opened: {origins}")
    await session.page.goto(args.url, timeout=session.pool.config.navigation_timeout_ms)
    return f"opened {args.url}"


async def click_text(session: BrowserSession, args: ClickTextArgs) -> str:
    """WebShop's `click[value]`: the link or button whose text is `value`."""
    await mark(session.page)
    bid = await session.page.evaluate(script("find_clickable"), args.text)
    if bid is None:
        raise NoSuchElement(f"no link or button reads {args.text!r} on this page; click one of the [button]s shown")
    await session.page.locator(f'[bid="{bid}"]').first.click(timeout=_timeout(session))
    return f"clicked {args.text!r}"


async def search(session: BrowserSession, args: SearchArgs) -> str:
    """WebShop's `search[query]`: type into the page's search box and submit."""
    await mark(session.page)
    bid = await session.page.evaluate(script("find_search_box"))
    if bid is None:
        raise NoSuchElement("this page has no search box; go back to the search page first")
    box = session.page.locator(f'[bid="{bid}"]').first
    await box.fill(args.query, timeout=_timeout(session))
    await box.press("Enter", timeout=_timeout(session))
    return f"searched for {args.query!r}"
