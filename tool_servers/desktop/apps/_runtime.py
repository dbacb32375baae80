"""The host side of a desktop mini-app, run *inside* the app's process (stdlib + tkinter).

Started by `_main.py` on the session's Xvfb display. It builds the app's window to fill
the screen (there is no window manager, so the window sits at (0, 0) without decorations
and screen coordinates are window coordinates), then answers the tool server on a Unix
socket in the session directory, one JSON request per connection:

- `{"cmd": "ping"}` → `{"ok": true}` once the window is mapped;
- `{"cmd": "a11y"}` → the widgets, from Tk's own introspection (`winfo_*`), as elements
  with OSWorld's a11y fields (tag, name, text, class, description, position, size);
- `{"cmd": "state"}` → the app's state (`App.state()`), which the server's checker reads.

The socket is served from Tk's event loop (`createfilehandler`), so state is read in the
one thread that owns the widgets. Nothing the agent sends reaches this process except as
X input events.
"""

from __future__ import annotations

import json
import os
import socket
import tkinter as tk
from typing import Any

#: Tk widget class → OSWorld/AT-SPI role name (the a11y tree's `tag`).
TAGS = {
    "Button": "push-button", "Entry": "entry", "Label": "label", "Checkbutton": "check-box",
    "Radiobutton": "radio-button", "Listbox": "list", "Text": "text", "Frame": "panel",
    "Spinbox": "spin-button", "Scale": "slider", "Tk": "frame", "Toplevel": "frame",
}


def _option(widget: tk.Misc, name: str) -> str:
    try:
        return str(widget.cget(name))
    except tk.TclError:
        return ""


def describe(root: tk.Tk) -> list[dict[str, Any]]:
    """Every mapped widget, depth first, with its box in screen coordinates."""
    elements: list[dict[str, Any]] = []
    focus = root.focus_get()

    def visit(widget: tk.Misc, depth: int) -> None:
        if not widget.winfo_ismapped():
            return
        cls = widget.winfo_class()
        tag = getattr(widget, "_a11y_tag", None) or TAGS.get(cls, cls.lower())
        name = getattr(widget, "_a11y_name", None) or _option(widget, "text")
        text = ""
        states: list[str] = []
        if cls == "Entry":
            text = widget.get()  # type: ignore[attr-defined]
        elif cls == "Label":
            text, name = _option(widget, "text"), getattr(widget, "_a11y_name", "") or ""
        elif cls == "Checkbutton":
            variable = _option(widget, "variable")
            states.append("checked" if variable and str(widget.getvar(variable)) in ("1", "True") else "unchecked")
        text = getattr(widget, "_a11y_text", lambda: text)()  # e.g. a drop-down's current value
        states.extend(getattr(widget, "_a11y_states", list)())
        if widget is focus:
            states.append("focused")
        if _option(widget, "state") == "disabled":
            states.append("disabled")
        if (cls not in ("Frame", "Tk", "Toplevel") or name) and (cls != "Label" or text or name):
            elements.append({
                "id": len(elements), "tag": tag, "name": name, "text": text, "class": cls,
                "description": ", ".join(states), "x": widget.winfo_rootx(), "y": widget.winfo_rooty(),
                "w": widget.winfo_width(), "h": widget.winfo_height(), "depth": depth,
            })
        if cls == "Listbox":
            for item in listbox_items(widget):  # type: ignore[arg-type]
                elements.append({"id": len(elements), **item, "depth": depth + 1})
        for child in widget.winfo_children():
            visit(child, depth + 1)

    visit(root, 0)
    return elements


def listbox_items(listbox: tk.Listbox) -> list[dict[str, Any]]:
    """A Listbox's visible rows as `list-item` elements, each with its own on-screen box.

    Tk draws a Listbox's rows itself (they are not widgets), so introspection alone would
    show one opaque `list`; a grounded agent needs a box per row to click. The box spans the
    row's full inner width (where a click selects it) and the line's height (`bbox`). Rows
    scrolled out of view are left out, as a screen reader would. A Listbox may name its rows
    with `_a11y_item(index) -> {"name", "text"}` (e.g. a file name and its size); by default
    the name is the row's text.
    """
    inset = int(listbox.cget("borderwidth")) + int(listbox.cget("highlightthickness"))
    left, top = listbox.winfo_rootx() + inset, listbox.winfo_rooty()
    width = listbox.winfo_width() - 2 * inset
    fields = getattr(listbox, "_a11y_item", None)
    selected = set(listbox.curselection())
    items: list[dict[str, Any]] = []
    for index in range(listbox.size()):
        box = listbox.bbox(index)
        if not box:
            continue
        named = fields(index) if fields else {"name": str(listbox.get(index)), "text": ""}
        states = ["selected"] if index in selected else []
        items.append({"tag": "list-item", "name": named["name"], "text": named.get("text", ""),
                      "class": "ListboxItem", "description": ", ".join(states),
                      "x": left, "y": top + box[1], "w": width, "h": box[3]})
    return items


class Host:
    """Serves one app's requests on a Unix socket from Tk's event loop."""

    def __init__(self, root: tk.Tk, app: Any, socket_path: str) -> None:
        self.root, self.app = root, app
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(socket_path)
        os.chmod(socket_path, 0o600)
        self.listener.listen(8)
        root.tk.createfilehandler(self.listener, tk.READABLE, self._accept)

    def catch_up(self) -> None:
        """Handle the input the agent's last action produced before answering about the screen.

        The server asks only after `xdotool` has exited, and xdotool's closing XSync means the
        X server has already turned its fake input into events for this app — but they may
        still sit unread on the X connection while Tk serves this socket first, and the
        answer would describe the screen before the action. A round trip to the X server
        (`winfo_pointerxy` is an XQueryPointer) reads every event sent before it; `update`
        then runs their handlers and redraws. Without this, a loaded machine showed ~2% of
        observations one action stale.
        """
        self.root.winfo_pointerxy()
        self.root.update()

    def _accept(self, *_args: Any) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.settimeout(2.0)
            try:
                raw = b""
                while not raw.endswith(b"\n") and len(raw) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    raw += chunk
                reply = self.handle(json.loads(raw or b"{}"))
            except Exception as exc:  # noqa: BLE001  (a bad request must not kill the app)
                reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            conn.sendall(json.dumps(reply).encode() + b"\n")

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        self.catch_up()
        cmd = request.get("cmd")
        if cmd == "ping":
            return {"ok": self.root.winfo_ismapped()}
        if cmd == "a11y":
            return {"ok": True, "elements": describe(self.root)}
        if cmd == "state":
            return {"ok": True, "state": self.app.state()}
        return {"ok": False, "error": f"unknown command {cmd!r}"}
