"""Gymnasium spaces for text agents: actions are strings, observations are messages.

Gymnasium's own `Text` space only accepts a fixed character set, which no model output
respects, so these spaces accept any string and sample text that looks like what models
emit (tags, JSON fragments) so that random-action checks exercise the parsers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

_ROLES = ("system", "user", "assistant", "tool")
_FRAGMENTS = (
    "<tool_call>", "</tool_call>", "<answer>", "</answer>", "<think>", "</think>", "```python\n",
    "```", '{"name": "python", "arguments": {"code": "print(1)"}}', "{", "}", '"', "\n", " ",
    "print(", ")", "def f(x):", "return", "import os", "λ", "日本", "\t", "\\", "null",
)


class TextActionSpace(spaces.Space[str]):
    """Any string up to `max_length` characters."""

    def __init__(self, max_length: int = 1 << 20, seed: int | np.random.Generator | None = None) -> None:
        self.max_length = max_length
        super().__init__(shape=None, dtype=None, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        count = int(self.np_random.integers(1, 12))
        picks = self.np_random.integers(0, len(_FRAGMENTS), size=count)
        return "".join(_FRAGMENTS[i] for i in picks)[: self.max_length]

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"TextActionSpace(max_length={self.max_length})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TextActionSpace) and other.max_length == self.max_length


def _valid_content(content: Any) -> bool:
    """A string, or a list of OpenAI content parts (text and image_url; GUI observations)."""
    if isinstance(content, str):
        return True
    return isinstance(content, list) and all(
        isinstance(p, dict) and ((p.get("type") == "text" and isinstance(p.get("text"), str))
                                 or (p.get("type") == "image_url" and isinstance(p.get("image_url"), dict)
                                     and isinstance(p["image_url"].get("url"), str)))
        for p in content)


class MessagesSpace(spaces.Space[list]):
    """A list of chat messages: dicts with a `role` and a `content` that is a string or a
    list of text / image_url parts."""

    def __init__(self, seed: int | np.random.Generator | None = None) -> None:
        super().__init__(shape=None, dtype=None, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def sample(self, mask: Any = None, probability: Any = None) -> list:
        count = int(self.np_random.integers(1, 3))
        return [
            {"role": _ROLES[int(self.np_random.integers(0, len(_ROLES)))],
             "content": _FRAGMENTS[int(self.np_random.integers(0, len(_FRAGMENTS)))]}
            for _ in range(count)
        ]

    def contains(self, x: Any) -> bool:
        if not isinstance(x, list):
            return False
        return all(isinstance(m, dict) and m.get("role") in _ROLES and _valid_content(m.get("content")) for m in x)

    def __repr__(self) -> str:
        return "MessagesSpace()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MessagesSpace)
