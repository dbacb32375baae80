"""Generated arithmetic questions: a function of (split, seed, shape), never downloaded.

Why generated: contamination-free, any size, and the difficulty is a knob — 3-digit
products are beyond a 135M model's mental arithmetic but trivial with a tool, which is
exactly the gap tool-use RL must close. Train and test splits never share an expression.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from envs.errors import EnvConfigError

__all__ = ["SPLITS", "ArithTask", "generate_tasks"]

SPLITS = ("train", "test")
_OPS = "+-*"


@dataclass(frozen=True, slots=True)
class ArithTask:
    """One question: evaluate `expression` (integers, + - *, Python precedence)."""

    task_id: str
    expression: str
    answer: int


def _expression(rng: random.Random, digits: int, terms: int, ops: str) -> str:
    low = 10 ** (digits - 1) if digits > 1 else 0
    numbers = [str(rng.randint(low, 10**digits - 1)) for _ in range(terms)]
    parts = [numbers[0]]
    for number in numbers[1:]:
        parts += [rng.choice(ops), number]
    return " ".join(parts)


def generate_tasks(num_tasks: int = 500, *, split: str = "train", digits: int = 3, terms: int = 2,
                   ops: str = "*", result_digits: int | None = None, seed: int = 0) -> list[ArithTask]:
    """`num_tasks` distinct questions of the given shape.

    Args:
        num_tasks: how many (≥ 1).
        split: "train" or "test"; test expressions never appear in the train split of
            the same shape and seed (both draw from one stream: train first).
        digits: digits per operand (1–6).
        terms: operands per expression (2–4).
        ops: operators to draw from, a subset of "+-*".
        result_digits: keep only expressions whose value is non-negative with exactly this
            many digits. Fixed-width questions and answers make every copy the agent does (the
            expression into the tool call, the tool's output into the answer) a copy at a fixed
            distance — the easiest kind for a tiny model to learn.
        seed: task-set seed.

    >>> [t.expression for t in generate_tasks(2, digits=2, ops="+")]
    ['51 + 62', '75 + 10']
    >>> generate_tasks(1, digits=2, ops="*")[0].answer == eval(generate_tasks(1, digits=2, ops="*")[0].expression)
    True
    """
    if split not in SPLITS:
        raise EnvConfigError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    if not 1 <= digits <= 6 or not 2 <= terms <= 4:
        raise EnvConfigError(f"digits must be in 1..6 and terms in 2..4, got digits={digits}, terms={terms}")
    if not ops or set(ops) - set(_OPS):
        raise EnvConfigError(f"ops must be a non-empty subset of {_OPS!r}, got {ops!r}")
    if num_tasks < 1:
        raise EnvConfigError(f"num_tasks must be ≥ 1, got {num_tasks}")
    space = (10**digits - (10 ** (digits - 1) if digits > 1 else 0)) ** terms * len(ops) ** (terms - 1)
    if space < 4 * num_tasks:
        raise EnvConfigError(f"only {space} distinct expressions of this shape; ask for fewer tasks than "
                             f"{space // 4} or use more digits / terms")
    rng = random.Random(f"arith/{seed}/{digits}/{terms}/{ops}" + (f"/{result_digits}" if result_digits else ""))
    seen: set[str] = set()
    splits: dict[str, list[str]] = {"train": [], "test": []}
    attempts = 0
    for name in SPLITS:  # train first, so that test excludes every train expression
        while len(splits[name]) < num_tasks:
            attempts += 1
            if attempts > 200 * num_tasks:
                raise EnvConfigError(f"could not find {num_tasks} distinct {split} expressions with "
                                     f"digits={digits}, terms={terms}, ops={ops!r}, result_digits={result_digits}")
            expression = _expression(rng, digits, terms, ops)
            if expression in seen:
                continue
            if result_digits is not None:
                value = _evaluate(expression)
                if value < 0 or len(str(value)) != result_digits:
                    continue
            seen.add(expression)
            splits[name].append(expression)
        if name == split:
            break
    return [ArithTask(f"arith-{split}-{i}", expression, _evaluate(expression))
            for i, expression in enumerate(splits[split])]


def _evaluate(expression: str) -> int:
    """Integer value of a generated expression (+, -, * with the usual precedence)."""
    tokens = expression.split()
    total, product, sign = 0, int(tokens[0]), 1
    for op, number in zip(tokens[1::2], tokens[2::2], strict=True):
        if op == "*":
            product *= int(number)
        else:
            total += sign * product
            sign, product = (1 if op == "+" else -1), int(number)
    return total + sign * product
