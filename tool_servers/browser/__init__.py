"""The browser tool server (`agent-rl serve browser`): headless Chromium through
Playwright, local task sites (MiniWoB++, MiniShop), BrowserGym-style observations.

Importing this package does not import Playwright; the server does when it starts.
"""

from tool_servers.browser.config import BrowserServerConfig
from tool_servers.browser.server import BrowserToolServer

__all__ = ["BrowserServerConfig", "BrowserToolServer"]
