"""MiniWoB++ in pixel mode (`gui-miniwob-v0`): the web env's tasks, seen as screenshots and
done with the mouse and keyboard.

The browser server plays the task in its "pixels" observation: a fixed 160x210 viewport
(MiniWoB++'s whole task area; `tool_servers.browser.pointer.PIXEL_VIEWPORT`), a PNG
screenshot after every action, and the visible elements' boxes in the desktop server's
a11y schema. The model sees what the desktop GUI env shows — the goal, each action's
result, the screenshot as an OpenAI `image_url` part and, in the `screenshot_a11y` and
`a11y` modes, the boxes as OSWorld's linearised tree — and acts the same way: pyautogui
calls or OSWorld JSON actions, parsed by the `gui` parser (never executed) and done with
the browser's coordinate tools (`envs.gui.miniwob_pixels`). A point off the viewport is
an `out_of_screen` observation (optional step reward `out_of_screen_reward`).

The episode ends when MiniWoB++ ends it (or the agent says DONE / FAIL) and is scored as in
the web env: 1 if the task's raw reward > 0, raw and time-discounted values as parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from envs.base import StepResult
from envs.errors import EnvConfigError
from envs.gui.env import render_action
from envs.gui.miniwob_pixels import scripted_pixel_actions, to_browser_calls
from envs.gui.screen_env import ActionFormat, ObservationMode, ScreenEnv
from envs.gui.solvers import Action
from envs.types import Message, Turn
from envs.web.tasks import WebTask, load_tasks
from tool_servers.types import ToolCall, ToolResult


class MiniWoBPixelEnv(ScreenEnv[WebTask]):
    """MiniWoB++ tasks in pixel mode; see the module docstring.

    Args:
        tasks: "miniwob" (the served subset), a list of MiniWoB++ task names, or `WebTask`s.
        limit: keep the first `limit` tasks.
        observation: "screenshot", "a11y" or "screenshot_a11y" (the element boxes as text too).
        action_format: how scripted agents write actions ("pyautogui" or "json"); the
            parser reads both either way.
        invalid_action_reward / out_of_screen_reward: step rewards (e.g. -0.1).
        **kwargs: `ToolEnv` options (max_turns, server_url, tool_client, server_options, ...).
    """

    tool_server = "browser"

    def __init__(self, tasks: str | Sequence[str] | Sequence[WebTask] = "miniwob", *, limit: int | None = None,
                 observation: ObservationMode = "screenshot", action_format: ActionFormat = "pyautogui",
                 invalid_action_reward: float = 0.0, out_of_screen_reward: float = 0.0, max_turns: int = 20,
                 max_tool_calls_per_turn: int = 5, tool_schemas_in_prompt: bool = False, **kwargs: Any) -> None:
        loaded = load_tasks(tasks, limit=limit)
        if any(t.site != "miniwob" for t in loaded):
            raise EnvConfigError("gui-miniwob plays MiniWoB++ tasks only; use web-shop-v0 for the shop")
        super().__init__(loaded, observation=observation, action_format=action_format,
                         invalid_action_reward=invalid_action_reward, out_of_screen_reward=out_of_screen_reward,
                         max_turns=max_turns, max_tool_calls_per_turn=max_tool_calls_per_turn,
                         tool_schemas_in_prompt=tool_schemas_in_prompt, **kwargs)
        self._history: list[Action] = []  # the scripted agent's element actions done so far
        self._pending: tuple[Action, str] | None = None  # its latest proposal and the text written

    # ---- ToolEnv hooks ----------------------------------------------------------------
    def task_id(self, task: WebTask) -> str:
        return task.task_id

    def session_params(self, task: WebTask) -> dict[str, Any]:
        return {"site": "miniwob", "task": task.task, "observation": "pixels",
                "seed": int(self.np_random.integers(0, 2**31 - 1))}

    # ---- observations -----------------------------------------------------------------
    def screen_tree(self, result: ToolResult) -> str:
        """The element boxes as OSWorld's tree (`data["observation"]`), in the a11y modes."""
        return str(result.data.get("observation", "")) if self.observation != "screenshot" else ""

    async def areset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
                     ) -> tuple[list[Message], dict[str, Any]]:
        self._history, self._pending = [], None
        return await super().areset(seed=seed, options=options)

    async def astep(self, action: str) -> StepResult:
        """A step; a scripted agent's proposal counts as done once it is the action taken."""
        pending, self._pending = self._pending, None
        result = await super().astep(action)
        if pending is not None and pending[1] == action:
            self._history.append(pending[0])
        return result

    async def _run_tools(self, turn: Turn, calls: list[ToolCall]) -> StepResult:
        """Do the GUI calls with the browser's coordinate tools; DONE / FAIL (or MiniWoB++
        ending the task) end the episode and score it."""
        verdict = next((i for i, c in enumerate(calls) if c.name in ("done", "fail")), None)
        acting = calls if verdict is None else calls[:verdict]
        if not acting:
            self._invalid_streak = 0
            return await self._finish(turn, "")
        pointer = tuple(self.last_data.get("pointer", (0, 0)))
        observation, reward, terminated, truncated, info = await super()._run_tools(
            turn, to_browser_calls(acting, (int(pointer[0]), int(pointer[1]))))
        self.remember_screen(turn)
        if verdict is not None or any(r.data.get("done") for r in turn.tool_results):
            return await self._finish(turn, "")
        return self.show_screen(turn, (observation, reward, terminated, truncated, info))

    # ---- scripted agents --------------------------------------------------------------
    def scripted_next_action(self, kind: str = "reference") -> str:
        """The scripted agent's next turn from the current screen (closed loop): the web
        solver's element action done at the element box's centre, one call per line."""
        task = self.task
        if task is None:
            raise EnvConfigError("scripted actions need a task: call reset() first")
        if kind not in ("reference", "wrong"):
            raise EnvConfigError(f"unknown scripted action kind {kind!r}; use 'reference' or 'wrong'")
        action, actions = scripted_pixel_actions(task.task, self.last_data, list(self._history), kind)
        text = "\n".join(render_action(a, self.action_format) for a in actions)
        self._pending = (action, text) if action is not None else None
        return text

    def scripted_actions(self, kind: str = "reference") -> list[str]:
        """The next scripted action (see `scripted_next_action`), as a one-step script."""
        return [self.scripted_next_action(kind)]
