"""MiniWoB++ from the `miniwob` package, served from `http://miniwob.test/`.

The package ships each task as an HTML page (plus shared JS and CSS). A session opens
`/miniwob/TASK.html` and starts an episode the way BrowserGym does: seed the page's
random generator (`Math.seedrandom(seed)`), set the time limit
(`core.EPISODE_MAX_TIME`), call `core.startEpisodeReal()` and wait until
`WOB_TASK_READY`. The task's own code ends the episode with `core.endEpisode(reward,
time_proportional)`, which sets `WOB_RAW_REWARD_GLOBAL` (raw, in [-1, 1]),
`WOB_REWARD_GLOBAL` (raw times max(0, 1 - elapsed / EPISODE_MAX_TIME) when the task
asks for time discounting) and `WOB_DONE_GLOBAL`. Like BrowserGym, the reward is
1 when raw > 0 and 0 otherwise; raw and discounted values are kept as named parts.

`TASKS` is the subset served by default: tasks solved by clicks and typing alone (no
drawing, dragging or canvas reading), each with a scripted reference solver in
`envs.web.solvers.miniwob`.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tool_servers.browser.errors import BrowserConfigError, UnknownTaskError
from tool_servers.browser.sites.base import Episode, Site, SiteRequest, SiteResponse
from tool_servers.schemas import EvaluateResponse

if TYPE_CHECKING:
    from playwright.async_api import Page

    from tool_servers.browser.schemas import BrowserSessionParams

#: The default subset: click and typing tasks (see the module docstring).
TASKS: tuple[str, ...] = (
    "click-button", "click-button-sequence", "click-checkboxes", "click-collapsible",
    "click-collapsible-nodelay", "click-dialog", "click-dialog-2", "click-link", "click-option",
    "click-tab", "click-test", "click-test-2", "click-widget", "choose-list", "enter-password",
    "enter-text", "enter-text-2", "enter-text-dynamic", "focus-text", "focus-text-2", "login-user",
    "unicode-test", "email-inbox-delete", "click-tab-2-easy", "click-checkboxes-large", "use-autocomplete-nodelay",
)

_START = """([seed, maxTime, hideCanvas]) => {
  Math.seedrandom(seed);
  core.EPISODE_MAX_TIME = maxTime;
  core.startEpisodeReal();
  const display = document.getElementById('reward-display');
  if (display) display.style.display = 'none';
  const canvas = document.getElementById('click-canvas');
  if (canvas && hideCanvas) canvas.style.display = 'none';
  return core.getUtterance();
}"""
_STATUS = """() => typeof WOB_DONE_GLOBAL === 'undefined' ? {done: false} :
  ({done: WOB_DONE_GLOBAL, reward: WOB_REWARD_GLOBAL, raw: WOB_RAW_REWARD_GLOBAL,
    reason: WOB_REWARD_REASON === null ? '' : String(WOB_REWARD_REASON)})"""


def miniwob_html_root() -> Path:
    """The `html/` directory of the installed `miniwob` package (found without importing
    it: its `__init__` registers gymnasium envs we do not want)."""
    from importlib.util import find_spec

    spec = find_spec("miniwob")
    if spec is None or not spec.submodule_search_locations:
        raise BrowserConfigError("the `miniwob` package is not installed: `pip install -e '.[web]'`")
    root = Path(next(iter(spec.submodule_search_locations))) / "html"
    if not (root / "core" / "core.js").is_file():
        raise BrowserConfigError(f"the `miniwob` package at {root.parent} has no html/core/core.js")
    return root


class MiniWoBSite(Site):
    """MiniWoB++ tasks, read from the installed package and cached in memory."""

    name = "miniwob"
    host = "miniwob.test"

    def __init__(self, tasks: tuple[str, ...] = TASKS, root: Path | None = None) -> None:
        self.root = (root or miniwob_html_root()).resolve()
        missing = [t for t in tasks if not (self.root / "miniwob" / f"{t}.html").is_file()]
        if missing:
            raise BrowserConfigError(f"miniwob tasks not in the package: {', '.join(missing)}")
        self.tasks = tasks
        self._cache: dict[str, SiteResponse] = {}

    def task_names(self) -> list[str]:
        return list(self.tasks)

    def new_episode(self, params: BrowserSessionParams) -> Episode:
        if params.task not in self.tasks:
            raise UnknownTaskError(f"miniwob has no task {params.task!r} in this server's subset",
                                   details={"known": list(self.tasks)})
        # Pixel mode shows only the 160x210 task area: the click visualiser beside it (a
        # canvas at x = 165) would make the page wider than the viewport, and scrollable.
        return Episode(self.name, params.task, params.seed, state={
            "max_time": params.episode_max_time_ms, "hide_click_canvas": params.observation == "pixels"})

    def handle(self, episode: Episode | None, request: SiteRequest) -> SiteResponse:
        cached = self._cache.get(request.path)
        if cached is not None:
            return cached
        path = (self.root / request.path.lstrip("/")).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            return SiteResponse.not_found(request.path)
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind.endswith("javascript"):
            kind += "; charset=utf-8"
        response = SiteResponse(path.read_bytes(), 200, kind)
        self._cache[request.path] = response
        return response

    async def start(self, page: Page, episode: Episode) -> None:
        await page.goto(f"{self.origin}/miniwob/{episode.task}.html", wait_until="load")
        episode.goal_text = await page.evaluate(
            _START, [episode.seed, episode.state["max_time"], episode.state.get("hide_click_canvas", False)])
        await page.wait_for_function("WOB_TASK_READY === true", timeout=10_000)

    async def status(self, page: Page, episode: Episode) -> dict[str, Any]:
        state = await page.evaluate(_STATUS)
        if state["done"] and "result" not in episode.state:
            episode.state["result"] = state  # the first end counts; the page starts over after it
        return {"done": "result" in episode.state}

    async def evaluate(self, page: Page, episode: Episode) -> EvaluateResponse:
        result = episode.state.get("result")
        if result is None:
            await self.status(page, episode)
            result = episode.state.get("result")
        if result is None:
            return EvaluateResponse(reward=0.0, success=False, parts={"done": 0.0, "raw": 0.0, "discounted": 0.0})
        raw, discounted = float(result["raw"]), float(result["reward"])
        success = raw > 0
        return EvaluateResponse(reward=float(success), success=success,
                                parts={"done": 1.0, "raw": raw, "discounted": discounted})
