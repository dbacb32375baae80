"""Mini-app "listview": a file list to filter and sort, then pick a file and press OK.

Goal: type a filter (the list shows only names containing it), sort by a column (clicking
a column header sorts ascending, clicking it again descending), select a given file and
press OK. The checker reads the snapshot OK took — the rows shown, in their order, and the
selection — so the filter, the sort key *and* the direction all matter, and so does
pressing OK last. The rows are a real Tk Listbox; `_runtime.listbox_items` exposes each
visible row as a `list-item` with its own box.
"""

from __future__ import annotations

import random
from typing import Any

TITLE = "File list"
WORDS = ("report", "budget", "notes", "photo", "draft", "invoice", "slides", "backup")
TAGS = ("2023", "2024", "final", "old", "q1", "q2", "v2", "copy")
EXTENSIONS = (".txt", ".pdf", ".csv", ".png")
COLUMNS = ("Name", "Size")
ARROWS = {"ascending": "▲", "descending": "▼"}
NAME_CHARS, SIZE_CHARS = 24, 10  # the rows' columns, in characters of the list's monospace font


def _order(files: dict[str, int], query: str, key: str, direction: str) -> list[str]:
    """The names shown for a filter and a sort (what the app computes, and the target)."""
    shown = [name for name in files if query.lower() in name.lower()]
    if key:
        shown.sort(key=(lambda n: files[n]) if key == "Size" else str.lower, reverse=direction == "descending")
    return shown


def make_goal(rng: random.Random) -> dict[str, Any]:
    names: set[str] = set()
    while len(names) < 10:
        names.add(f"{rng.choice(WORDS)}_{rng.choice(TAGS)}{rng.choice(EXTENSIONS)}")
    ordered = sorted(names)  # a set's order varies between processes; env and server must agree
    rng.shuffle(ordered)  # shown unsorted at start
    files = dict(zip(ordered, rng.sample(range(1, 1000), len(ordered)), strict=True))
    queries = [q for q in (*WORDS, *EXTENSIONS) if 2 <= sum(q in n for n in files) < len(files)]
    query = rng.choice(queries)
    key, direction = rng.choice(COLUMNS), rng.choice(("ascending", "descending"))
    visible = _order(files, query, key, direction)
    selected = rng.choice(visible[1:])
    order = {"Size": {"ascending": "smallest first", "descending": "largest first"},
             "Name": {"ascending": "A to Z", "descending": "Z to A"}}[key][direction]
    instruction = (f'In the file list, show only the files whose name contains "{query}", sorted by '
                   f'{key.lower()} ({order}), then select "{selected}" and press OK.')
    target = {"query": query, "sort": [key, direction], "visible": visible, "selected": selected}
    return {"instruction": instruction, "init": {"files": files}, "target": target}


def wrong_target(target: dict[str, Any]) -> dict[str, Any]:
    """The right rows sorted the wrong way round."""
    key, direction = target["sort"]
    flipped = "ascending" if direction == "descending" else "descending"
    return {**target, "sort": [key, flipped], "visible": list(reversed(target["visible"]))}


def check(target: dict[str, Any], state: dict[str, Any]) -> dict[str, float]:
    chosen = state.get("chosen") or {}
    visible = chosen.get("visible")
    parts = {"pressed_ok": float(bool(chosen)),
             "filtered": float(sorted(visible or []) == sorted(target["visible"])),
             "sorted": float(visible == target["visible"]),
             "selected": float(chosen.get("selected") == target["selected"])}
    parts["success"] = float(all(parts.values()))
    return parts


class App:
    def __init__(self, root: Any, init: dict[str, Any]) -> None:
        import tkinter as tk
        import tkinter.font as tkfont

        self.files: dict[str, int] = dict(init["files"])
        self.key, self.direction = "", ""
        self.chosen: dict[str, Any] | None = None
        self.shown: list[str] = []
        tk.Label(root, text="Files", font="TkDefaultFont 14 bold").grid(row=0, column=0, columnspan=3,
                                                                      padx=16, pady=12, sticky="w")
        tk.Label(root, text="Filter:").grid(row=1, column=0, padx=(16, 4), pady=4, sticky="e")
        self.query = tk.StringVar(root, value="")
        self.query.trace_add("write", lambda *_: self.refresh())
        entry = tk.Entry(root, width=30, textvariable=self.query)
        entry._a11y_name = "Filter"  # type: ignore[attr-defined]
        entry.grid(row=1, column=1, columnspan=2, padx=4, pady=4, sticky="w")
        table = tk.Frame(root)
        table.grid(row=2, column=1, columnspan=2, padx=4, pady=(8, 0), sticky="w")
        font = tkfont.Font(root, family="Courier", size=11)  # fontconfig's monospace: columns line up
        inset = 3  # the Listbox's border + highlight ring, so the headers sit above their columns
        widths = {"Name": NAME_CHARS * font.measure("0") + inset, "Size": (SIZE_CHARS + 1) * font.measure("0") + inset}
        self.headers = {}
        for column, name in enumerate(COLUMNS):
            cell = tk.Frame(table, width=widths[name], height=30)
            cell.pack_propagate(False)
            cell.grid(row=0, column=column, sticky="w")
            header = tk.Button(cell, text=name, anchor="w" if name == "Name" else "e", relief="groove",
                               command=lambda n=name: self.sort_by(n))
            header._a11y_tag = "column-header"  # type: ignore[attr-defined]
            header._a11y_name = name  # type: ignore[attr-defined]
            header._a11y_states = lambda n=name: [f"sorted {self.direction}"] if self.key == n else []  # type: ignore[attr-defined]
            header.pack(fill="both", expand=True)
            self.headers[name] = header
        self.listbox = tk.Listbox(table, height=10, width=NAME_CHARS + SIZE_CHARS + 1, font=font,
                                  exportselection=False, selectmode="browse", activestyle="none",
                                  borderwidth=1, highlightthickness=1)
        self.listbox._a11y_name = "Files"  # type: ignore[attr-defined]
        self.listbox._a11y_item = lambda i: {"name": self.shown[i], "text": f"{self.files[self.shown[i]]} KB"}  # type: ignore[attr-defined]
        self.listbox.grid(row=1, column=0, columnspan=2, sticky="w")
        tk.Button(root, text="OK", width=8, command=self.ok).grid(row=3, column=1, padx=4, pady=12, sticky="w")
        self.status = tk.Label(root, text="")
        self.status.grid(row=4, column=0, columnspan=3, padx=16, sticky="w")
        self.refresh()

    def sort_by(self, key: str) -> None:
        """A header click: sort by it ascending, or flip the direction if already sorted by it."""
        if self.key == key:
            self.direction = "descending" if self.direction == "ascending" else "ascending"
        else:
            self.key, self.direction = key, "ascending"
        for name, header in self.headers.items():
            header.configure(text=f"{name} {ARROWS[self.direction]}" if name == self.key else name)
        self.refresh()

    def selected(self) -> str | None:
        picked = self.listbox.curselection()
        return self.shown[picked[0]] if picked else None

    def refresh(self) -> None:
        """Redraw the rows for the current filter and sort, keeping the selection if still shown."""
        keep = self.selected()
        self.shown = _order(self.files, self.query.get(), self.key, self.direction)
        self.listbox.delete(0, "end")
        for name in self.shown:
            self.listbox.insert("end", f" {name:<{NAME_CHARS - 1}}{self.files[name]:>{SIZE_CHARS - 3}} KB")
        if keep in self.shown:
            self.listbox.selection_set(self.shown.index(keep))

    def ok(self) -> None:
        choice = self.selected()
        if choice is None:
            self.status.configure(text="Select a file first.")
            return
        self.chosen = {"visible": list(self.shown), "selected": choice}
        self.status.configure(text=f"Opened {choice}.")

    def state(self) -> dict[str, Any]:
        return {"query": self.query.get(), "sort": [self.key, self.direction], "visible": list(self.shown),
                "selected": self.selected(), "chosen": self.chosen}
