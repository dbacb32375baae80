"""Mini-app "form": a registration form to fill in and submit.

Goal: type given values into Name, Email and City, set the newsletter box as asked, press
Submit. The checker reads what was *submitted* (a snapshot taken by the Submit button),
so values typed after submitting do not count. Stdlib + tkinter only (runs in the app
process; the server imports it for `make_goal` / `check` without touching Tk).
"""

from __future__ import annotations

import random
from typing import Any

TITLE = "Registration form"
FIELDS = ("name", "email", "city")
LABELS = {"name": "Name", "email": "Email", "city": "City"}
FIRST = ("Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "John", "Radia", "Ken")
LAST = ("Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus", "Perlman", "Thompson")
CITIES = ("Lyon", "Porto", "Ghent", "Turin", "Krakow", "Bergen", "Aarhus", "Graz", "Leiden", "Brno")


def make_goal(rng: random.Random) -> dict[str, Any]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    target = {"name": f"{first} {last}", "email": f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@example.org",
              "city": rng.choice(CITIES), "newsletter": rng.random() < 0.5}
    box = "tick" if target["newsletter"] else "leave unticked"
    instruction = (f'Fill in the registration form: Name "{target["name"]}", Email "{target["email"]}", '
                   f'City "{target["city"]}"; {box} "Subscribe to newsletter"; then press Submit.')
    return {"instruction": instruction, "init": {}, "target": target}


def wrong_target(target: dict[str, Any]) -> dict[str, Any]:
    """A plausible mistake (a typo in the name) that the checker must score 0."""
    return {**target, "name": target["name"] + "x"}


def check(target: dict[str, Any], state: dict[str, Any]) -> dict[str, float]:
    submitted = state.get("submitted") or {}
    parts = {f"field_{key}": float(submitted.get(key) == target[key]) for key in (*FIELDS, "newsletter")}
    parts["submitted"] = float(bool(submitted))
    parts["success"] = float(all(parts.values()))
    return parts


class App:
    def __init__(self, root: Any, init: dict[str, Any]) -> None:
        import tkinter as tk

        self.submitted: dict[str, Any] | None = None
        tk.Label(root, text="Registration", font="TkDefaultFont 14 bold").grid(row=0, column=0, columnspan=2,
                                                                             padx=16, pady=12, sticky="w")
        self.entries: dict[str, Any] = {}
        for row, key in enumerate(FIELDS, start=1):
            tk.Label(root, text=LABELS[key] + ":").grid(row=row, column=0, padx=16, pady=6, sticky="e")
            entry = tk.Entry(root, width=28)
            entry._a11y_name = LABELS[key]  # type: ignore[attr-defined]  # read by the a11y tree
            entry.grid(row=row, column=1, padx=8, pady=6, sticky="w")
            self.entries[key] = entry
        self.newsletter = tk.IntVar(root, value=0)
        tk.Checkbutton(root, text="Subscribe to newsletter", variable=self.newsletter).grid(
            row=4, column=1, padx=8, pady=6, sticky="w")
        tk.Button(root, text="Submit", command=self.submit).grid(row=5, column=1, padx=8, pady=10, sticky="w")
        self.status = tk.Label(root, text="")
        self.status.grid(row=6, column=0, columnspan=2, padx=16, sticky="w")

    def values(self) -> dict[str, Any]:
        return {**{key: entry.get() for key, entry in self.entries.items()}, "newsletter": bool(self.newsletter.get())}

    def submit(self) -> None:
        self.submitted = self.values()
        self.status.configure(text="Form submitted.")

    def state(self) -> dict[str, Any]:
        return {"fields": self.values(), "submitted": self.submitted}
