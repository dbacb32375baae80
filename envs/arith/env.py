"""`ArithEnv`: compute an arithmetic expression with the `python` tool, answer the number.

The tool is the code server's sandboxed `python` tool (a persistent session per
episode). The final answer is a number checked here against the task's public value —
data, not code, so no server round trip is needed (`ToolEnv.grade` is overridden).

Reward: 1.0 for the exact integer, else 0.0 (named part `outcome/correct`; an answer
that is not an integer also gets `outcome/format` 0). Step rewards are off by default;
`step_rewards={"tool_call": 0.1}` gives a small process reward for using the tool.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Sequence
from typing import Any

from envs.arith.tasks import ArithTask, generate_tasks
from envs.errors import EnvConfigError
from envs.parsing import render_tool_call
from envs.tool_env import ToolEnv
from envs.types import Message, system, user
from tool_servers.schemas import EvaluateResponse, ToolSpec
from tool_servers.types import ToolCall, ToolResult

__all__ = ["SYSTEM_PROMPT", "ArithEnv", "parse_integer"]

SYSTEM_PROMPT = """\
Answer the arithmetic question. Compute it with the python tool:
<tool_call>{{"name": "python", "arguments": {{"code": "print(2 * 3)"}}}}</tool_call>
Then give the number as <answer>6</answer>. You have {max_turns} turns."""

_INTEGER = re.compile(r"-?\d+")
_CLEAN_RUN = re.compile(r"exit code 0 \([\d.]+ s\)\n--- stdout ---\n(.*)", re.DOTALL)


def parse_integer(answer: str) -> int | None:
    """The integer in an answer: digits with optional sign, thousands separators and a
    trailing ".0" allowed; None when the answer is anything else.

    >>> parse_integer(" 1,234 "), parse_integer("-7.0"), parse_integer("about 5")
    (1234, -7, None)
    """
    text = answer.strip().replace(",", "").replace("_", "")
    text = text.removesuffix(".0")
    return int(text) if _INTEGER.fullmatch(text) else None


class ArithEnv(ToolEnv[ArithTask]):
    """Arithmetic questions with a sandboxed `python` tool.

    Args:
        tasks: a list of `ArithTask`, or None to generate them (see `generate_tasks`).
        num_tasks, split, digits, terms, ops, result_digits, task_seed: the generated set's
            shape (see `generate_tasks`).
        **kwargs: `ToolEnv` options (parser, max_turns, step_rewards, server_url, ...).
    """

    tool_server = "code"

    def __init__(self, tasks: Sequence[ArithTask] | None = None, *, num_tasks: int = 500, split: str = "train",
                 digits: int = 3, terms: int = 2, ops: str = "*", result_digits: int | None = None,
                 task_seed: int = 0,
                 max_turns: int = 3, **kwargs: Any) -> None:
        if tasks is None:
            tasks = generate_tasks(num_tasks, split=split, digits=digits, terms=terms, ops=ops,
                                   result_digits=result_digits, seed=task_seed)
        super().__init__(tasks, max_turns=max_turns, **kwargs)

    def task_id(self, task: ArithTask) -> str:
        return task.task_id

    def initial_messages(self, task: ArithTask, tools: list[ToolSpec]) -> list[Message]:
        return [system(SYSTEM_PROMPT.format(max_turns=self.max_turns)), user(f"What is {task.expression}?")]

    def session_params(self, task: ArithTask) -> dict[str, Any]:
        return {}  # a python session only; the answer is checked here

    def format_tool_result(self, result: ToolResult) -> Message:
        """A calculator's answer: the program's stdout alone when it ran cleanly (the code
        server's header — exit code, timing — is noise here and makes the copy harder);
        the full report, error included, otherwise."""
        match = _CLEAN_RUN.fullmatch(result.content)
        if match and not result.is_error:
            result = dataclasses.replace(result, content=match.group(1))
        return super().format_tool_result(result)

    async def grade(self, task: ArithTask, answer: str) -> EvaluateResponse:
        value = parse_integer(answer)
        correct = value == task.answer
        return EvaluateResponse(reward=float(correct), success=correct,
                                parts={"correct": float(correct), "format": float(value is not None)})

    def scripted_actions(self, kind: str = "reference") -> list[str]:
        """"reference": compute with the tool, then copy its output. "wrong" (alias
        "guess"): answer at once with a plausible but wrong number, as a model doing
        mental arithmetic would — the noise of the quick start's demonstration set."""
        task = self.task
        if task is None:
            raise EnvConfigError("scripted_actions() needs a task: call reset() first")
        if kind == "reference":
            call = ToolCall("python", {"code": f"print({task.expression})"})
            return [render_tool_call(call), f"<answer>{task.answer}</answer>"]
        if kind in ("wrong", "guess"):
            rng = random.Random(task.task_id)
            off = rng.choice([-1, 1]) * rng.randint(1, max(2, abs(task.answer) // 10))
            return [f"<answer>{task.answer + off}</answer>"]
        raise EnvConfigError(f"unknown scripted action kind {kind!r}; use 'reference', 'wrong' or 'guess'")
