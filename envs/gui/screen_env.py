"""What the two screen-driven GUI envs share: the desktop env (`envs.gui.env`, Tk apps on
Xvfb) and MiniWoB++ in pixel mode (`envs.gui.miniwob`, Chromium).

Both open with a system prompt that states the screen size, then show the goal and the
screen; after each turn they show each action's one-line result and the screen once
(the latest screenshot as an OpenAI `image_url` part in the screenshot modes, the a11y
tree as text in the a11y modes); both add the `out_of_screen` step reward for points off
the screen. Only where the tree comes from differs (`screen_tree`).
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from envs.base import StepResult
from envs.errors import EnvConfigError
from envs.tool_env import StepRewards, ToolEnv
from envs.types import Message, Turn, image_part, system, text_part, user
from tool_servers.schemas import ToolSpec
from tool_servers.types import ToolCall, ToolResult

ObservationMode = Literal["screenshot", "a11y", "screenshot_a11y"]
ActionFormat = Literal["pyautogui", "json"]
MODES = ("screenshot", "a11y", "screenshot_a11y")

SYSTEM_PROMPT = """\
You are an agent operating a computer's graphical interface to accomplish a goal. The \
screen is {width}x{height} pixels; (0, 0) is the top-left corner. After each action you see \
its result and {seen}. Act with pyautogui calls, e.g. pyautogui.click(120, 245), \
pyautogui.doubleClick(120, 245), pyautogui.write("text"), pyautogui.press("enter"), \
pyautogui.hotkey("ctrl", "a"), pyautogui.scroll(-3), pyautogui.dragTo(300, 200) — or with \
OSWorld JSON actions, e.g. {{"action_type": "CLICK", "x": 120, "y": 245}}. Answer WAIT to \
look again, DONE when the goal is achieved, FAIL if it cannot be done."""
SEEN = {"screenshot": "a screenshot of the screen",
        "a11y": "the accessibility tree (tag, name, text, class, description, position, size of each widget)",
        "screenshot_a11y": "a screenshot and the accessibility tree (tag, name, text, class, description, "
                           "position, size of each widget)"}

TaskT = TypeVar("TaskT")


class ScreenEnv(ToolEnv[TaskT]):
    """A `ToolEnv` whose server answers every action with the screen (`data["screenshot_png"]`,
    `data["elements"]`, `data["screen"]`, `data["goal"]`).

    Args:
        tasks: the env's tasks.
        observation: "screenshot", "a11y" or "screenshot_a11y".
        action_format: how scripted agents write actions ("pyautogui" or "json").
        invalid_action_reward / out_of_screen_reward: step rewards (e.g. -0.1).
        **kwargs: `ToolEnv` options.
    """

    def __init__(self, tasks: list[TaskT], *, observation: ObservationMode, action_format: ActionFormat,
                 invalid_action_reward: float, out_of_screen_reward: float, max_turns: int,
                 max_tool_calls_per_turn: int, tool_schemas_in_prompt: bool, **kwargs: Any) -> None:
        if observation not in MODES:
            raise EnvConfigError(f"observation must be one of {', '.join(MODES)}, got {observation!r}")
        if action_format not in ("pyautogui", "json"):
            raise EnvConfigError(f"action_format must be 'pyautogui' or 'json', got {action_format!r}")
        kwargs.setdefault("step_rewards", StepRewards(invalid_action=invalid_action_reward))
        self.observation, self.action_format = observation, action_format
        self.out_of_screen_reward = float(out_of_screen_reward)
        super().__init__(tasks, parser="gui", max_turns=max_turns, max_tool_calls_per_turn=max_tool_calls_per_turn,
                         tool_schemas_in_prompt=tool_schemas_in_prompt, **kwargs)
        self.last_data: dict[str, Any] = {}

    # ---- hooks --------------------------------------------------------------------------
    def screen_tree(self, result: ToolResult) -> str:
        """The a11y tree text of a screen result ("" when the mode shows none)."""
        return result.content.split("\n\n", 1)[1] if "\n\n" in result.content else ""

    def initial_messages(self, task: TaskT, tools: list[ToolSpec]) -> list[Message]:
        return []  # the system prompt needs the screen size: built in areset

    def evaluate_payload(self, task: TaskT, answer: str) -> dict[str, Any]:
        return {}

    # ---- observations -----------------------------------------------------------------
    def screen_message(self, text: str, data: dict[str, Any]) -> Message:
        """A user message: `text` and, in the screenshot modes, the PNG as an image part."""
        shot = data.get("screenshot_png")
        if self.observation == "a11y" or not shot:
            return user(text)
        return {"role": "user", "content": [text_part(text), image_part(str(shot))]}

    async def areset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
                     ) -> tuple[list[Message], dict[str, Any]]:
        messages, info = await super().areset(seed=seed, options=options)
        assert self._client is not None and self._session is not None
        first = await self._client.call(self._session, ToolCall("observe", {}))
        self.last_data = dict(first.data)
        width, height = self.last_data.get("screen", [0, 0])
        goal = str(self.last_data.get("goal", ""))
        opening = [system(SYSTEM_PROMPT.format(width=width, height=height, seen=SEEN[self.observation])),
                   self.screen_message(f"# Goal\n{goal}\n\n{self.screen_tree(first)}".rstrip(), self.last_data)]
        messages.extend(opening)
        self.transcript.extend(dict(m) for m in opening)  # type: ignore[misc]  # copies of TypedDicts
        info["goal"], info["screen"] = goal, [width, height]
        return messages, info

    def format_tool_result(self, result: ToolResult) -> Message:
        """The action's one-line result (the screen is added to the turn's last message), and
        the per-call step rewards: `ToolEnv` has just appended the call and its result."""
        if result.data.get("error_kind") == "out_of_screen":
            self.add_step_reward(self.turns[-1], "out_of_screen", self.out_of_screen_reward)
        line = result.content.split("\n\n", 1)[0]  # the tree, when shown, follows a blank line
        return user(f"Action result: {line}")

    def add_step_reward(self, turn: Turn, name: str, value: float) -> None:
        if value:
            turn.reward_parts[f"step/{name}"] = turn.reward_parts.get(f"step/{name}", 0.0) + value
            turn.step_reward += value

    def remember_screen(self, turn: Turn) -> ToolResult | None:
        """Keep the turn's last screen (`last_data`: what scripted agents and rewards read)."""
        last = next((r for r in reversed(turn.tool_results) if "elements" in r.data), None)
        if last is not None:
            self.last_data = dict(last.data)
        return last

    def show_screen(self, turn: Turn, result: StepResult) -> StepResult:
        """Merge the turn's observation into one message with its last screen: the action
        results' lines, the tree (a11y modes) and the screenshot (screenshot modes)."""
        observation, reward, terminated, truncated, info = result
        last = self.remember_screen(turn)
        if observation and last is not None:
            tree = self.screen_tree(last)
            text = "\n".join(str(m["content"]) for m in observation) + (f"\n\n{tree}" if tree else "")
            merged = self.screen_message(text, self.last_data)
            observation = [merged]
            turn.observation = [dict(merged)]  # type: ignore[list-item]
        return observation, reward, terminated, truncated, info
