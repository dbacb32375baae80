"""gymnasium's own checker passes on every registered env, random text actions included."""

from __future__ import annotations

import os
import warnings

import gymnasium
import pytest
from gymnasium.utils.env_checker import check_env

import envs


def _needs(env_id: str) -> list[pytest.MarkDecorator]:
    """Web envs need the browser, GUI envs Xvfb (`make setup` installs both); elsewhere they
    skip, saying so."""
    if env_id == "gui-grounding-v0":  # static screenshots: no display, no browser
        return []
    if env_id.startswith("gui-") and env_id != "gui-miniwob-v0":  # MiniWoB++ pixels: the browser
        from tests.gui.conftest import HAVE_DESKTOP

        return [pytest.mark.skipif(not HAVE_DESKTOP, reason="needs Xvfb, xdotool, tkinter and mss (`make setup`)")]
    if not env_id.startswith("web-") and env_id != "gui-miniwob-v0":
        return []
    from tool_servers.browser.config import DEFAULT_CHROMIUM
    from tool_servers.browser.pool import playwright_available

    usable = playwright_available() and os.access(DEFAULT_CHROMIUM, os.X_OK)
    return [pytest.mark.skipif(not usable, reason=f"needs Playwright and Chromium at {DEFAULT_CHROMIUM}")]


@pytest.mark.parametrize("env_id", [pytest.param(s.id, marks=_needs(s.id)) for s in envs.list()])
def test_check_env_passes(env_id: str) -> None:
    env = gymnasium.make(env_id).unwrapped  # made through gymnasium so render modes are checked too
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "not a Box/Discrete space" style advice
            check_env(env)
    finally:
        env.close()


def test_random_text_actions_never_raise() -> None:
    env = envs.make("code-stdio-v0", max_turns=50, max_invalid_actions=50)
    try:
        env.action_space.seed(0)
        env.reset(seed=0)
        for _ in range(40):
            observation, _reward, terminated, truncated, info = env.step(env.action_space.sample())
            assert observation in env.observation_space
            assert not info["env_error"]
            if terminated or truncated:
                env.reset()
    finally:
        env.close()
