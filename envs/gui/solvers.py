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


def _edit(entry: dict[str, Any], want: str) -> Action | None:
    """The next step to make an entry read `want` (focus, erase a wrong tail, type); None if it does."""
    have = entry["text"]
    if have == want:
        return None
    if "focused" not in _states(entry):
        return _click(entry)
    if not want.startswith(have):
        return "key", {"combo": "backspace"}
    return "type", {"text": want[len(have):]}


def solve_form(target: dict[str, Any], elements: Elements) -> Action:
    for key in FIELDS:
        edit = _edit(_find(elements, tag="entry", name=LABELS[key]), target[key])
        if edit is not None:
            return edit
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


def solve_listview(target: dict[str, Any], elements: Elements) -> Action:
    edit = _edit(_find(elements, tag="entry", name="Filter"), target["query"])
    if edit is not None:
        return edit
    key, direction = target["sort"]
    header = _find(elements, tag="column-header", name=key)
    if f"sorted {direction}" not in _states(header):
        return _click(header)  # the first click sorts ascending, the next flips it
    row = _find(elements, tag="list-item", name=target["selected"])
    if "selected" not in _states(row):
        return _click(row)
    if _has_text(elements, f"Opened {target['selected']}."):
        return "done", {}
    return _click(_find(elements, tag="push-button", name="OK"))


def solve_rename(target: dict[str, Any], elements: Elements) -> Action:
    names = {e["name"] for e in elements if e.get("tag") == "list-item"}
    for number, (old, new) in enumerate(target["renames"]):
        if new in names and old not in names:
            continue
        row = _find(elements, tag="list-item", name=old)
        if "selected" not in _states(row):
            return _click(row)
        edit = _edit(_find(elements, tag="entry", name="New name"), new)
        if edit is not None:
            return edit
        if number:  # the dialog takes both: the button for the first rename, Enter for the second
            return "key", {"combo": "enter"}
        return _click(_find(elements, tag="push-button", name="Rename"))
    return "done", {}


SOLVERS: dict[str, Callable[[dict[str, Any], Elements], Action]] = {
    "form": solve_form, "settings": solve_settings, "calculator": solve_calculator,
    "listview": solve_listview, "rename": solve_rename,
}


def target_element(app: str, target: dict[str, Any], elements: Elements) -> dict[str, Any] | None:
    """The element the reference policy would click next on this screen, or None when its next
    action is not a click (typing, a key, DONE) or it cannot act on this screen.

    Solvers click element centres, so the element is the one centred on the click; of nested
    elements sharing a centre, the innermost (the one a click is meant for).
    """
    try:
        name, args = SOLVERS[app](target, elements)
    except LookupError:  # an element the policy needs is not on screen: no target to reward
        return None
    if name != "click":
        return None
    point = (args["x"], args["y"])
    centred = [e for e in elements if center(e) == point]
    return max(centred, key=lambda e: e.get("depth", 0), default=None)
