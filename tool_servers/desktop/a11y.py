"""The accessibility tree in OSWorld's linearised form: one widget per line, tab-separated.

OSWorld's `linearize_accessibility_tree` writes the header
`tag	name	text	class	description	position (top-left x&y)	size (w&h)` and a row per
node, with the text quoted and position/size as `(x, y)` / `(w, h)`; a text policy reads it
instead of pixels. Our elements come from Tk introspection (`apps/_runtime.py`).

>>> print(linearize([{"tag": "push-button", "name": "OK", "text": "", "class": "Button",
...                   "description": "", "x": 5, "y": 6, "w": 40, "h": 20}]))  # doctest: +NORMALIZE_WHITESPACE
tag	name	text	class	description	position (top-left x&y)	size (w&h)
push-button	OK	""	Button		(5, 6)	(40, 20)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

HEADER = "tag\tname\ttext\tclass\tdescription\tposition (top-left x&y)\tsize (w&h)"


def _clean(value: Any) -> str:
    return str(value).replace("\t", " ").replace("\n", " ")


def linearize(elements: Sequence[dict[str, Any]]) -> str:
    rows = [HEADER]
    for e in elements:
        rows.append("\t".join((
            _clean(e["tag"]), _clean(e["name"]), f'"{_clean(e["text"])}"', _clean(e["class"]),
            _clean(e["description"]), f'({e["x"]}, {e["y"]})', f'({e["w"]}, {e["h"]})')))
    return "\n".join(rows)


def center(element: dict[str, Any]) -> tuple[int, int]:
    """The middle of an element's box (where a scripted click lands)."""
    return element["x"] + element["w"] // 2, element["y"] + element["h"] // 2


def contains(element: dict[str, Any], x: int, y: int) -> bool:
    """Whether a point lies in an element's box (left/top edges in, right/bottom edges out).

    >>> contains({"x": 10, "y": 20, "w": 5, "h": 5}, 14, 20), contains({"x": 10, "y": 20, "w": 5, "h": 5}, 15, 20)
    (True, False)
    """
    return element["x"] <= x < element["x"] + element["w"] and element["y"] <= y < element["y"] + element["h"]
