"""The web environment (`web-miniwob-v0`, `web-shop-v0`, ...): a headless browser on local
task sites, BrowserGym's observations and actions."""

from envs.web.env import WebEnv, render_action
from envs.web.tasks import WebTask, load_tasks

__all__ = ["WebEnv", "WebTask", "load_tasks", "render_action"]
