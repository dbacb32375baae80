"""The desktop tool server (`agent-rl serve desktop`): Xvfb displays with Tk mini-apps,
OSWorld's action space, screenshots and a synthetic a11y tree."""

from tool_servers.desktop.server import DesktopToolServer

__all__ = ["DesktopToolServer"]
