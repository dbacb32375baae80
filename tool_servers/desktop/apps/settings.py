"""Mini-app "settings": a settings dialog with check boxes and drop-downs, applied with a button.

Goal: change some toggles and a drop-down value, then press Apply. The checker compares
the *applied* settings (snapshot taken by Apply) with the expected ones — every setting,
so changing one that was not asked for fails too. The drop-downs are drawn here from
plain Tk widgets (a button that opens a list of option buttons in the same window), so
every option is a real widget with a box in the a11y tree.
"""

from __future__ import annotations

import random
from typing import Any

TITLE = "Settings"
TOGGLES = ("Wi-Fi", "Bluetooth", "Dark mode", "Notifications", "Auto-update")
DROPDOWNS = {"Language": ("English", "French", "German", "Spanish", "Italian"),
             "Font size": ("Small", "Medium", "Large")}


def make_goal(rng: random.Random) -> dict[str, Any]:
    init = {"toggles": {name: rng.random() < 0.5 for name in TOGGLES},
            "choices": {name: rng.choice(options) for name, options in DROPDOWNS.items()}}
    flips = rng.sample(TOGGLES, 2)
    dropdown = rng.choice(sorted(DROPDOWNS))
    value = rng.choice([o for o in DROPDOWNS[dropdown] if o != init["choices"][dropdown]])
    target = {"toggles": {name: (not on) if name in flips else on for name, on in init["toggles"].items()},
              "choices": {**init["choices"], dropdown: value}}
    asks = [f'turn {"on" if target["toggles"][name] else "off"} "{name}"' for name in flips]
    instruction = f'In the settings dialog, {asks[0]}, {asks[1]}, set "{dropdown}" to "{value}", then press Apply.'
    return {"instruction": instruction, "init": init, "target": target}


def wrong_target(target: dict[str, Any]) -> dict[str, Any]:
    """Also flips a toggle the goal did not ask for."""
    toggles = dict(target["toggles"])
    toggles[TOGGLES[-1]] = not toggles[TOGGLES[-1]]
    return {**target, "toggles": toggles}


def check(target: dict[str, Any], state: dict[str, Any]) -> dict[str, float]:
    applied = state.get("applied") or {}
    parts = {"applied": float(bool(applied)),
             "toggles": float(applied.get("toggles") == target["toggles"]),
             "choices": float(applied.get("choices") == target["choices"])}
    parts["success"] = float(all(parts.values()))
    return parts


class DropDown:
    """A button showing the current value; clicking it shows the options below it."""

    def __init__(self, root: Any, name: str, options: tuple[str, ...], value: str, row: int) -> None:
        import tkinter as tk

        self.name, self.value, self.open = name, value, False
        tk.Label(root, text=name + ":").grid(row=row, column=0, padx=16, pady=6, sticky="e")
        self.button = tk.Button(root, text=f"{value} ▾", width=12, anchor="w", command=self.toggle)
        self.button._a11y_tag = "combo-box"  # type: ignore[attr-defined]
        self.button._a11y_name = name  # type: ignore[attr-defined]
        self.button._a11y_text = lambda: self.value  # type: ignore[attr-defined]
        self.button._a11y_states = lambda: ["expanded" if self.open else "collapsed"]  # type: ignore[attr-defined]
        self.button.grid(row=row, column=1, padx=8, pady=6, sticky="w")
        self.menu = tk.Frame(root, relief="raised", borderwidth=1)
        for option in options:
            item = tk.Button(self.menu, text=option, width=12, anchor="w", relief="flat",
                             command=lambda o=option: self.choose(o))
            item._a11y_tag = "list-item"  # type: ignore[attr-defined]
            item.pack(fill="x")
        self.row = row

    def toggle(self) -> None:
        self.open = not self.open
        if self.open:
            self.menu.place(in_=self.button, relx=0, rely=1.0)
            self.menu.lift()
        else:
            self.menu.place_forget()

    def choose(self, option: str) -> None:
        self.value = option
        self.button.configure(text=f"{option} ▾")
        self.toggle()


class App:
    def __init__(self, root: Any, init: dict[str, Any]) -> None:
        import tkinter as tk

        self.applied: dict[str, Any] | None = None
        tk.Label(root, text="Settings", font="TkDefaultFont 14 bold").grid(row=0, column=0, columnspan=2,
                                                                         padx=16, pady=12, sticky="w")
        self.toggles: dict[str, Any] = {}
        for row, name in enumerate(TOGGLES, start=1):
            var = tk.IntVar(root, value=int(init["toggles"][name]))
            tk.Checkbutton(root, text=name, variable=var).grid(row=row, column=1, padx=8, pady=2, sticky="w")
            self.toggles[name] = var
        start = len(TOGGLES) + 1
        self.dropdowns = [DropDown(root, name, options, init["choices"][name], start + i)
                          for i, (name, options) in enumerate(DROPDOWNS.items())]
        buttons = tk.Frame(root)
        buttons.grid(row=start + len(DROPDOWNS), column=1, padx=8, pady=12, sticky="w")
        tk.Button(buttons, text="Apply", command=self.apply).pack(side="left")
        tk.Button(buttons, text="Cancel", command=self.cancel).pack(side="left", padx=8)
        self.status = tk.Label(root, text="")
        self.status.grid(row=start + len(DROPDOWNS) + 1, column=0, columnspan=2, padx=16, sticky="w")
        for dropdown in self.dropdowns:
            dropdown.menu.lift()

    def current(self) -> dict[str, Any]:
        return {"toggles": {name: bool(var.get()) for name, var in self.toggles.items()},
                "choices": {d.name: d.value for d in self.dropdowns}}

    def apply(self) -> None:
        self.applied = self.current()
        self.status.configure(text="Settings applied.")

    def cancel(self) -> None:
        self.applied = None
        self.status.configure(text="Changes not applied.")

    def state(self) -> dict[str, Any]:
        return {"current": self.current(), "applied": self.applied}
