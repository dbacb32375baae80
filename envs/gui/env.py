"""The GUI environment: a Tk mini-app on a virtual display, seen as pixels and/or an a11y
tree, acted on with OSWorld JSON actions or pyautogui calls.

Observations are chat messages. In the `screenshot` and `screenshot_a11y` modes
(OSWorld's "screenshot" and "screenshot + a11y tree") the user message's content is a
list of OpenAI parts: the text (goal, action result, optionally the tree) and an
`image_url` part with the PNG as a data URL. In the `a11y` mode it is plain text, so a
text-only policy can play. Actions are parsed (`envs.parsing.gui`), never executed as
code; each becomes a desktop-server tool call.

The episode ends when the agent says DONE (or FAIL) and is scored by the app's state
checker, server-side (1 if the app's final state matches the goal, else 0); without it,
truncation at `max_turns` (outcome 0). Step rewards (optional): `invalid_action_reward`
for unparsable actions, `out_of_screen_reward` for points off the screen, and
`target_click_reward` for a left click inside the element the reference policy would
click next on the screen the click was made on (the task knows its target, so the
scripted solver names that element; see `solvers.target_element`). The bonus is dense
shaping towards the goal: it pays for grounding (finding the right widget) before whole
tasks are solved, and only for the click that is progress from the current screen, so
clicking the same box again earns it only if that is still the next step.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from envs.base import StepResult
from envs.errors import EnvConfigError
from envs.gui.screen_env import MODES, SEEN, SYSTEM_PROMPT, ActionFormat, ObservationMode, ScreenEnv
from envs.gui.solvers import SOLVERS, Action, target_element
from envs.gui.tasks import GuiTask, load_tasks
from envs.types import Message, Turn
from tool_servers.desktop.a11y import contains
from tool_servers.desktop.apps import app_module
from tool_servers.types import ToolCall, ToolResult

__all__ = ["MODES", "SEEN", "SYSTEM_PROMPT", "ActionFormat", "GuiEnv", "ObservationMode", "render_action"]


def render_action(action: Action, action_format: str = "pyautogui") -> str:
    """A desktop tool call written as the model would (scripted agents use it)."""
    name, args = action
    if action_format == "json":
        kinds = {"click": "CLICK", "type": "TYPING", "key": "HOTKEY", "done": "DONE", "fail": "FAIL",
                 "wait": "WAIT", "move": "MOVE_TO", "drag": "DRAG_TO", "double_click": "DOUBLE_CLICK"}
        body: dict[str, Any] = {"action_type": kinds[name]}
        if name == "key":
            body["keys"] = args["combo"].split("+")
        else:
            body.update({k: v for k, v in args.items() if k != "combo"})
        return json.dumps(body)
    if name in ("done", "fail", "wait"):
        return name.upper()
    if name == "click":
        return f"pyautogui.click({args['x']}, {args['y']})"
    if name == "type":
        return f"pyautogui.write({json.dumps(args['text'], ensure_ascii=False)})"
    if name == "key":
        keys = args["combo"].split("+")
        quoted = ", ".join(json.dumps(k) for k in keys)
        return f"pyautogui.hotkey({quoted})" if len(keys) > 1 else f"pyautogui.press({quoted})"
    pyautogui = {"move": "moveTo", "drag": "dragTo", "double_click": "doubleClick"}
    return f"pyautogui.{pyautogui[name]}({args['x']}, {args['y']})"


class GuiEnv(ScreenEnv[GuiTask]):
    """Desktop mini-app tasks; see the module docstring.

    Args:
        tasks: "desktop" (every mini-app), a list of app names, or `GuiTask`s.
        variants: goals per app.
        observation: "screenshot", "a11y" or "screenshot_a11y".
        action_format: how scripted agents write actions ("pyautogui" or "json"); the
            parser reads both either way.
        invalid_action_reward / out_of_screen_reward: step penalties (e.g. -0.1).
        target_click_reward: step bonus (e.g. 0.1) for a left click inside the element the
            reference policy would click next (`step/target_click`).
        **kwargs: `ToolEnv` options (max_turns, server_url, tool_client, server_options, ...).
    """

    tool_server = "desktop"

    def __init__(self, tasks: str | Sequence[str] | Sequence[GuiTask] = "desktop", *, variants: int = 20,
                 observation: ObservationMode = "screenshot_a11y", action_format: ActionFormat = "pyautogui",
                 invalid_action_reward: float = 0.0, out_of_screen_reward: float = 0.0,
                 target_click_reward: float = 0.0, max_turns: int = 30,
                 max_tool_calls_per_turn: int = 5, tool_schemas_in_prompt: bool = False, **kwargs: Any) -> None:
        self.target_click_reward = float(target_click_reward)
        super().__init__(load_tasks(tasks, variants=variants), observation=observation, action_format=action_format,
                         invalid_action_reward=invalid_action_reward, out_of_screen_reward=out_of_screen_reward,
                         max_turns=max_turns, max_tool_calls_per_turn=max_tool_calls_per_turn,
                         tool_schemas_in_prompt=tool_schemas_in_prompt, **kwargs)

    # ---- ToolEnv hooks ----------------------------------------------------------------
    def task_id(self, task: GuiTask) -> str:
        return task.task_id

    def session_params(self, task: GuiTask) -> dict[str, Any]:
        return {"app": task.app, "seed": task.seed, "observation": self.observation}

    def format_tool_result(self, result: ToolResult) -> Message:
        """The action's one-line result; the screen is added to the turn's last message.

        Also where the per-call step rewards are added: `ToolEnv` has just appended the call
        and its result to the turn, so the screen the call was made on is at hand."""
        message = super().format_tool_result(result)
        turn = self.turns[-1]
        if self.target_click_reward and self._clicked_target(turn):
            self.add_step_reward(turn, "target_click", self.target_click_reward)
        return message

    def _clicked_target(self, turn: Turn) -> bool:
        """Whether the turn's latest call is a left click inside the reference policy's next
        target on the screen it was made on (the previous call's screen in this turn, else the
        last observation)."""
        call, result = turn.tool_calls[-1], turn.tool_results[-1]
        if call.name != "click" or call.arguments.get("button", "left") != "left" or self.task is None:
            return False
        if "elements" not in result.data:  # not run (over the per-turn limit) or refused: no click happened
            return False
        before = next((r.data for r in reversed(turn.tool_results[:-1]) if "elements" in r.data), self.last_data)
        element = target_element(self.task.app, self.task.goal()["target"], list(before.get("elements", [])))
        x, y = call.arguments.get("x"), call.arguments.get("y")
        return element is not None and isinstance(x, int) and isinstance(y, int) and contains(element, x, y)

    async def _run_tools(self, turn: Turn, calls: list[ToolCall]) -> StepResult:
        result = await super()._run_tools(turn, calls)
        self.remember_screen(turn)
        if any(r.data.get("done") for r in turn.tool_results):
            return await self._finish(turn, "")
        return self.show_screen(turn, result)

    # ---- scripted agents --------------------------------------------------------------
    def scripted_next_action(self, kind: str = "reference") -> str:
        """The scripted agent's next action from the current screen's elements (closed loop)."""
        task = self.task
        if task is None:
            raise EnvConfigError("scripted actions need a task: call reset() first")
        if kind not in ("reference", "wrong"):
            raise EnvConfigError(f"unknown scripted action kind {kind!r}; use 'reference' or 'wrong'")
        target = task.goal()["target"]
        if kind == "wrong":
            target = app_module(task.app).wrong_target(target)
        action = SOLVERS[task.app](target, list(self.last_data.get("elements", [])))
        return render_action(action, self.action_format)

    def scripted_actions(self, kind: str = "reference") -> list[str]:
        """The next scripted action (see `scripted_next_action`), as a one-step script."""
        return [self.scripted_next_action(kind)]
