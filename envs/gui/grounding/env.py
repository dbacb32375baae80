"""`GroundingEnv` (`gui-grounding-v0`): ScreenSpot-style single-step grounding.

The observation is an instruction and a screenshot (an OpenAI image part); the action is
one click, written as a pyautogui call (`pyautogui.click(120, 245)`), an OSWorld JSON
action (`{"action_type": "CLICK", "x": 120, "y": 245}`) — both read by the `gui` parser,
never executed — or a bare point `(120, 245)`. The reward is 1 when the point lies in the
target's box (edges included; `dataset.click_in_box`), else 0. Every episode is one step:
an unparsable action ends it with 0 and an observation saying what was expected.

The images are static, so no tool server runs: tasks are ScreenSpot-format samples, the
shipped set (`tasks="builtin"`, rendered from the Tk mini-apps and MiniWoB++ pages) or any
ScreenSpot-format file or folder (`tasks="/data/ScreenSpot"`, see `load_screenspot`).

Coordinates are pixels of the image. Models that answer in relative coordinates set
`point_scale`: 1 for [0, 1], 1000 for Qwen-VL-style [0, 1000).
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from envs.base import StepResult, TextEnv
from envs.errors import EnvConfigError, EpisodeStateError, ParseError
from envs.gui.grounding.dataset import GroundingSample, click_in_box, load_screenspot
from envs.parsing.gui import GuiParser
from envs.parsing.reasoning import split_reasoning
from envs.task_choice import choose_task
from envs.types import Message, image_part, system, text_part, user

__all__ = ["BUILTIN_DIR", "GroundingEnv", "parse_point"]

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "data" / "grounding"
POINTING = ("click", "double_click", "right_click", "move")
ActionFormat = Literal["pyautogui", "json", "point"]
_BARE_POINT = re.compile(r"[(\[]\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*[)\]]")

SYSTEM_PROMPT = """\
You are a GUI grounding agent. You see a screenshot and an instruction; answer with one \
click on the element the instruction names. The screenshot is {width}x{height} pixels and \
(0, 0) is its top-left corner{scale}. Answer with pyautogui.click(x, y), or \
{{"action_type": "CLICK", "x": x, "y": y}}, or just the point (x, y)."""

_PARSER = GuiParser()


def parse_point(text: str) -> tuple[float, float]:
    """The point of a click action (see the module docstring); `ParseError` otherwise.

    Reasoning inside `<think>` is ignored. The first pointing call (click, double / right
    click, move) counts; other calls are ignored.

    >>> parse_point("pyautogui.click(12, 34)"), parse_point('{"action_type": "CLICK", "x": 5, "y": 6}')
    ((12.0, 34.0), (5.0, 6.0))
    >>> parse_point("<think>(1, 1)?</think> The button is at (250.5, 80).")
    (250.5, 80.0)
    """
    try:
        parsed = _PARSER.parse(text)
    except ParseError as exc:
        _, visible = split_reasoning(text)
        match = _BARE_POINT.search(visible)
        if match is None or "pyautogui" in visible or "action_type" in visible:
            raise ParseError(f"{exc} Or answer with the point alone, e.g. (120, 245).") from None
        return float(match.group(1)), float(match.group(2))
    for call in parsed.tool_calls:
        if call.name in POINTING:
            return float(call.arguments["x"]), float(call.arguments["y"])
    names = ", ".join(call.name for call in parsed.tool_calls)
    raise ParseError(f"this task needs one click on the target, got {names}; answer with pyautogui.click(x, y)")


def render_click(x: float, y: float, action_format: str) -> str:
    """A click written as a model would (for the scripted agents).

    >>> render_click(12, 34.5, "json"), render_click(12.0, 3, "point")
    ('{"action_type": "CLICK", "x": 12, "y": 34.5}', '(12, 3)')
    """
    x, y = (int(v) if float(v).is_integer() else round(float(v), 4) for v in (x, y))  # type: ignore[assignment]
    if action_format == "json":
        return f'{{"action_type": "CLICK", "x": {x}, "y": {y}}}'
    if action_format == "point":
        return f"({x}, {y})"
    return f"pyautogui.click({x}, {y})"


class GroundingEnv(TextEnv):
    """Single-step click grounding on ScreenSpot-format samples (see the module docstring).

    Args:
        tasks: "builtin" (the shipped set), a path to a ScreenSpot JSON file or folder, or
            `GroundingSample`s.
        image_dir, bbox_format, normalized, skip_invalid: how to read a ScreenSpot file
            (`load_screenspot`).
        point_scale: None when the model answers in pixels; else the range of its relative
            coordinates (1 for [0, 1], 1000 for [0, 1000)).
        action_format: how the scripted agents write their click: "pyautogui", "json" or
            "point"; the env reads every form either way.
        limit: keep only the first `limit` samples.

    >>> env = GroundingEnv()
    >>> messages, info = env.reset(seed=0, options={"task_index": 0})
    >>> [part["type"] for part in messages[-1]["content"]]
    ['text', 'image_url']
    >>> env.step(env.scripted_actions()[0])[1], env.reset(seed=0)[1]["task_id"] != ""
    (1.0, True)
    >>> env.step("I am not sure")[1]
    0.0
    >>> env.close()
    """

    def __init__(self, tasks: str | Path | Sequence[GroundingSample] = "builtin", *,
                 image_dir: str | Path | None = None, bbox_format: str = "auto", normalized: bool | None = None,
                 skip_invalid: bool = False, point_scale: float | None = None,
                 action_format: ActionFormat = "pyautogui", limit: int | None = None,
                 render_mode: str | None = None) -> None:
        super().__init__(render_mode=render_mode, max_action_chars=20_000)
        if action_format not in ("pyautogui", "json", "point"):
            raise EnvConfigError(f"action_format must be 'pyautogui', 'json' or 'point', got {action_format!r}")
        if point_scale is not None and not point_scale > 0:
            raise EnvConfigError(f"point_scale must be > 0 (1 for [0, 1], 1000 for [0, 1000)) or None, "
                                 f"got {point_scale!r}")
        if isinstance(tasks, str | Path):
            builtin = str(tasks) == "builtin"  # written by `generate`: v1 boxes in pixels
            samples = load_screenspot(BUILTIN_DIR if builtin else Path(tasks).expanduser(), image_dir=image_dir,
                                      bbox_format="xywh" if builtin else bbox_format,
                                      normalized=False if builtin else normalized, skip_invalid=skip_invalid)
        else:
            samples = list(tasks)
        if limit is not None:
            if not isinstance(limit, int) or limit < 1:
                raise EnvConfigError(f"limit must be an integer ≥ 1 or None, got {limit!r}")
            samples = samples[:limit]
        if not samples or not all(isinstance(s, GroundingSample) for s in samples):
            raise EnvConfigError("GroundingEnv needs at least one GroundingSample (or a ScreenSpot path)")
        self.tasks: list[GroundingSample] = samples
        self._index = {s.id: i for i, s in enumerate(samples)}
        self.point_scale = point_scale
        self.action_format = action_format
        self.task: GroundingSample | None = None
        self._done = True

    # ---- episode ----------------------------------------------------------------------
    async def areset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
                     ) -> tuple[list[Message], dict[str, Any]]:
        self.seed_episode(seed)
        task = choose_task(self.tasks, self._index, options or {}, self.np_random)
        try:
            png = await asyncio.to_thread(task.image_path.read_bytes)
        except OSError as exc:
            raise EnvConfigError(f"cannot read the image of task {task.id}: {exc}") from None
        self.task, self._done = task, False
        width, height = task.img_size
        scale = (f"; give coordinates relative to its size, in [0, {self.point_scale:g}]"
                 if self.point_scale is not None else "")
        mime = "image/jpeg" if task.image_path.suffix.lower() in (".jpg", ".jpeg") else "image/png"
        messages: list[Message] = [
            system(SYSTEM_PROMPT.format(width=width, height=height, scale=scale)),
            {"role": "user", "content": [text_part(f"Instruction: {task.instruction}"),
                                         image_part(base64.b64encode(png).decode(), mime)]},
        ]
        self.transcript = [dict(m) for m in messages]  # type: ignore[misc]  # copies of TypedDicts
        info = {"task_id": task.id, "instruction": task.instruction, "img_size": list(task.img_size),
                "data_type": task.data_type, "data_source": task.data_source,
                "counters": {"turns": 0, "invalid_actions": 0}}
        return messages, info

    def _to_pixels(self, x: float, y: float) -> tuple[float, float]:
        assert self.task is not None
        if self.point_scale is None:
            return x, y
        width, height = self.task.img_size
        return x / self.point_scale * width, y / self.point_scale * height

    async def astep(self, action: str) -> StepResult:
        if self._done or self.task is None:
            raise EpisodeStateError("call reset() before step(), and again after an episode ends")
        if not isinstance(action, str):
            raise TypeError(f"actions are strings (the model's text), got {type(action).__name__}")
        self.transcript.append({"role": "assistant", "content": action})
        self._done = True
        task = self.task
        try:
            point: tuple[float, float] | None = self._to_pixels(*parse_point(action))
            error = ""
        except ParseError as exc:
            point, error = None, str(exc)
        hit = point is not None and click_in_box(point[0], point[1], task.bbox)
        reward = 1.0 if hit else 0.0
        observation: list[Message] = [user(f"Invalid action: {error}")] if point is None else []
        self.transcript.extend(dict(m) for m in observation)  # type: ignore[misc]
        info: dict[str, Any] = {
            "task_id": task.id, "turn": 0, "status": "completed", "outcome_reward": reward, "success": hit,
            "outcome_parts": {"outcome/in_box": reward}, "step_reward": 0.0, "reward_parts": {},
            "invalid_action": point is None, "final": True, "env_error": False,
            "point": list(point) if point is not None else None, "bbox": list(task.bbox),
            "data_type": task.data_type, "counters": {"turns": 1, "invalid_actions": int(point is None)},
        }
        if error:
            info["error"] = error
        return observation, reward, True, False, info

    # ---- scripted agents --------------------------------------------------------------
    def scripted_actions(self, kind: str = "reference") -> list[str]:
        """"reference" clicks the box's centre (scores 1); "wrong" clicks the image point
        farthest from the box (scores 0)."""
        task = self.task
        if task is None:
            raise EnvConfigError("scripted actions need a task: call reset() first")
        if kind not in ("reference", "wrong"):
            raise EnvConfigError(f"unknown scripted action kind {kind!r}; use 'reference' or 'wrong'")
        if self.point_scale is None:
            x, y = task.center() if kind == "reference" else _far_point(task)
            return [render_click(x, y, self.action_format)]
        x1, y1, x2, y2 = task.bbox
        px, py = ((x1 + x2) / 2, (y1 + y2) / 2) if kind == "reference" else _far_point(task)
        width, height = task.img_size
        return [render_click(px / width * self.point_scale, py / height * self.point_scale, self.action_format)]


def _far_point(task: GroundingSample) -> tuple[int, int]:
    """The image corner farthest from the box's centre (outside the box unless the box is
    the whole image; then a point just off the image)."""
    width, height = task.img_size
    cx, cy = task.center()
    x, y = (0 if cx > width / 2 else width - 1), (0 if cy > height / 2 else height - 1)
    return (x, y) if not click_in_box(x, y, task.bbox) else (-1, -1)
