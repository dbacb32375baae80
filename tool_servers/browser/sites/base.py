"""What a task site is: pages served from a local origin, episodes, and their scores.

A site answers the requests of the browser's pages for its own host (e.g.
`http://miniwob.test/...`) from Python: the context's request router hands them over
(`tool_servers.browser.router`), so no socket is opened and nothing else is reachable.
A session plays one *episode* of one site: `start` brings the page to the task's first
state, `status` reads whether the task is over (checked after every action), and
`evaluate` scores it server-side — ground truth never reaches the page or the model.

To add a site, subclass `Site`, give it a `name` and a `host` ending in `.test` (a
reserved top-level domain that can never resolve), and list it in
`tool_servers.browser.sites.SITES` (see docs/environments/web.md).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs

from tool_servers.schemas import EvaluateResponse

if TYPE_CHECKING:
    from playwright.async_api import Page

    from tool_servers.browser.schemas import BrowserSessionParams


@dataclass(frozen=True, slots=True)
class SiteRequest:
    """One request a page made to the site's host."""

    method: str
    path: str
    query: str = ""
    body: bytes = b""

    def params(self) -> dict[str, str]:
        """Query-string parameters (last value wins), plus form fields of a POST body."""
        merged = {k: v[-1] for k, v in parse_qs(self.query, keep_blank_values=True).items()}
        if self.body:
            merged.update({k: v[-1] for k, v in parse_qs(self.body.decode(errors="replace"),
                                                         keep_blank_values=True).items()})
        return merged


@dataclass(frozen=True, slots=True)
class SiteResponse:
    body: bytes
    status: int = 200
    content_type: str = "text/html; charset=utf-8"

    @classmethod
    def html(cls, text: str, status: int = 200) -> SiteResponse:
        return cls(text.encode(), status)

    @classmethod
    def not_found(cls, path: str) -> SiteResponse:
        return cls(f"<html><body><h1>Not found</h1><p>{path}</p></body></html>".encode(), 404)


@dataclass(slots=True)
class Episode:
    """One session's task on a site; sites keep their per-episode state in `state`."""

    site: str
    task: str
    seed: int
    goal_text: str = ""
    state: dict[str, Any] = field(default_factory=dict)


class Site(abc.ABC):
    """A set of tasks served as real HTML pages from one local origin."""

    name: ClassVar[str]
    host: ClassVar[str]

    @property
    def origin(self) -> str:
        return f"http://{self.host}"

    @abc.abstractmethod
    def task_names(self) -> list[str]:
        """The tasks a session may ask for (empty: any goal given in the params)."""

    @abc.abstractmethod
    def new_episode(self, params: BrowserSessionParams) -> Episode:
        """Validate the params (raise `UnknownTaskError`) and build the episode."""

    @abc.abstractmethod
    def handle(self, episode: Episode | None, request: SiteRequest) -> SiteResponse:
        """Answer one request; `episode` is None for a session playing another site."""

    @abc.abstractmethod
    async def start(self, page: Page, episode: Episode) -> None:
        """Bring `page` to the episode's first state and set `episode.goal_text`."""

    async def status(self, page: Page, episode: Episode) -> dict[str, Any]:
        """Whether the task is over (`{"done": bool, ...}`), read after every action."""
        return {"done": bool(episode.state.get("done"))}

    @abc.abstractmethod
    async def evaluate(self, page: Page, episode: Episode) -> EvaluateResponse:
        """Score the episode (0 when it is not over)."""
