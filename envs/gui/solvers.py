"""Scripted reference policies for the desktop mini-apps: the next action from the goal's
target and the current a11y elements (closed loop, so a missed click is retried).

They act only through the screen: they read boxes from the a11y tree and click their
centres, like a grounded agent would. The "wrong" agent runs the same policy towards the
app's `wrong_target` (a plausible mistake), which the checker must score 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tool_servers.desktop.a11y import center
from tool_servers.desktop.apps.calculator import OPS  # noqa: F401  # the symbols the tape shows
from tool_servers.desktop.apps.form import FIELDS, LABELS

Action = tuple[str, dict[str, Any]]
Elements = Sequence[dict[str, Any]]


def _states(element: dict[str, Any]) -> set[str]:
    return {s.strip() for s in str(element.get("description", "")).split(",") if s.strip()}


def _find(elements: Elements, **match: Any) -> dict[str, Any]:
    for element in elements:
        if all(element.get(k) == v for k, v in match.items()):
            return element
    raise LookupError(f"no element with {match}")


def _click(element: dict[str, Any]) -> Action:
    x, y = center(element)
    return "click", {"x": x, "y": y}


def _has_text(elements: Elements, text: str) -> bool:
    return any(e.get("text") == text for e in elements)


def solve_form(target: dict[str, Any], elements: Elements) -> Action:
    for key in FIELDS:
        entry = _find(elements, tag="entry", name=LABELS[key])
        have, want = entry["text"], target[key]
        if have == want:
            continue
        if "focused" not in _states(entry):
            return _click(entry)
        if not want.startswith(have):
            return "key", {"combo": "backspace"}
        return "type", {"text": want[len(have):]}
    box = _find(elements, tag="check-box")
    if ("checked" in _states(box)) != target["newsletter"]:
        return _click(box)
    if _has_text(elements, "Form submitted."):
        return "done", {}
    return _click(_find(elements, tag="push-button", name="Submit"))


def solve_settings(target: dict[str, Any], elements: Elements) -> Action:
    for name, on in target["toggles"].items():
        box = _find(elements, tag="check-box", name=name)
        if ("checked" in _states(box)) != on:
            return _click(box)
    for name, value in target["choices"].items():
        combo = _find(elements, tag="combo-box", name=name)
        if combo["text"] != value:
            if "expanded" in _states(combo):
                return _click(_find(elements, tag="list-item", name=value))
            return _click(combo)
    if _has_text(elements, "Settings applied."):
        return "done", {}
    return _click(_find(elements, tag="push-button", name="Apply"))


def solve_calculator(target: dict[str, Any], elements: Elements) -> Action:
    presses = [*str(target["a"]), target["op"], *str(target["b"]), "="]
    tapes, tape = [""], ""
    for key in presses:
        tape += key if key.isdigit() else (" =" if key == "=" else f" {key} ")
        tapes.append(tape)
    current = _find(elements, name="Tape")["text"]
    if current == tapes[-1]:
        return "done", {}
    done = tapes.index(current) if current in tapes else None
    key = "C" if done is None else presses[done]
    return _click(_find(elements, tag="push-button", name=key))


SOLVERS: dict[str, Callable[[dict[str, Any], Elements], Action]] = {
    "form": solve_form, "settings": solve_settings, "calculator": solve_calculator,
}
