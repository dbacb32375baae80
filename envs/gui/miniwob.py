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
from typing import Any, Literal

from envs.base import StepResult
from envs.errors import EnvConfigError
from envs.gui.env import MODES, SEEN, SYSTEM_PROMPT, render_action
from envs.gui.miniwob_pixels import scripted_pixel_actions, to_browser_calls
from envs.gui.solvers import Action
from envs.tool_env import StepRewards, ToolEnv
from envs.types import Message, Turn, image_part, system, text_part, user
from envs.web.tasks import WebTask, load_tasks
from tool_servers.schemas import ToolSpec
from tool_servers.types import ToolCall, ToolResult

ObservationMode = Literal["screenshot", "a11y", "screenshot_a11y"]
ActionFormat = Literal["pyautogui", "json"]


class MiniWoBPixelEnv(ToolEnv[WebTask]):
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
        if observation not in MODES:
            raise EnvConfigError(f"observation must be one of {', '.join(MODES)}, got {observation!r}")
        if action_format not in ("pyautogui", "json"):
            raise EnvConfigError(f"action_format must be 'pyautogui' or 'json', got {action_format!r}")
        loaded = load_tasks(tasks, limit=limit)
        if any(t.site != "miniwob" for t in loaded):
            raise EnvConfigError("gui-miniwob plays MiniWoB++ tasks only; use web-shop-v0 for the shop")
        kwargs.setdefault("step_rewards", StepRewards(invalid_action=invalid_action_reward))
        self.observation, self.action_format = observation, action_format
        self.out_of_screen_reward = float(out_of_screen_reward)
        super().__init__(loaded, parser="gui", max_turns=max_turns, max_tool_calls_per_turn=max_tool_calls_per_turn,
                         tool_schemas_in_prompt=tool_schemas_in_prompt, **kwargs)
        self.last_data: dict[str, Any] = {}
        self._history: list[Action] = []  # the scripted agent's element actions done so far
        self._pending: tuple[Action, str] | None = None  # its latest proposal and the text written

    # ---- ToolEnv hooks ----------------------------------------------------------------
    def task_id(self, task: WebTask) -> str:
        return task.task_id

    def initial_messages(self, task: WebTask, tools: list[ToolSpec]) -> list[Message]:
        return []  # the system prompt needs the screen size: built in areset

    def session_params(self, task: WebTask) -> dict[str, Any]:
        return {"site": "miniwob", "task": task.task, "observation": "pixels",
                "seed": int(self.np_random.integers(0, 2**31 - 1))}

    def evaluate_payload(self, task: WebTask, answer: str) -> dict[str, Any]:
        return {}

    # ---- observations -----------------------------------------------------------------
    def _screen_message(self, text: str, data: dict[str, Any]) -> Message:
        """A user message: `text`, the element boxes as a tree in the a11y modes, and the
        screenshot as an image part in the screenshot modes."""
        tree = str(data.get("observation", "")) if self.observation != "screenshot" else ""
        body = f"{text}\n\n{tree}".rstrip()
        shot = data.get("screenshot_png")
        if self.observation == "a11y" or not shot:
            return user(body)
        return {"role": "user", "content": [text_part(body), image_part(str(shot))]}

    async def areset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
                     ) -> tuple[list[Message], dict[str, Any]]:
        messages, info = await super().areset(seed=seed, options=options)
        assert self._client is not None and self._session is not None
        first = await self._client.call(self._session, ToolCall("observe", {}))
        self.last_data, self._history, self._pending = dict(first.data), [], None
        width, height = self.last_data.get("screen", [0, 0])
        goal = str(self.last_data.get("goal", ""))
        opening = [system(SYSTEM_PROMPT.format(width=width, height=height, seen=SEEN[self.observation])),
                   self._screen_message(f"# Goal\n{goal}", self.last_data)]
        messages.extend(opening)
        self.transcript.extend(dict(m) for m in opening)  # type: ignore[misc]  # copies of TypedDicts
        info["goal"], info["screen"] = goal, [width, height]
        return messages, info

    async def astep(self, action: str) -> StepResult:
        """A step; a scripted agent's proposal counts as done once it is the action taken."""
        pending, self._pending = self._pending, None
        result = await super().astep(action)
        if pending is not None and pending[1] == action:
            self._history.append(pending[0])
        return result

    def format_tool_result(self, result: ToolResult) -> Message:
        """The action's one-line result; the screen is added to the turn's last message."""
        if result.data.get("error_kind") == "out_of_screen" and self.out_of_screen_reward:
            turn = self.turns[-1]
            turn.reward_parts["step/out_of_screen"] = (turn.reward_parts.get("step/out_of_screen", 0.0)
                                                       + self.out_of_screen_reward)
            turn.step_reward += self.out_of_screen_reward
        line = result.content.split("\n\n", 1)[0]  # the screen (tree) follows the blank line
        return user(f"Action result: {line}")

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
        last = next((r for r in reversed(turn.tool_results) if "elements" in r.data), None)
        if last is not None:
            self.last_data = dict(last.data)
        if verdict is not None or any(r.data.get("done") for r in turn.tool_results):
            return await self._finish(turn, "")
        if observation:
            merged = self._screen_message("\n".join(str(m["content"]) for m in observation), self.last_data)
            observation = [merged]
            turn.observation = [dict(merged)]  # type: ignore[list-item]
        return observation, reward, terminated, truncated, info

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
