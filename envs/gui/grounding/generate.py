"""Generate a ScreenSpot-format grounding set from real rendered screens.

Screens come from the tool servers, and so do the boxes: the desktop server's Tk
mini-apps (the a11y elements come from Tk's own geometry, `winfo_rootx`/`winfo_width`)
and, where the browser server offers pixel mode, MiniWoB++ pages (element boxes from the
DOM). Both give elements in one schema — `tag`, `name`, `text`, `description` (states such
as "checked"), and the box `x`, `y`, `w`, `h` in screen pixels.

Each screen becomes one PNG and a few samples, one per element that an instruction can
name unambiguously ("Click the 'Submit' button", "Click the Email field", "Tick
'Subscribe to newsletter'"). Elements that another element partly covers are left out:
their box would not be where the click lands. Different screens of one app come from
running the app's scripted solver a few steps further each time (fields filled,
drop-downs open, digits typed).

`agent-rl gui grounding --out DIR` runs `generate`; the set shipped in
`envs/gui/data/grounding/` was made with it.
"""

from __future__ import annotations

import base64
import logging
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envs.errors import EnvConfigError
from envs.gui.grounding.dataset import Box, GroundingSample, write_screenspot
from tool_servers.client import ToolClient
from tool_servers.types import ToolCall

__all__ = ["SOURCES", "Screen", "desktop_screens", "generate", "instruction_for", "samples_from_screen",
           "visible_targets"]

log = logging.getLogger(__name__)

SOURCES = ("desktop", "miniwob")
JSON_NAME = "screenspot_agentrl.json"
#: Solver steps between two screens of the same app.
STEPS_PER_SCREEN = 3
#: Tags drawn above the rest (the items of an open drop-down).
TOP_LAYER = frozenset({"list-item", "menu-item"})
MIN_SIDE = 4  # pixels; smaller boxes are no fair target
#: HTML tags whose text runs are targets on their own (a block's text is not: its box is the block's).
INLINE_TEXT = frozenset({"span", "a", "b", "strong", "em", "label", "td", "th"})


@dataclass(slots=True)
class Screen:
    """One rendered screen and the elements on it (boxes in its pixels)."""

    key: str  # file stem, unique in a set
    source: str  # data_source, e.g. "tk/form"
    png: bytes
    size: tuple[int, int]
    elements: list[dict[str, Any]] = field(default_factory=list)


# ---- instructions ---------------------------------------------------------------------
def _states(element: dict[str, Any]) -> set[str]:
    return {s.strip() for s in str(element.get("description", "")).split(",") if s.strip()}


def _label(element: dict[str, Any]) -> str:
    return " ".join(str(element.get("name") or element.get("text") or "").split())


def instruction_for(element: dict[str, Any]) -> tuple[str, str] | None:
    """(instruction, data_type) naming this element, or None when it cannot be named.

    >>> instruction_for({"tag": "check-box", "name": "Dark mode", "description": "unchecked"})
    ("Tick 'Dark mode'", 'text')
    >>> instruction_for({"tag": "entry", "name": "Email", "description": ""})
    ('Click the Email field', 'icon')
    >>> instruction_for({"tag": "StaticText", "name": "nam", "class": "span"})
    ("Click the text 'nam'", 'text')
    """
    tag, label, states = str(element.get("tag", "")), _label(element), _states(element)
    if not label or len(label) > 60:
        return None
    if tag in ("push-button", "button"):
        return f"Click the '{label}' button", "text"
    if tag in ("entry", "textbox", "text", "searchbox"):
        return f"Click the {label} field", "icon"
    if tag in ("check-box", "checkbox"):
        return (f"Untick '{label}'" if "checked" in states else f"Tick '{label}'"), "text"
    if tag in ("radio-button", "radio"):
        return f"Select the '{label}' option", "text"
    if tag in ("combo-box", "combobox"):
        name = str(element.get("name") or label)
        return (f"Open the {name} drop-down" if "expanded" not in states else f"Close the {name} drop-down"), "text"
    if tag in ("list-item", "menu-item", "option"):
        return f"Choose '{label}' from the list", "text"
    if tag == "link":
        return f"Click the link '{label}'", "text"
    if tag == "StaticText" and element.get("class") in INLINE_TEXT:
        return f"Click the text '{label}'", "text"
    if tag in ("tab", "page-tab"):
        return f"Open the '{label}' tab", "text"
    return None


# ---- boxes ----------------------------------------------------------------------------
def _box(element: dict[str, Any]) -> Box:
    x, y = float(element["x"]), float(element["y"])
    return x, y, x + float(element["w"]), y + float(element["h"])


def _overlaps(a: Box, b: Box) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def _contains(outer: Box, inner: Box) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


def _covered(element: dict[str, Any], box: Box, elements: Sequence[dict[str, Any]]) -> bool:
    """Whether another element partly covers this one (nesting does not count; a top-layer
    element covers everything below it)."""
    top = element.get("tag") in TOP_LAYER
    for other in elements:
        if other is element:
            continue
        other_box = _box(other)
        if not _overlaps(box, other_box):
            continue
        if other.get("tag") in TOP_LAYER and not top:
            return True
        if top and other.get("tag") not in TOP_LAYER:
            continue
        if not (_contains(other_box, box) or _contains(box, other_box)):
            return True
    return False


def visible_targets(elements: Sequence[dict[str, Any]], size: tuple[int, int]
                    ) -> list[tuple[str, str, Box]]:
    """(instruction, data_type, box) for every element that can be named, is uncovered and
    lies on the screen; instructions that would name two elements are dropped. An element
    the browser marks `covered` (its middle hits another element) is left out too."""
    width, height = size
    found: list[tuple[str, str, Box]] = []
    for element in elements:
        named = instruction_for(element)
        if named is None or int(element.get("w", 0)) < MIN_SIDE or int(element.get("h", 0)) < MIN_SIDE:
            continue
        box = _box(element)
        clipped = (max(0.0, box[0]), max(0.0, box[1]), min(float(width), box[2]), min(float(height), box[3]))
        if clipped[2] - clipped[0] < MIN_SIDE or clipped[3] - clipped[1] < MIN_SIDE:
            continue
        if "covered" in _states(element) or _covered(element, box, elements):
            continue
        found.append((*named, clipped))
    counts: dict[str, int] = {}
    for instruction, _, _ in found:
        counts[instruction] = counts.get(instruction, 0) + 1
    return [target for target in found if counts[target[0]] == 1]


def samples_from_screen(screen: Screen, images: Path, rng: random.Random, per_screen: int
                        ) -> list[GroundingSample]:
    """Write the screen's PNG under `images/` and return up to `per_screen` samples on it."""
    targets = visible_targets(screen.elements, screen.size)
    if not targets:
        return []
    chosen = sorted(rng.sample(range(len(targets)), min(per_screen, len(targets))))
    image = images / f"{screen.key}.png"
    images.mkdir(parents=True, exist_ok=True)
    image.write_bytes(screen.png)
    return [GroundingSample(id=f"{screen.key}-{n}", img_filename=image.name, bbox=targets[i][2],
                            instruction=targets[i][0], data_type=targets[i][1],  # type: ignore[arg-type]
                            data_source=screen.source, img_size=screen.size, image_path=image)
            for n, i in enumerate(chosen)]


# ---- screens from the desktop server ----------------------------------------------------
async def desktop_screens(client: ToolClient, apps: Sequence[str], per_app: int) -> AsyncIterator[Screen]:
    """`per_app` screens of each mini-app: screen i is goal i after i × STEPS_PER_SCREEN
    steps of the app's scripted solver (fewer if the goal is reached first)."""
    from envs.gui.solvers import SOLVERS
    from tool_servers.desktop.apps import goal_for

    for app in apps:
        for index in range(per_app):
            session = await client.create_session({"app": app, "seed": index, "observation": "screenshot"})
            try:
                result = await client.call(session, ToolCall("observe", {}))
                solver, target = SOLVERS.get(app), goal_for(app, index)["target"]
                for _ in range(index * STEPS_PER_SCREEN if solver is not None else 0):
                    name, args = solver(target, list(result.data.get("elements", [])))  # type: ignore[misc]
                    if name in ("done", "fail"):
                        break
                    result = await client.call(session, ToolCall(name, args))
                width, height = result.data["screen"]
                yield Screen(key=f"tk_{app}_{index:03d}", source=f"tk/{app}",
                             png=base64.b64decode(result.data["screenshot_png"]), size=(int(width), int(height)),
                             elements=list(result.data.get("elements", [])))
            finally:
                await client.delete_session(session)


# ---- the whole set ----------------------------------------------------------------------
async def generate(out: str | Path, *, sources: Sequence[str] = ("desktop",), apps: Sequence[str] | None = None,
                   per_app: int = 3, per_screen: int = 6, seed: int = 0,
                   desktop_client: ToolClient | None = None, browser_client: ToolClient | None = None,
                   miniwob_tasks: Sequence[str] | None = None) -> list[GroundingSample]:
    """Render screens, write `out/images/*.png` and `out/screenspot_agentrl.json` (v1 boxes,
    `[x, y, w, h]`), return the samples.

    Args:
        out: the output folder (created; files of the same names are replaced).
        sources: "desktop" (Tk mini-apps) and/or "miniwob" (MiniWoB++ pages, when the
            browser server has pixel mode).
        apps: mini-apps to render (default: all).
        per_app: screens per mini-app (and per MiniWoB++ task).
        per_screen: samples per screen at most.
        seed: picks which elements of a screen become samples.
        desktop_client / browser_client: running tool servers' clients; default: in-process ones.
        miniwob_tasks: MiniWoB++ tasks to render (default: a few click and form tasks).
    """
    unknown = set(sources) - set(SOURCES)
    if unknown or not sources:
        raise EnvConfigError(f"sources must be some of {', '.join(SOURCES)}, got {list(sources)}")
    if per_app < 1 or per_screen < 1:
        raise EnvConfigError(f"per_app and per_screen must be ≥ 1, got {per_app} and {per_screen}")
    out = Path(out)
    images = out / "images"
    rng = random.Random(seed)
    samples: list[GroundingSample] = []
    if "desktop" in sources:
        from tool_servers.desktop.apps import APPS

        chosen = list(apps) if apps is not None else list(APPS)
        bad = [a for a in chosen if a not in APPS]
        if bad:
            raise EnvConfigError(f"unknown mini-app(s) {bad}; apps: {', '.join(APPS)}")
        client = desktop_client or _in_process("desktop", png_level=9)
        try:
            async for screen in desktop_screens(client, chosen, per_app):
                samples.extend(samples_from_screen(screen, images, rng, per_screen))
        finally:
            if desktop_client is None:
                await client.aclose()
    if "miniwob" in sources:
        from envs.gui.grounding.web import miniwob_screens

        client = browser_client or _in_process("browser")
        try:
            async for screen in miniwob_screens(client, miniwob_tasks, per_app):
                samples.extend(samples_from_screen(screen, images, rng, per_screen))
        finally:
            if browser_client is None:
                await client.aclose()
    if not samples:
        raise EnvConfigError("no screen gave a sample; check the tool servers' elements")
    write_screenspot(samples, out / JSON_NAME)
    stale = sorted({p.name for p in images.glob("*.png")} - {s.img_filename for s in samples})
    if stale:
        log.warning("%d image(s) in %s are not in the new set (from an earlier run?): %s", len(stale), images,
                    ", ".join(stale[:5]))
    log.info("wrote %d samples on %d screens to %s", len(samples), len({s.img_filename for s in samples}), out)
    return samples


def _in_process(name: str, **options: Any) -> ToolClient:
    from tool_servers import ServerSettings, create_app, make_tool_server

    server = make_tool_server(name, **options)
    server.validate()
    return ToolClient.in_process(create_app(server, ServerSettings.model_validate(server.default_settings)))
