"""The arithmetic env: generated splits, local grading, the python tool through the real
code server, scripted reference and wrong agents."""

from __future__ import annotations

import asyncio

import pytest

import envs
from envs.arith import generate_tasks
from envs.arith.env import parse_integer
from envs.errors import EnvConfigError


def test_splits_are_disjoint_and_answers_exact() -> None:
    train = generate_tasks(300, split="train", digits=2, ops="+-*", terms=3)
    test = generate_tasks(300, split="test", digits=2, ops="+-*", terms=3)
    assert not {t.expression for t in train} & {t.expression for t in test}
    for task in train + test:
        assert task.answer == eval(task.expression)
    assert generate_tasks(5, seed=1) == generate_tasks(5, seed=1) != generate_tasks(5, seed=2)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"split": "dev"}, "unknown split"), ({"digits": 0}, "digits"), ({"ops": "/"}, "subset"),
    ({"num_tasks": 5000, "digits": 1}, "distinct expressions"),
])
def test_bad_task_shapes_are_config_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(EnvConfigError, match=match):
        generate_tasks(**kwargs)


@pytest.mark.parametrize(("text", "value"), [("42", 42), (" -7 ", -7), ("1,234", 1234), ("12.0", 12),
                                             ("12.5", None), ("forty", None), ("", None)])
def test_parse_integer(text: str, value: int | None) -> None:
    assert parse_integer(text) == value


def test_tool_then_answer_scores_one_and_a_guess_scores_zero() -> None:
    async def main() -> None:
        env = envs.make("arith-v0", num_tasks=10, tool_schemas_in_prompt=False)
        try:
            obs, info = await env.areset(options={"task_index": 3})
            task = env.tasks[3]
            assert task.expression in obs[-1]["content"] and env.prompt_tools == [] and env.tools
            result = await env.astep(env.scripted_actions("reference")[0])
            assert result[0][0]["content"] == str(task.answer)  # the real sandboxed python's stdout, alone
            assert not result[2] and result[4]["counters"]["tool_calls"] == 1
            _, reward, done, _, info = await env.astep(f"<answer>{task.answer}</answer>")
            assert done and reward == 1.0 and info["outcome_parts"] == {"outcome/correct": 1.0, "outcome/format": 1.0}
            await env.areset(options={"task_index": 3})
            _, reward, done, _, info = await env.astep(env.scripted_actions("wrong")[0])
            assert done and reward == 0.0 and not info["success"]
            await env.areset(options={"task_index": 3})
            _, reward, _, _, info = await env.astep("<answer>a lot</answer>")
            assert reward == 0.0 and info["outcome_parts"]["outcome/format"] == 0.0
            await env.areset(options={"task_index": 3})
            obs, *_ = await env.astep('<tool_call>{"name": "python", "arguments": {"code": "print(1/0)"}}</tool_call>')
            assert "ZeroDivisionError" in obs[0]["content"] and "exit code 1" in obs[0]["content"]
        finally:
            await env.aclose()

    asyncio.run(main())
