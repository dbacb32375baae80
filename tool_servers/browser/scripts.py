"""The fixed JavaScript this server runs in pages (files in `js/`, read once).

These are the only scripts ever evaluated in a page: they mark elements with bids and
read what an observation needs. The model's actions are Playwright calls on elements
found by bid — never JavaScript.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_DIR = Path(__file__).with_name("js")


@cache
def script(name: str) -> str:
    """The text of `js/NAME.js`."""
    return (_DIR / f"{name}.js").read_text()
