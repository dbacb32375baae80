"""LiveCodeBench and DeepCoder JSONL loaders, on small fixture files in `data/`.

The fixtures were written by hand (see the rows themselves); the LiveCodeBench functional
row stores its private tests as base64(zlib(pickle(JSON))) exactly as the dataset does,
and `malicious_pickle.jsonl` holds a pickle whose loading would call `os.system`.
"""

from __future__ import annotations

import base64
import gzip
import json
import pickle
import zlib
from pathlib import Path

import pytest

from envs.code._rows import decode_private_test_cases
from envs.code.tasks import CodeTask, load_code_jsonl
from envs.errors import EnvConfigError
from sandbox import Backend
from tool_servers.code.grading import grade
from tool_servers.code.schemas import CallTest, StdioTest

from .conftest import DATA

TWO_SUM = (
    "from typing import List\n"
    "class Solution:\n"
    "    def twoSum(self, nums: List[int], target: int) -> List[int]:\n"
    "        seen = {}\n"
    "        for i, x in enumerate(nums):\n"
    "            if target - x in seen:\n"
    "                return [seen[target - x], i]\n"
    "            seen[x] = i\n"
)
SUM_STDIN = "n = int(input())\nprint(sum(map(int, input().split())))\n"


def tasks_by_id(name: str) -> dict[str, CodeTask]:
    return {task.task_id: task for task in load_code_jsonl(DATA / name)}


def test_livecodebench_rows() -> None:
    tasks = tasks_by_id("livecodebench_sample.jsonl")
    stdin_task, functional = tasks["abc000_a"], tasks["1"]
    assert stdin_task.io_kind == "stdio" and stdin_task.source == "livecodebench"
    assert stdin_task.public_examples == [("3\n1 2 3\n", "6\n")]
    assert [type(t) for t in stdin_task.hidden.tests] == [StdioTest] * 3  # public + private
    assert stdin_task.metadata["contest_date"] == "2024-08-01T00:00:00"
    assert functional.io_kind == "function" and functional.entry_point == "twoSum"
    assert functional.starter_code.startswith("class Solution:")
    assert functional.hidden.tests[1] == CallTest(
        fn_name="twoSum", args=[[3, 2, 4], 6], expected=[1, 2]
    )
    assert functional.reference_solution == ""


async def test_livecodebench_tasks_grade(backend: Backend) -> None:
    tasks = tasks_by_id("livecodebench_sample.jsonl")
    assert (await grade(backend, SUM_STDIN, tasks["abc000_a"].hidden)).reward == 1.0
    assert (await grade(backend, TWO_SUM, tasks["1"].hidden)).reward == 1.0
    wrong = await grade(
        backend,
        TWO_SUM.replace("[seen[target - x], i]", "[i, seen[target - x]]"),
        tasks["1"].hidden,
    )
    assert wrong.reward == 0.0


def test_private_test_cases_decoding() -> None:
    cases = [{"input": "1", "output": "2", "testtype": "stdin"}]
    as_json = json.dumps(cases)
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        packed = base64.b64encode(zlib.compress(pickle.dumps(as_json, protocol=protocol))).decode()
        assert decode_private_test_cases(packed) == cases
    assert decode_private_test_cases(as_json) == cases
    assert decode_private_test_cases("") == []


def test_malicious_pickle_is_refused() -> None:
    with pytest.raises(
        EnvConfigError, match=r"malicious_pickle\.jsonl:1: .*refusing to unpickle posix\.system"
    ):
        load_code_jsonl(DATA / "malicious_pickle.jsonl")

    class CallsEval:
        def __reduce__(self) -> tuple[object, ...]:
            return (eval, ("1 + 1",))

    packed = base64.b64encode(zlib.compress(pickle.dumps(CallsEval()))).decode()
    with pytest.raises(ValueError, match="builtins.eval"):
        decode_private_test_cases(packed)


def test_deepcoder_rows() -> None:
    tasks = load_code_jsonl(DATA / "deepcoder_sample.jsonl")
    assert [t.source for t in tasks] == [
        "deepcoder-lcbv5",
        "deepcoder-primeintellect",
        "deepcoder-primeintellect",
        "deepcoder-taco",
        "deepcoder-taco",
    ]
    assert [t.io_kind for t in tasks] == ["function", "stdio", "function", "function", "stdio"]
    assert [t.entry_point for t in tasks] == ["biggest", None, "add", "split_pair", None]
    assert tasks[0].task_id == "deepcoder_sample/1"
    assert tasks[0].hidden.tests[1] == CallTest(fn_name="biggest", args=[5, -3], expected=5)
    assert tasks[2].hidden.tests[0] == CallTest(
        fn_name="add", args=[1, 2], expected=[3], accept_unwrapped=True
    )
    assert tasks[4].hidden.tests[1] == StdioTest(input="x\n", output="x")


async def test_deepcoder_tasks_grade(backend: Backend) -> None:
    tasks = load_code_jsonl(DATA / "deepcoder_sample.jsonl")
    solutions = [
        "class Solution:\n    def biggest(self, a, b):\n        return max(a, b)\n",
        "a, b = map(int, input().split())\nprint(a * b)\n",
        "def add(a, b):\n    return a + b\n",  # [1] + [2] == [1, 2]: the unwrapped output matches
        "def split_pair(s):\n    h = len(s) // 2\n    return s[:h], s[h:]\n",  # a tuple, compared as a list
        "print(input()[::-1])\n",
    ]
    for task, solution in zip(tasks, solutions, strict=True):
        report = await grade(backend, solution, task.hidden)
        assert report.reward == 1.0, (task.source, report.verdicts)


def test_unknown_rows_and_bad_json_name_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(EnvConfigError, match=r"unknown_format\.jsonl:3: unknown code task format"):
        load_code_jsonl(DATA / "unknown_format.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"problem": "p", "tests": [{"kind": "x"}]}\n{oops\n')
    with pytest.raises(EnvConfigError, match=r"bad\.jsonl:1: .*'testtype' or 'type'"):
        load_code_jsonl(bad)
    bad.write_text(
        '{"problem": "p", "tests": "[{\\"type\\": \\"stdin_stdout\\", \\"input\\": \\"\\", \\"output\\": \\"\\"}]"}\n{oops\n'
    )
    with pytest.raises(EnvConfigError, match=r"bad\.jsonl:2: not valid JSON"):
        load_code_jsonl(bad)
    with pytest.raises(EnvConfigError, match="does not exist"):
        load_code_jsonl(tmp_path / "missing.jsonl")


def test_gzipped_files_and_limit(tmp_path: Path) -> None:
    packed = tmp_path / "lcb.jsonl.gz"
    packed.write_bytes(gzip.compress((DATA / "livecodebench_sample.jsonl").read_bytes()))
    assert [t.task_id for t in load_code_jsonl(packed)] == ["abc000_a", "1"]
    assert len(load_code_jsonl(packed, limit=1)) == 1


def test_a_file_is_parsed_once_until_it_changes(tmp_path: Path) -> None:
    """Every env instance loads its tasks: an unchanged file gives the same (frozen) task
    objects in a new list each time; an edited file is read again."""
    source = tmp_path / "tasks.jsonl"
    source.write_bytes((DATA / "livecodebench_sample.jsonl").read_bytes())
    first, second = load_code_jsonl(source), load_code_jsonl(source)
    assert first == second and first is not second
    assert all(a is b for a, b in zip(first, second, strict=True))
    first.clear()  # the caller's list is its own
    assert len(load_code_jsonl(source)) == 2
    rows = (DATA / "livecodebench_sample.jsonl").read_text().splitlines(keepends=True)
    source.write_text(rows[0])  # edited: one task left
    assert [t.task_id for t in load_code_jsonl(source)] == ["abc000_a"]
