"""Scripted reference (and wrong) shoppers for MiniShop goals, in both observation modes.

The reference shopper knows the goal's product (the env's hidden ground truth, as the
SQL env's reference knows the gold query): it searches the product's title, opens the
product from the results (paging with "Next >" if needed), picks each goal option and
buys. The wrong shopper buys the first other product its search shows, with no options.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from envs.web.miniwob_solvers import Action, PageView, click


def _page(view: PageView) -> str:
    path = urlsplit(view.url).path
    if path.startswith("/buy/"):
        return "done"
    if path.startswith("/item/"):
        return "detail" if path.count("/") > 2 else "item"
    return "results" if path == "/search" else "search"


def _webshop_buttons(text: str) -> list[tuple[str, bool]]:
    """(label, clicked) of every `[button] … [button_]` in a WebShop text observation."""
    return [(m.group(2), m.group(1) == "clicked button")
            for m in re.finditer(r"\[(button|clicked button)\] (.*?) \[(?:clicked )?button_\]", text)]


def shop_action(goal: dict[str, Any], view: PageView, observation: str, mode: str, *, wrong: bool = False
                ) -> Action | None:
    """The next action towards buying the goal's product (or a wrong one)."""
    page = _page(view)
    wanted = [] if wrong else list((goal.get("goal_options") or {}).values()
                                   if isinstance(goal.get("goal_options"), dict) else goal.get("goal_options") or [])
    target = goal["asin"]
    if page == "done":
        return None
    if mode == "webshop":
        buttons = _webshop_buttons(observation)
        labels = {label.lower(): clicked for label, clicked in buttons}
        if page == "search":
            return ("search", {"query": goal["name"] if not wrong else goal["query"]})
        if page == "results":
            if wrong:
                other = next((b for b, _ in buttons if re.fullmatch(r"[A-Z0-9]{10}", b) and b != target), None)
                return ("click_text", {"text": other or "Next >"})
            return ("click_text", {"text": target if target.lower() in labels else "Next >"})
        if page == "detail":
            return ("click_text", {"text": "< Prev"})
        for value in wanted:
            if not labels.get(value.lower(), True):
                return ("click_text", {"text": value})
        return ("click_text", {"text": "Buy Now"})
    if page == "search":
        box = view.first("searchbox") or view.first("textbox")
        query = goal["name"] if not wrong else goal["query"]
        if box is not None and box["value"] != query:
            return ("fill", {"bid": box["bid"], "text": query})
        return click(view.first("button", "Search"))
    if page == "results":
        links = [e for e in view.find("link") if re.fullmatch(r"[A-Z0-9]{10}", e["name"])]
        if wrong:
            return click(next((e for e in links if e["name"] != target), None) or view.first("link", "Next >"))
        return click(next((e for e in links if e["name"] == target), None) or view.first("link", "Next >"))
    if page == "detail":
        return click(view.first("link", "< Prev"))
    for value in wanted:
        option = view.first("button", value)
        if option is not None and "pressed" not in option["states"]:
            return click(option)
    return click(view.first("button", "Buy Now"))
