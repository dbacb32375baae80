"""Mini-app "rename": a file-rename dialog — select a file, type its new name, press Rename.

Goal: one or two renames ("Rename "notes_q1.txt" to "minutes_q1.txt""). Rename (or Enter
in the entry) renames the selected file, keeps the list sorted and clears the entry;
mistakes are refused with a message in the status label (no file selected, an empty
name, a name already taken, a "/" in the name, an unchanged name), as a real dialog
would. The checker reads the resulting file list, so a rename that was not asked for, or
a typo, fails. The files are a real Tk Listbox (rows exposed by `_runtime.listbox_items`).
"""

from __future__ import annotations

import random
from typing import Any

TITLE = "Rename files"
STEMS = ("notes", "draft", "report", "budget", "photo", "invoice", "summary", "slides", "letter", "agenda")
NEW_STEMS = ("minutes", "final", "archive", "review", "outline", "receipt", "memo", "plan", "poster", "brief")
SUFFIXES = ("_q1", "_2024", "_v2", "", "_old")
EXTENSIONS = (".txt", ".pdf", ".md", ".csv")


def make_goal(rng: random.Random) -> dict[str, Any]:
    stems = rng.sample(STEMS, 6)
    files = sorted(f"{stem}{rng.choice(SUFFIXES)}{rng.choice(EXTENSIONS)}" for stem in stems)
    olds = rng.sample(files, rng.choice((1, 2)))
    renames = []
    for old, new_stem in zip(olds, rng.sample(NEW_STEMS, len(olds)), strict=True):
        stem, dot, ext = old.rpartition(".")
        renames.append([old, f"{new_stem}{stem[stem.find('_'):] if '_' in stem else ''}{dot}{ext}"])
    asks = " then ".join(f'"{old}" to "{new}"' for old, new in renames)
    instruction = f"In the rename dialog, rename {asks}."
    return {"instruction": instruction, "init": {"files": files}, "target": {"renames": renames,
                                                                              "files": _renamed(files, renames)}}


def _renamed(files: list[str], renames: list[list[str]]) -> list[str]:
    mapping = dict(map(tuple, renames))  # type: ignore[arg-type]  # pairs
    return sorted(mapping.get(name, name) for name in files)


def wrong_target(target: dict[str, Any]) -> dict[str, Any]:
    """A typo in the (last) new name: an extra "x" before the extension."""
    renames = [list(pair) for pair in target["renames"]]
    stem, dot, ext = renames[-1][1].rpartition(".")
    renames[-1][1] = f"{stem}x{dot}{ext}"
    olds = {old for old, _ in target["renames"]}
    news = {new for _, new in target["renames"]}
    files = [n for n in target["files"] if n not in news] + sorted(olds)
    return {"renames": renames, "files": _renamed(sorted(files), renames)}


def check(target: dict[str, Any], state: dict[str, Any]) -> dict[str, float]:
    files = list(state.get("files") or [])
    parts = {f"renamed_{i + 1}": float(new in files and old not in files)
             for i, (old, new) in enumerate(target["renames"])}
    parts["files"] = float(sorted(files) == sorted(target["files"]))
    parts["success"] = float(all(parts.values()))
    return parts


def problem(files: list[str], old: str | None, new: str) -> str:
    """Why a rename is refused ("" when it is fine): the dialog's validation."""
    if old is None:
        return "Select a file to rename."
    if not new.strip():
        return "The new name cannot be empty."
    if "/" in new:
        return 'A file name cannot contain "/".'
    if new == old:
        return "The new name is the same as the old one."
    if new in files:
        return f'A file named "{new}" already exists.'
    return ""


class App:
    def __init__(self, root: Any, init: dict[str, Any]) -> None:
        import tkinter as tk

        self.files: list[str] = sorted(init["files"])
        self.renames: list[list[str]] = []
        tk.Label(root, text="Rename files", font="TkDefaultFont 14 bold").grid(row=0, column=0, columnspan=3,
                                                                             padx=16, pady=12, sticky="w")
        self.listbox = tk.Listbox(root, height=8, width=32, exportselection=False, selectmode="browse",
                                  activestyle="none")
        self.listbox._a11y_name = "Files"  # type: ignore[attr-defined]
        self.listbox.grid(row=1, column=1, columnspan=2, padx=4, pady=4, sticky="w")
        tk.Label(root, text="New name:").grid(row=2, column=0, padx=(16, 4), pady=8, sticky="e")
        self.entry = tk.Entry(root, width=32)
        self.entry._a11y_name = "New name"  # type: ignore[attr-defined]
        self.entry.grid(row=2, column=1, columnspan=2, padx=4, pady=8, sticky="w")
        self.entry.bind("<Return>", lambda _event: self.rename())
        tk.Button(root, text="Rename", command=self.rename).grid(row=3, column=1, padx=4, pady=4, sticky="w")
        self.status = tk.Label(root, text="")
        self.status._a11y_name = "Status"  # type: ignore[attr-defined]
        self.status.grid(row=4, column=0, columnspan=3, padx=16, pady=8, sticky="w")
        self.redraw()

    def redraw(self, select: str | None = None) -> None:
        self.listbox.delete(0, "end")
        for name in self.files:
            self.listbox.insert("end", name)
        if select in self.files:
            self.listbox.selection_set(self.files.index(select))

    def rename(self) -> None:
        picked = self.listbox.curselection()
        old = self.files[picked[0]] if picked else None
        new = self.entry.get()
        error = problem(self.files, old, new)
        if error:
            self.status.configure(text=error, foreground="#b00020")
            return
        assert old is not None
        self.files = sorted([n for n in self.files if n != old] + [new])
        self.renames.append([old, new])
        self.entry.delete(0, "end")
        self.redraw()
        self.status.configure(text=f'Renamed "{old}" to "{new}".', foreground="black")

    def state(self) -> dict[str, Any]:
        return {"files": list(self.files), "renames": [list(r) for r in self.renames]}
