"""The listview and rename mini-apps: goals and checkers (no display), and on a real Xvfb
display through the real desktop server: Listbox rows in the a11y tree with boxes a click
can use, filtering and sorting by header clicks, the rename dialog's validation messages,
and scoring of the resulting state. (Scripted 1 / wrong 0 for every app, these included,
is `test_gui_env.py::test_scripted_solves_and_wrong_fails`.)"""

from __future__ import annotations

import base64
import io
import itertools

import pytest
from PIL import Image, ImageChops

from tests.gui.conftest import needs_desktop
from tool_servers import ToolClient
from tool_servers.desktop.a11y import center
from tool_servers.desktop.apps import goal_for, listview, rename
from tool_servers.types import ToolCall

SEEDS = range(40)


def rows(data: dict) -> list[dict]:
    return [e for e in data["elements"] if e["tag"] == "list-item"]


def find(elements: list[dict], **match: object) -> dict:
    return next(e for e in elements if all(e.get(k) == v for k, v in match.items()))


def screen(data: dict) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(data["screenshot_png"]))).convert("RGB")


# ---- goals and checkers, without a display -------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_listview_goals_are_feasible_and_checked(seed: int) -> None:
    goal = goal_for("listview", seed)
    assert goal == goal_for("listview", seed)  # env and server derive the same goal
    files, target = goal["init"]["files"], goal["target"]
    assert len(files) == 10 and len(set(files.values())) == 10  # distinct sizes: one right order
    assert 2 <= len(target["visible"]) < 10 and target["selected"] in target["visible"]
    assert target["visible"] == listview._order(files, target["query"], *target["sort"])
    solved = {"chosen": {"visible": target["visible"], "selected": target["selected"]}}
    assert listview.check(target, solved)["success"] == 1.0
    wrong = listview.wrong_target(target)
    assert listview.check(target, {"chosen": {"visible": wrong["visible"], "selected": wrong["selected"]}}) == {
        "pressed_ok": 1.0, "filtered": 1.0, "sorted": 0.0, "selected": 1.0, "success": 0.0}
    assert listview.check(target, {"chosen": None})["success"] == 0.0


@pytest.mark.parametrize("seed", SEEDS)
def test_rename_goals_are_feasible_and_checked(seed: int) -> None:
    goal = goal_for("rename", seed)
    files, target = goal["init"]["files"], goal["target"]
    current = list(files)
    for old, new in target["renames"]:
        assert rename.problem(current, old, new) == ""  # every asked rename is valid in turn
        current = sorted([n for n in current if n != old] + [new])
    assert current == target["files"]
    assert rename.check(target, {"files": current})["success"] == 1.0
    assert rename.check(target, {"files": files})["success"] == 0.0
    wrong = rename.wrong_target(target)
    assert rename.check(target, {"files": wrong["files"]})["success"] == 0.0


def test_rename_validation() -> None:
    files = ["a.txt", "b.txt"]
    assert rename.problem(files, None, "c.txt") == "Select a file to rename."
    assert "empty" in rename.problem(files, "a.txt", "  ")
    assert "already exists" in rename.problem(files, "a.txt", "b.txt")
    assert "/" in rename.problem(files, "a.txt", "x/y.txt")
    assert "same" in rename.problem(files, "a.txt", "a.txt")


# ---- on a real display ---------------------------------------------------------------------
@pytest.mark.asyncio(loop_scope="session")
@needs_desktop
async def test_listview_rows_filter_and_sort(desktop_client: ToolClient) -> None:
    sid = await desktop_client.create_session({"app": "listview", "seed": 4})
    goal = goal_for("listview", 4)
    try:
        first = (await desktop_client.call(sid, ToolCall("observe", {}))).data
        listbox = find(first["elements"], tag="list", name="Files")
        shown = rows(first)
        assert [r["name"] for r in shown] == list(goal["init"]["files"])  # every row, in the app's order
        assert all(r["text"] == f"{goal['init']['files'][r['name']]} KB" for r in shown)
        for upper, lower in itertools.pairwise(shown):  # stacked rows inside the list's box
            assert upper["y"] + upper["h"] <= lower["y"] and upper["x"] == lower["x"] and upper["h"] >= 14
        assert listbox["y"] <= shown[0]["y"] and shown[-1]["y"] + shown[-1]["h"] <= listbox["y"] + listbox["h"]
        assert listbox["x"] <= shown[0]["x"] and shown[0]["x"] + shown[0]["w"] <= listbox["x"] + listbox["w"]

        third = shown[2]  # a click on a row's centre selects it, and only its row is redrawn
        after = (await desktop_client.call(sid, ToolCall("click", dict(zip("xy", center(third), strict=True))))).data
        assert [r["name"] for r in rows(after) if "selected" in r["description"]] == [third["name"]]
        changed = ImageChops.difference(screen(first), screen(after))
        left, top, right, bottom = changed.getbbox()  # type: ignore[misc]  # nothing outside the list...
        assert listbox["x"] <= left and right <= listbox["x"] + listbox["w"]
        assert listbox["y"] <= top and bottom <= listbox["y"] + listbox["h"]
        inset = 2  # ...and inside its border and focus ring, only the clicked row
        inner = (listbox["x"] + inset, listbox["y"] + inset, listbox["x"] + listbox["w"] - inset,
                 listbox["y"] + listbox["h"] - inset)
        _left, top, _right, bottom = changed.crop(inner).getbbox()  # type: ignore[misc]
        assert third["y"] - 1 <= inner[1] + top and inner[1] + bottom <= third["y"] + third["h"] + 1

        entry = find(after["elements"], tag="entry", name="Filter")
        await desktop_client.call(sid, ToolCall("click", dict(zip("xy", center(entry), strict=True))))
        typed = (await desktop_client.call(sid, ToolCall("type", {"text": goal["target"]["query"]}))).data
        assert sorted(r["name"] for r in rows(typed)) == sorted(goal["target"]["visible"])
        size = find(typed["elements"], tag="column-header", name="Size")
        for direction, reverse in (("ascending", False), ("descending", True)):
            data = (await desktop_client.call(sid, ToolCall("click", dict(zip("xy", center(size), strict=True))))).data
            assert find(data["elements"], tag="column-header", name="Size")["description"] == f"sorted {direction}"
            sizes = [int(r["text"].split()[0]) for r in rows(data)]
            assert sizes == sorted(sizes, reverse=reverse)
        verdict = await desktop_client.evaluate(sid, {})
        assert verdict.reward == 0.0 and verdict.parts["pressed_ok"] == 0.0  # OK not pressed
    finally:
        await desktop_client.delete_session(sid)


@pytest.mark.asyncio(loop_scope="session")
@needs_desktop
async def test_rename_dialog_validates_and_renames(desktop_client: ToolClient) -> None:
    sid = await desktop_client.create_session({"app": "rename", "seed": 2, "observation": "a11y"})
    goal = goal_for("rename", 2)
    (old, new), *_ = goal["target"]["renames"]

    async def act(name: str, **args: object) -> dict:
        return (await desktop_client.call(sid, ToolCall(name, dict(args)))).data

    async def click(element: dict) -> dict:
        return await act("click", **dict(zip("xy", center(element), strict=True)))

    try:
        data = await act("a11y_tree")
        assert [r["name"] for r in rows(data)] == goal["init"]["files"]
        button = find(data["elements"], tag="push-button", name="Rename")
        data = await click(button)
        assert find(data["elements"], name="Status")["text"] == "Select a file to rename."
        data = await click(find(rows(data), name=old))
        assert "selected" in find(rows(data), name=old)["description"]
        data = await click(button)
        assert find(data["elements"], name="Status")["text"] == "The new name cannot be empty."
        taken = next(n for n in goal["init"]["files"] if n != old)
        await click(find(data["elements"], tag="entry", name="New name"))
        data = await act("type", text=taken)
        data = await act("key", combo="enter")
        assert find(data["elements"], name="Status")["text"] == f'A file named "{taken}" already exists.'
        assert [r["name"] for r in rows(data)] == goal["init"]["files"]  # nothing renamed
        for _ in taken:
            data = await act("key", combo="backspace")
        data = await act("type", text=new)
        data = await click(button)
        assert find(data["elements"], name="Status")["text"] == f'Renamed "{old}" to "{new}".'
        names = [r["name"] for r in rows(data)]
        assert new in names and old not in names and names == sorted(names)
        assert find(data["elements"], tag="entry", name="New name")["text"] == ""  # cleared for the next one
        verdict = await desktop_client.evaluate(sid, {})
        assert verdict.parts["renamed_1"] == 1.0
        assert verdict.reward == float(len(goal["target"]["renames"]) == 1)
    finally:
        await desktop_client.delete_session(sid)
