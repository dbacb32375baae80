"""Finding one Python-style call expression in model text, without executing anything.

Action formats written as calls — BrowserGym's `click("12")`, pyautogui's
`pyautogui.click(100, 200)` — are read with `ast`: from the call's start, try each
following ")" as the end until the text parses as a single call. Literal arguments are
then taken by each parser from the AST; nothing is ever evaluated.
"""

from __future__ import annotations

import ast

__all__ = ["read_call"]


def read_call(text: str, start: int, *, max_chars: int, max_tries: int = 200) -> tuple[ast.Call, int] | None:
    """The call expression beginning at `start` and the index just after it, or None when
    no ")" within `max_chars` (and `max_tries` candidates) closes a valid call.

    >>> call, end = read_call('x click("a)b", 2) tail', 2, max_chars=100)
    >>> ast.unparse(call), end
    ("click('a)b', 2)", 17)
    >>> read_call("click(1, ", 0, max_chars=100) is None
    True
    """
    close = start
    for _ in range(max_tries):
        close = text.find(")", close + 1)
        if close == -1 or close - start > max_chars:
            return None
        try:
            tree = ast.parse(text[start:close + 1].strip(), mode="eval")
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            continue
        if isinstance(tree.body, ast.Call):
            return tree.body, close + 1
    return None
