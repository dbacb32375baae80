"""The web env's tasks: MiniWoB++ task names, MiniShop goals, or WebShop's goals.

>>> [t.task_id for t in load_tasks("miniwob")][:2]
['miniwob/click-button', 'miniwob/click-button-sequence']
>>> load_tasks("minishop", limit=1)[0].site
'minishop'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from envs.errors import EnvConfigError


@dataclass(frozen=True, slots=True)
class WebTask:
    """One task: a MiniWoB++ task (instances vary with the episode seed) or a shop goal."""

    task_id: str
    site: str
    task: str = ""
    goal: dict[str, Any] = field(default_factory=dict)


def miniwob_tasks(names: Sequence[str] | None = None) -> list[WebTask]:
    from tool_servers.browser.sites.miniwob import TASKS

    chosen = list(names) if names is not None else list(TASKS)
    unknown = [n for n in chosen if n not in TASKS]
    if unknown:
        raise EnvConfigError(f"miniwob tasks {unknown} are not served; choose from: {', '.join(TASKS)}")
    return [WebTask(f"miniwob/{name}", "miniwob", name) for name in chosen]


def shop_tasks(products: int = 300, seed: int = 0) -> list[WebTask]:
    from tool_servers.browser.sites.minishop import generate_goals, generate_products

    goals = generate_goals(generate_products(products, seed), seed)
    return [WebTask(f"minishop/{i:04d}-{g['asin']}", "minishop", goal=g) for i, g in enumerate(goals)]


def webshop_tasks(directory: str) -> list[WebTask]:
    from sandbox.errors import AgentRLError
    from tool_servers.browser.sites.minishop import load_webshop

    try:
        _products, goals = load_webshop(directory)
    except AgentRLError as exc:
        raise EnvConfigError(str(exc)) from None
    return [WebTask(f"webshop/{i:05d}-{g['asin']}", "minishop", goal=g) for i, g in enumerate(goals)]


def load_tasks(source: str | Sequence[WebTask] | Sequence[str], *, limit: int | None = None,
               shop_products: int = 300, shop_seed: int = 0) -> list[WebTask]:
    """Resolve "miniwob", "minishop", "webshop:DIR", a list of MiniWoB++ task names, or
    a list of `WebTask`s; keep the first `limit`."""
    if isinstance(source, str):
        if source == "miniwob":
            tasks = miniwob_tasks()
        elif source == "minishop":
            tasks = shop_tasks(shop_products, shop_seed)
        elif source.startswith("webshop:"):
            tasks = webshop_tasks(source.removeprefix("webshop:"))
        else:
            raise EnvConfigError(f"unknown web task source {source!r}; use 'miniwob', 'minishop' or 'webshop:DIR'")
    elif all(isinstance(t, str) for t in source):
        tasks = miniwob_tasks([str(t) for t in source])
    else:
        tasks = [t for t in source if isinstance(t, WebTask)]
    if limit is not None:
        if limit < 1:
            raise EnvConfigError(f"limit must be ≥ 1, got {limit}")
        tasks = tasks[:limit]
    return tasks
