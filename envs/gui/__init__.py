"""The GUI environment (`gui-desktop-v0`, `gui-desktop-a11y-v0`, ...): Tk mini-apps on an
Xvfb display, OSWorld's observations and actions."""

from envs.gui.env import GuiEnv, render_action
from envs.gui.tasks import GuiTask, load_tasks

__all__ = ["GuiEnv", "GuiTask", "load_tasks", "render_action"]
