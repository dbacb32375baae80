"""Length bucketing: rows → micro-batches under a padded-token budget.

Why: a batch is padded to its longest row. Multi-turn episodes vary a lot in length, so
one forward over the whole batch wastes most of its compute on padding. Sorting rows by
length and cutting the sorted list greedily keeps each micro-batch's padding small, and
each micro-batch is then trimmed to its own longest row.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["plan_micro_batches"]


def plan_micro_batches(lengths: Sequence[int], max_tokens: int) -> list[list[int]]:
    """Row indices per micro-batch, longest rows first; every row appears exactly once.

    A micro-batch holds rows while `len(rows) × longest` ≤ `max_tokens` (a row longer than
    the budget goes alone). Ties keep their original order, so the plan is deterministic.

    >>> plan_micro_batches([5, 9, 3, 9, 1], max_tokens=20)
    [[1, 3], [0, 2, 4]]
    >>> plan_micro_batches([50, 2], max_tokens=10)
    [[0], [1]]
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be ≥ 1, got {max_tokens}")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    plans: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for index in order:
        width = max(longest, lengths[index])
        if current and (len(current) + 1) * width > max_tokens:
            plans.append(current)
            current, width = [], lengths[index]
        current.append(index)
        longest = width
    if current:
        plans.append(current)
    return plans
