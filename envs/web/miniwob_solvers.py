"""Scripted reference (and deliberately wrong) policies for the served MiniWoB++ tasks.

A solver sees what the model sees — the goal and the elements of the accessibility tree
(bid, role, name, value, states) — and returns the next action, or None when it is
stuck. Solvers are called again after every action, so multi-step tasks (expand a
section, then click Submit) follow the page as it changes. They prove that every served
task is solvable through the env's own action space, end to end in a real browser.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: An action: (tool name, arguments).
Action = tuple[str, dict[str, Any]]


@dataclass(slots=True)
class PageView:
    """The latest observation, as a solver needs it."""

    goal: str
    elements: list[dict[str, Any]]
    url: str = ""
    history: list[Action] = field(default_factory=list)

    def find(self, role: str | tuple[str, ...] | None = None, name: str | None = None) -> list[dict[str, Any]]:
        roles = (role,) if isinstance(role, str) else role
        return [e for e in self.elements
                if (roles is None or e["role"] in roles) and (name is None or e["name"] == name)]

    def first(self, role: str | tuple[str, ...] | None = None, name: str | None = None) -> dict[str, Any] | None:
        found = self.find(role, name)
        return found[0] if found else None

    def clicked(self, bid: str) -> bool:
        return ("click", {"bid": bid}) in self.history


def click(element: dict[str, Any] | None) -> Action | None:
    return ("click", {"bid": element["bid"]}) if element is not None else None


def _quoted(goal: str) -> list[str]:
    return re.findall(r'"([^"]*)"', goal)


def _submit(view: PageView, name: str = "Submit") -> Action | None:
    return click(view.first("button", name))


def _fill_then(view: PageView, values: list[str], button: str) -> Action | None:
    """Fill the page's text boxes in order with `values`, then click `button`."""
    boxes = view.find("textbox")
    for box, value in zip(boxes, values, strict=False):
        # A password box reads back masked, so a fill already done counts too.
        if box["value"] != value and ("fill", {"bid": box["bid"], "text": value}) not in view.history:
            return ("fill", {"bid": box["bid"], "text": value})
    return _submit(view, button)


def _text_target(view: PageView, name: str) -> dict[str, Any] | None:
    """A link, or a clickable text, named exactly `name` (not the goal's own line)."""
    return view.first("link", name) or next(
        (e for e in view.find("StaticText", name) if e["name"] != view.goal), None)


def click_button(view: PageView) -> Action | None:
    return click(view.first("button", _quoted(view.goal)[0]))


def click_button_sequence(view: PageView) -> Action | None:
    one, two = view.first("button", "ONE"), view.first("button", "TWO")
    if one is not None and not view.clicked(one["bid"]):
        return click(one)
    return click(two)


def click_checkboxes(view: PageView) -> Action | None:
    match = re.match(r"Select (.*) and click Submit\.", view.goal)
    wanted = set() if match is None or match.group(1) == "nothing" else set(match.group(1).split(", "))
    for box in view.find("checkbox"):
        if (box["name"] in wanted) != ("checked" in box["states"]):
            return click(box)
    return _submit(view)


def click_collapsible(view: PageView) -> Action | None:
    tab = next((t for t in view.find("tab") if t["name"] != "Submit" and "expanded" not in t["states"]), None)
    if tab is not None and not view.clicked(tab["bid"]):
        return click(tab)
    return _submit(view)


def click_dialog(view: PageView) -> Action | None:
    return click(view.first("button", "Close"))


def click_dialog_2(view: PageView) -> Action | None:
    label = _quoted(view.goal)[0]
    return click(view.first("button", "Close" if label.lower() == "x" else label))


def click_link(view: PageView) -> Action | None:
    return click(_text_target(view, _quoted(view.goal)[0]))


def click_option(view: PageView) -> Action | None:
    target = view.goal.removeprefix("Select ").removesuffix(" and click Submit.")
    radio = view.first("radio", target)
    if radio is not None and "checked" not in radio["states"]:
        return click(radio)
    return _submit(view)


def click_tab(view: PageView) -> Action | None:
    number = re.search(r"#(\d+)", view.goal)
    return click(view.first("link", f"Tab #{number.group(1)}")) if number else None


def click_tab_2(view: PageView) -> Action | None:
    target = _text_target(view, _quoted(view.goal)[0])
    if target is not None:
        return click(target)
    tab = next((t for t in view.find("link") if t["name"].startswith("Tab #") and not view.clicked(t["bid"])), None)
    return click(tab)


def click_test(view: PageView) -> Action | None:
    return click(view.first("button", "Click Me!"))


def click_test_2(view: PageView) -> Action | None:
    return click(view.first("button", view.goal.removeprefix("Click button ").rstrip(".")))


_WIDGET_ROLES = {"button": ("button",), "checkbox": ("checkbox",), "radio": ("radio",),
                 "text": ("textbox",), "textarea": ("textbox",)}


def click_widget(view: PageView) -> Action | None:
    kind = _quoted(view.goal)[0]
    for element in view.find(_WIDGET_ROLES.get(kind, (kind,))):
        multiline = "multiline" in element["states"]
        if element["role"] != "textbox" or multiline == (kind == "textarea"):
            return click(element)
    return None


def choose_list(view: PageView) -> Action | None:
    target = view.goal.removeprefix("Select ").removesuffix(" from the list and click Submit.")
    box = view.first("combobox")
    if box is not None and box["value"] != target:
        return ("select", {"bid": box["bid"], "option": target})
    return _submit(view)


def enter_password(view: PageView) -> Action | None:
    password = _quoted(view.goal)[0]
    return _fill_then(view, [password, password], "Submit")


def enter_text(view: PageView) -> Action | None:
    return _fill_then(view, [_quoted(view.goal)[0]], "Submit")


def enter_text_2(view: PageView) -> Action | None:
    text = _quoted(view.goal)[0]
    return _fill_then(view, [text.lower() if "lower case" in view.goal else text.upper()], "Submit")


def focus_text(view: PageView) -> Action | None:
    return click(view.first("textbox"))


def focus_text_2(view: PageView) -> Action | None:
    position = {"1st": 0, "2nd": 1, "3rd": 2}[view.goal.split()[3]]
    boxes = view.find("textbox")
    return click(boxes[position]) if position < len(boxes) else None


def login_user(view: PageView) -> Action | None:
    username, password = _quoted(view.goal)[:2]
    return _fill_then(view, [username, password], "Login")


def email_inbox_delete(view: PageView) -> Action | None:
    sender = re.search(r"email by (.*) and click", view.goal)
    if sender is None:
        return None
    in_inbox = seen_sender = False
    for element in view.elements:  # in page order: the inbox heading, then per email sender, subject,
        in_inbox = in_inbox or element["role"] == "heading"  # body, trash icon, star icon
        if in_inbox and element["role"] == "StaticText" and element["name"] == sender.group(1):
            seen_sender = True
        elif seen_sender and element["role"] == "image":
            return click(element)
    return None


def use_autocomplete(view: PageView) -> Action | None:
    prefix, *suffix = _quoted(view.goal)
    box = view.first("textbox")
    if box is None:
        return None
    fits = [e for e in view.find(("menuitem", "option", "listitem", "StaticText"))
            if e["name"].startswith(prefix) and e["name"].endswith(suffix[0] if suffix else "")
            and e["name"] != box["value"] and e["name"] != prefix]
    if box["value"].startswith(prefix) and box["value"].endswith(suffix[0] if suffix else "") and box["value"] != prefix:
        return _submit(view)
    if fits and box["value"] == prefix:
        return click(fits[0])
    return ("fill", {"bid": box["bid"], "text": prefix})


SOLVERS: dict[str, Callable[[PageView], Action | None]] = {
    "click-button": click_button, "click-button-sequence": click_button_sequence,
    "click-checkboxes": click_checkboxes, "click-checkboxes-large": click_checkboxes,
    "click-collapsible": click_collapsible, "click-collapsible-nodelay": click_collapsible,
    "click-dialog": click_dialog, "click-dialog-2": click_dialog_2, "click-link": click_link,
    "click-option": click_option, "click-tab": click_tab, "click-tab-2-easy": click_tab_2,
    "click-test": click_test, "click-test-2": click_test_2, "click-widget": click_widget,
    "choose-list": choose_list, "enter-password": enter_password, "enter-text": enter_text,
    "enter-text-2": enter_text_2, "enter-text-dynamic": enter_text, "focus-text": focus_text,
    "focus-text-2": focus_text_2, "login-user": login_user, "unicode-test": click_button,
    "email-inbox-delete": email_inbox_delete, "use-autocomplete-nodelay": use_autocomplete,
}


def wrong_checkboxes(view: PageView) -> Action | None:
    """Every checkbox in the wrong state, then Submit: raw −1. (Submitting at once is not
    wrong enough: the task gives partial credit, and BrowserGym counts any raw > 0.)"""
    match = re.match(r"Select (.*) and click Submit\.", view.goal)
    wanted = set() if match is None or match.group(1) == "nothing" else set(match.group(1).split(", "))
    for box in view.find("checkbox"):
        if (box["name"] in wanted) == ("checked" in box["states"]):
            return click(box)
    return _submit(view)


def wrong_widget(view: PageView) -> Action | None:
    """A widget of another kind (any widget of the asked kind would be right)."""
    kind = _quoted(view.goal)[0]
    for element in view.find(("button", "checkbox", "radio", "textbox")):
        multiline = "multiline" in element["states"]
        same = element["role"] in _WIDGET_ROLES.get(kind, (kind,)) and (
            element["role"] != "textbox" or multiline == (kind == "textarea"))
        if not same:
            return click(element)
    return None


def wrong_action(task: str, view: PageView) -> Action | None:
    """An action that fails the task: a wrong button or link where there is one, else
    Submit with nothing done, else clicking the page's last element (no success)."""
    if task.startswith("click-checkboxes"):
        return wrong_checkboxes(view)
    if task == "click-widget":
        return wrong_widget(view)
    right = SOLVERS[task](PageView(view.goal, view.elements, view.url))
    candidates = [e for e in view.find(("button", "link", "radio", "checkbox", "textbox", "StaticText", "image"))
                  if right is None or e["bid"] != right[1].get("bid")]
    submit = view.first("button", "Submit") or view.first("button", "Login")
    if submit is not None and (right is None or submit["bid"] != right[1].get("bid")):
        return click(submit)
    buttons = [e for e in candidates if e["role"] in ("button", "link")]
    pick = buttons[-1] if buttons else (candidates[-1] if candidates else None)
    return click(pick)
