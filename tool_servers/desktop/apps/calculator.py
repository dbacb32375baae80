"""Mini-app "calculator": a four-function calculator driven by its buttons.

Goal: compute `a op b` and leave the result on the display. The tape above the display
shows what was entered (`37 × 48 =`), so the result must come from pressing "=", not
from typing digits. Integer arithmetic; "C" clears.
"""

from __future__ import annotations

import random
from typing import Any

TITLE = "Calculator"
OPS = {"+": "+", "-": "−", "*": "×"}
KEYS = (("7", "8", "9", "×"), ("4", "5", "6", "−"), ("1", "2", "3", "+"), ("C", "0", "=", ""))


def _apply(a: int, op: str, b: int) -> int:
    return a + b if op == "+" else a - b if op == "−" else a * b


def make_goal(rng: random.Random) -> dict[str, Any]:
    a, b, op = rng.randint(10, 99), rng.randint(10, 99), rng.choice(sorted(OPS))
    symbol = OPS[op]
    target = {"a": a, "op": symbol, "b": b, "result": _apply(a, symbol, b)}
    instruction = f"Use the calculator to compute {a} {symbol} {b}, and leave the result on its display."
    return {"instruction": instruction, "init": {}, "target": target}


def wrong_target(target: dict[str, Any]) -> dict[str, Any]:
    """Off by one in the second operand."""
    b = target["b"] + 1
    return {**target, "b": b, "result": _apply(target["a"], target["op"], b)}


def check(target: dict[str, Any], state: dict[str, Any]) -> dict[str, float]:
    parts = {"display": float(state.get("display") == str(target["result"])),
             "evaluated": float(bool(state.get("evaluated")))}
    parts["success"] = float(all(parts.values()))
    return parts


class App:
    def __init__(self, root: Any, init: dict[str, Any]) -> None:
        import tkinter as tk

        self.tape, self.entry, self.evaluated = "", "0", False
        self.left: int | None = None
        self.op = ""
        self.tape_label = tk.Label(root, text="", anchor="e", width=24)
        self.tape_label._a11y_name = "Tape"  # type: ignore[attr-defined]
        self.tape_label.grid(row=0, column=0, columnspan=4, padx=12, pady=(12, 0))
        self.display = tk.Label(root, text="0", anchor="e", width=16, font="TkFixedFont 20", relief="sunken")
        self.display._a11y_name = "Display"  # type: ignore[attr-defined]
        self.display.grid(row=1, column=0, columnspan=4, padx=12, pady=8)
        for r, row in enumerate(KEYS, start=2):
            for c, key in enumerate(row):
                if key:
                    tk.Button(root, text=key, width=4, height=2, command=lambda k=key: self.press(k)).grid(
                        row=r, column=c, padx=3, pady=3)

    def press(self, key: str) -> None:
        if key == "C":
            self.tape, self.entry, self.left, self.op, self.evaluated = "", "0", None, "", False
        elif key.isdigit():
            if self.evaluated:
                self.tape, self.entry, self.left, self.op, self.evaluated = "", "0", None, "", False
            self.entry = key if self.entry == "0" else (self.entry + key)[:12]
            self.tape += key
        elif key in ("+", "−", "×"):
            self.left = self._value() if self.left is None or not self.op else _apply(self.left, self.op, int(self.entry))
            self.op, self.entry, self.evaluated = key, "0", False
            self.tape += f" {key} "
        elif key == "=" and self.op and self.left is not None:
            result = _apply(self.left, self.op, int(self.entry))
            self.tape += " ="
            self.entry, self.left, self.op, self.evaluated = str(result), None, "", True
        self.display.configure(text=self.entry)
        self.tape_label.configure(text=self.tape)

    def _value(self) -> int:
        return int(self.entry)

    def state(self) -> dict[str, Any]:
        return {"display": self.entry, "tape": self.tape, "evaluated": self.evaluated}
