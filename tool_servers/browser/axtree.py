"""The accessibility tree as BrowserGym writes it: one node per line, `[bid] role 'name'`.

Chromium's own accessibility tree (CDP `Accessibility.getFullAXTree`) gives roles, names,
values and states as assistive technology sees them. Its nodes point at DOM nodes by
`backendDOMNodeId`; the DOM snapshot (`DOM.getDocument`) gives each DOM node's `bid`
attribute, set by `js/mark.js`. Joining the two puts BrowserGym's element ids on the tree.

Rendering follows BrowserGym's `flatten_axtree_to_str`: ignored and role-less nodes are
skipped (their children move up), `generic` nodes without a name are skipped, a
`StaticText` that only repeats its parent's name is dropped, and useful states follow
the name (`focused`, `checked=true`, `value='…'`). Indentation is one tab per level.

>>> nodes = [
...     {"nodeId": "1", "role": {"value": "RootWebArea"}, "name": {"value": "Shop"},
...      "backendDOMNodeId": 1, "childIds": ["2"]},
...     {"nodeId": "2", "role": {"value": "button"}, "name": {"value": "Buy"},
...      "backendDOMNodeId": 5, "childIds": ["3"]},
...     {"nodeId": "3", "role": {"value": "StaticText"}, "name": {"value": "Buy"}, "childIds": []},
... ]
>>> render_axtree(nodes, {5: "7"}).text.splitlines()
["RootWebArea 'Shop'", "\\t[7] button 'Buy'"]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Roles that never make a line of their own (their children are kept).
SKIPPED_ROLES = frozenset({"none", "presentation", "InlineTextBox", "LineBreak", "ListMarker"})
#: States shown after the name, in this order; boolean states print bare when true.
SHOWN_STATES = ("focused", "checked", "selected", "expanded", "pressed", "disabled", "required", "readonly",
                "multiline")
#: Roles whose current value is shown (what a textbox holds, what a select shows).
VALUE_ROLES = frozenset({"textbox", "searchbox", "combobox", "spinbutton", "slider", "listbox", "textField"})


@dataclass(frozen=True, slots=True)
class Element:
    """One line of the tree that the model can act on (it has a bid)."""

    bid: str
    role: str
    name: str
    value: str = ""
    states: tuple[str, ...] = ()
    depth: int = 0
    """Indentation of its line in the rendered tree (the pixel mode's element boxes carry it)."""

    def to_dict(self) -> dict[str, Any]:
        return {"bid": self.bid, "role": self.role, "name": self.name, "value": self.value,
                "states": list(self.states)}


@dataclass(slots=True)
class AXTree:
    """The rendered tree and the elements it lists (for scripted solvers and checks)."""

    text: str
    elements: list[Element] = field(default_factory=list)


def bids_by_backend_id(document: Mapping[str, Any]) -> dict[int, str]:
    """`backendNodeId → bid` for every element in a `DOM.getDocument(depth=-1)` snapshot.

    A text node maps to its parent element's bid: text in a `<span onclick>` is a
    `StaticText` in the tree, and the model must be able to click it."""
    found: dict[int, str] = {}
    stack: list[tuple[Mapping[str, Any], str | None]] = [(document.get("root", document), None)]
    while stack:
        node, parent_bid = stack.pop()
        bid = None
        attributes = node.get("attributes") or []
        for name, value in zip(attributes[::2], attributes[1::2], strict=False):
            if name == "bid":
                bid = value
                break
        if bid is not None:
            found[int(node["backendNodeId"])] = bid
        elif node.get("nodeType") == 3 and parent_bid is not None:
            found[int(node["backendNodeId"])] = parent_bid
        for child in (*(node.get("children") or ()), *(node.get("shadowRoots") or ())):
            stack.append((child, bid))
        if "contentDocument" in node:
            stack.append((node["contentDocument"], None))
    return found


def _value(node: Mapping[str, Any], key: str) -> Any:
    holder = node.get(key)
    return holder.get("value") if isinstance(holder, Mapping) else None


def _states(node: Mapping[str, Any]) -> Iterator[str]:
    props = {p["name"]: _value(p, "value") for p in node.get("properties") or [] if "name" in p}
    for state in SHOWN_STATES:
        value = props.get(state)
        if value in (None, False, "false"):
            continue
        yield state if value in (True, "true") else f"{state}={value}"


def _quote(text: str) -> str:
    return "'" + " ".join(text.split()).replace("'", "\\'") + "'"


def render_axtree(nodes: list[Mapping[str, Any]], bids: Mapping[int, str]) -> AXTree:
    """Render CDP AX nodes (the first is the root) as BrowserGym-style text."""
    if not nodes:
        return AXTree("(empty page)")
    by_id = {str(n["nodeId"]): n for n in nodes}
    lines: list[str] = []
    elements: list[Element] = []
    shown: set[str] = set()
    # Depth-first, children in order; (node id, depth, parent's name).
    stack: list[tuple[str, int, str]] = [(str(nodes[0]["nodeId"]), 0, "")]
    while stack:
        node_id, depth, parent_name = stack.pop()
        node = by_id.get(node_id)
        if node is None:
            continue
        role = str(_value(node, "role") or "")
        name = str(_value(node, "name") or "").strip()
        skip = (node.get("ignored") or role in SKIPPED_ROLES or not role
                or (role == "generic" and not name)
                or (role == "StaticText" and (not name or name == parent_name)))
        child_depth = depth if skip else depth + 1
        if not skip:
            bid = bids.get(node.get("backendDOMNodeId", -1))
            if bid in shown:  # text of an element already listed: its bid is on that line
                bid = None
            value = str(_value(node, "value") or "") if role in VALUE_ROLES else ""
            states = tuple(_states(node))
            parts = [f"[{bid}] {role}" if bid is not None else role, _quote(name)]
            line = " ".join(parts)
            extras = list(states) + ([f"value={_quote(value)}"] if role in VALUE_ROLES else [])
            if extras:
                line += ", " + ", ".join(extras)
            lines.append("\t" * depth + line)
            if bid is not None:
                shown.add(bid)
                elements.append(Element(bid, role, " ".join(name.split()), value, states, depth))
        next_parent = name if not skip else parent_name
        for child in reversed(node.get("childIds") or []):
            stack.append((str(child), child_depth, next_parent))
    return AXTree("\n".join(lines), elements)
