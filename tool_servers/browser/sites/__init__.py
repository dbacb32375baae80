"""Task sites served by the browser tool server, by name."""

from __future__ import annotations

from tool_servers.browser.config import BrowserServerConfig
from tool_servers.browser.sites.base import Episode, Site, SiteRequest, SiteResponse

__all__ = ["Episode", "Site", "SiteRequest", "SiteResponse", "build_sites"]


def build_sites(config: BrowserServerConfig) -> dict[str, Site]:
    """Every site this server serves: MiniWoB++ and the shop (MiniShop, or WebShop's data)."""
    from tool_servers.browser.sites.minishop.site import MiniShopSite
    from tool_servers.browser.sites.miniwob import MiniWoBSite

    sites: list[Site] = [MiniWoBSite(), MiniShopSite.from_config(config)]
    return {site.name: site for site in sites}
