"""The origin gate: every request of a session's pages goes through here.

`context.route("**/*", gate)` makes Playwright pause each request before Chromium sends
it. Requests for a local site's host are answered by that site in Python (`fulfill`);
everything else — another host, another scheme, a port — is aborted with
`blockedbyclient` and recorded, so an episode can report what it tried to reach. Chromium
is also started with every host name mapped to "not found" (`launcher.OFFLINE_FLAGS`),
a second wall behind this one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tool_servers.browser.sites.base import Episode, Site, SiteRequest

if TYPE_CHECKING:
    from playwright.async_api import Route

log = logging.getLogger(__name__)

MAX_BLOCKED_RECORDED = 50


def local_site(url: str, sites: Mapping[str, Site]) -> Site | None:
    """The site serving `url`, or None when the URL is not on a local origin.

    Only `http://HOST/...` with a site's exact host and no port, user or password counts.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme != "http" or port is not None or parts.username or parts.password:
        return None
    for site in sites.values():
        if parts.hostname == site.host:
            return site
    return None


class OriginGate:
    """One session's request router (one per browser context)."""

    def __init__(self, sites: Mapping[str, Site], episode: Episode) -> None:
        self.sites = sites
        self.episode = episode
        self.blocked: list[str] = []
        self.served = 0

    async def __call__(self, route: Route) -> None:
        request = route.request
        site = local_site(request.url, self.sites)
        if site is None:
            if len(self.blocked) < MAX_BLOCKED_RECORDED:
                self.blocked.append(request.url[:300])
            await route.abort("blockedbyclient")
            return
        parts = urlsplit(request.url)
        body = request.post_data_buffer or b""
        episode = self.episode if site.name == self.episode.site else None
        try:
            response = site.handle(episode, SiteRequest(request.method, parts.path or "/", parts.query, body))
        except Exception:  # a bug in a site must not hang the page: answer 500
            log.exception("site %s failed on %s", site.name, request.url)
            await route.fulfill(status=500, body=b"internal error", content_type="text/plain")
            return
        self.served += 1
        await route.fulfill(status=response.status, body=response.body, content_type=response.content_type)
