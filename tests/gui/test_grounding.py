"""Grounding (ScreenSpot format): the click-in-box reward on crafted clicks, the loader on
every layout and bbox convention and its errors, the shipped set's consistency, the env
(scripted 1, wrong 0, unparsable 0 with an observation, check_env), and the generator end
to end through the real desktop server."""

from __future__ import annotations

import json
import struct
import warnings
import zlib
from pathlib import Path
from typing import Any

import pytest
from gymnasium.utils.env_checker import check_env

import envs
from envs.errors import EnvConfigError, EpisodeStateError, ParseError
from envs.gui.grounding import (
    BUILTIN_DIR,
    GroundingEnv,
    click_in_box,
    load_screenspot,
    parse_point,
    to_xyxy,
)
from envs.gui.grounding.dataset import image_size
from envs.gui.grounding.generate import generate, instruction_for, visible_targets
from tests.gui.conftest import needs_desktop
from tests.web.conftest import needs_browser
from tool_servers import ToolClient
from tool_servers.types import ToolCall


def png(width: int, height: int) -> bytes:
    """A valid grey PNG of the given size (no Pillow needed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def write_set(root: Path, records: list[dict[str, Any]], *, json_name: str = "screenspot_test.json",
              image_dir: str = "images", size: tuple[int, int] = (200, 100)) -> Path:
    """A ScreenSpot-style folder: the JSON file and a PNG for every record's image."""
    root.mkdir(parents=True, exist_ok=True)
    for record in records:
        image = root / image_dir / record["img_filename"]
        image.parent.mkdir(parents=True, exist_ok=True)
        if not image.exists():
            image.write_bytes(png(*size))
    path = root / json_name
    path.write_text(json.dumps(records))
    return path


def email_field() -> str:
    """The id of the shipped sample "Click the Email field" on the first form screen."""
    (found,) = [s.id for s in load_screenspot(BUILTIN_DIR) if s.img_filename == "tk_form_000.png"
                and s.instruction == "Click the Email field"]
    return found


def record(bbox: list[float], name: str = "a.png", **extra: Any) -> dict[str, Any]:
    return {"img_filename": name, "bbox": bbox, "instruction": f"click {bbox}", "data_type": "icon",
            "data_source": "test", **extra}


# ---- the reward ---------------------------------------------------------------------------
BOX_XYXY = (10, 20, 30, 40)  # = [10, 20, 20, 20] as xywh


@pytest.mark.parametrize(("box", "bbox_format"), [(BOX_XYXY, "xyxy"), ((10, 20, 20, 20), "xywh")])
@pytest.mark.parametrize(("x", "y", "inside"), [
    (20, 30, True),  # middle
    (10, 30, True), (30, 30, True), (20, 20, True), (20, 40, True),  # each edge
    (10, 20, True), (30, 20, True), (10, 40, True), (30, 40, True),  # each corner
    (9, 30, False), (31, 30, False), (20, 19, False), (20, 41, False),  # one pixel outside each edge
    (9, 19, False), (31, 41, False), (29.99, 40.01, False), (float("nan"), 30, False),
])
def test_click_in_box_edges_inclusive(box: tuple[float, ...], bbox_format: str, x: float, y: float,
                                      inside: bool) -> None:
    assert click_in_box(x, y, box, bbox_format=bbox_format) is inside  # type: ignore[arg-type]


@pytest.mark.parametrize(("x", "y", "inside"), [
    (0.25, 0.5, True), (0.1, 0.2, True), (0.4, 0.8, True),  # middle, two corners
    (0.1 - 1 / 640, 0.5, False), (0.4 + 1 / 640, 0.5, False), (0.25, 0.8 + 1 / 480, False),  # a pixel out
])
def test_click_in_box_normalised(x: float, y: float, inside: bool) -> None:
    assert click_in_box(x, y, (0.1, 0.2, 0.4, 0.8)) is inside
    assert click_in_box(x, y, (0.1, 0.2, 0.3, 0.6), bbox_format="xywh") is inside


def test_to_xyxy_rejects_unknown_format() -> None:
    with pytest.raises(EnvConfigError, match="'xywh' or 'xyxy'"):
        to_xyxy([0, 0, 1, 1], "cxcywh")  # type: ignore[arg-type]


# ---- the loader -----------------------------------------------------------------------------
def test_load_v1_xywh_auto(tmp_path: Path) -> None:
    path = write_set(tmp_path, [record([150, 60, 40, 30]), record([5, 5, 10, 10], "b.png")])
    samples = load_screenspot(tmp_path)  # a folder: screenspot_*.json + images/
    assert [s.bbox for s in samples] == [(150, 60, 190, 90), (5, 5, 15, 15)]
    assert samples[0].img_size == (200, 100) and samples[0].image_path == (tmp_path / "images" / "a.png").resolve()
    assert samples[0].id == f"{path.stem}-0" and samples[0].data_type == "icon"
    assert load_screenspot(path, bbox_format="xywh") == samples


def test_load_v2_xyxy_auto_and_screenspot_imgs(tmp_path: Path) -> None:
    write_set(tmp_path, [record([150, 60, 190, 90]), record([20, 10, 40, 30])], image_dir="screenspot_imgs")
    samples = load_screenspot(tmp_path / "screenspot_test.json")
    assert [s.bbox for s in samples] == [(150, 60, 190, 90), (20, 10, 40, 30)]
    assert [s.center() for s in samples] == [(170, 75), (30, 20)]


def test_load_pro_layout_with_ui_type_and_img_size(tmp_path: Path) -> None:
    records = [{"id": "pro-1", "img_filename": "vscode/shot.png", "bbox": [150, 60, 190, 90], "img_size": [200, 100],
                "instruction": "open the file", "ui_type": "text", "application": "vscode", "platform": "macos"}]
    write_set(tmp_path / "annotations", records, json_name="vscode_macos.json", image_dir="../images")
    (sample,) = load_screenspot(tmp_path, bbox_format="xyxy")  # annotations/*.json + images/
    assert sample.id == "pro-1" and sample.data_type == "text" and sample.data_source == "vscode"
    assert sample.img_filename == "vscode/shot.png" and sample.bbox == (150, 60, 190, 90)


@pytest.mark.parametrize(("bbox", "bbox_format", "expected"), [
    ([0.5, 0.25, 0.75, 0.5], "xyxy", (100, 25, 150, 50)),
    ([0.5, 0.25, 0.25, 0.25], "xywh", (100, 25, 150, 50)),
])
def test_load_normalised(tmp_path: Path, bbox: list[float], bbox_format: str, expected: tuple[int, ...]) -> None:
    write_set(tmp_path, [record(bbox)])
    (guessed,) = load_screenspot(tmp_path, bbox_format=bbox_format)  # normalized guessed from [0, 1] values
    (told,) = load_screenspot(tmp_path, bbox_format=bbox_format, normalized=True)
    assert guessed.bbox == told.bbox == expected


def test_load_clips_a_box_one_pixel_over_the_edge(tmp_path: Path) -> None:
    write_set(tmp_path, [record([180, 80, 21, 21])])
    (sample,) = load_screenspot(tmp_path, bbox_format="xywh")
    assert sample.bbox == (180, 80, 200, 100)


@pytest.mark.parametrize(("records", "kwargs", "message"), [
    ([record([1, 2, 3])], {}, "record 0: bbox must be a list of 4 numbers"),
    ([record([1, 2, 3, "4"])], {}, "4 finite numbers"),
    ([record([150, 60, 100, 30])], {"bbox_format": "xywh"}, "record 0: bbox .* outside the 200x100 image"),
    ([record([50, 60, 40, 30])], {"bbox_format": "xyxy"}, "empty or outside"),
    ([record([150, 60, 190, 90]), record([150, 60, 40, 30])], {}, "fit neither convention"),
    ([record([5, 5, 20, 20])], {}, "fits both .* pass bbox_format="),
    ([record([5, 5, 10, 10], data_type="widget")], {"bbox_format": "xywh"}, "data_type .* must be 'text' or 'icon'"),
    ([record([5, 5, 10, 10], instruction=" ")], {"bbox_format": "xywh"}, "instruction must be a non-empty"),
    ([record([5, 5, 10, 10], img_size=[0, 5])], {}, r"img_size must be \[width, height\]"),
    ([record([5, 5, 10, 10], id="x"), record([6, 6, 10, 10], id="x")], {"bbox_format": "xywh"}, "duplicate sample id"),
    ([record([5, 5, 10, 10])], {"bbox_format": "cxcywh"}, "bbox_format must be one of xywh, xyxy, auto"),
])
def test_loader_errors(tmp_path: Path, records: list[dict[str, Any]], kwargs: dict[str, Any], message: str) -> None:
    write_set(tmp_path, records)
    with pytest.raises(EnvConfigError, match=message):
        load_screenspot(tmp_path, **kwargs)


def test_loader_file_errors(tmp_path: Path) -> None:
    with pytest.raises(EnvConfigError, match="no ScreenSpot file or folder"):
        load_screenspot(tmp_path / "nope.json")
    with pytest.raises(EnvConfigError, match="holds no ScreenSpot JSON file"):
        load_screenspot(tmp_path)
    (tmp_path / "screenspot_bad.json").write_text("{not json")
    with pytest.raises(EnvConfigError, match="cannot read .* as JSON"):
        load_screenspot(tmp_path)
    (tmp_path / "screenspot_bad.json").write_text('{"bbox": [1, 2, 3, 4]}')
    with pytest.raises(EnvConfigError, match="a JSON list of objects"):
        load_screenspot(tmp_path)
    (tmp_path / "screenspot_bad.json").write_text(json.dumps([record([1, 2, 3, 4])]))
    with pytest.raises(EnvConfigError, match="cannot find 'a.png' .* pass image_dir="):
        load_screenspot(tmp_path)
    with pytest.raises(EnvConfigError, match="image_dir .* is not a folder"):
        load_screenspot(tmp_path, image_dir=tmp_path / "nope")


def test_loader_missing_image_unsafe_name_and_skip_invalid(tmp_path: Path) -> None:
    path = write_set(tmp_path, [record([5, 5, 10, 10]), record([5, 5, 10, 10], "b.png")])
    (tmp_path / "images" / "b.png").unlink()
    with pytest.raises(EnvConfigError, match=r"record 1: image .*b.png does not exist .*skip_invalid=True"):
        load_screenspot(path, bbox_format="xywh")
    assert [s.img_filename for s in load_screenspot(path, bbox_format="xywh", skip_invalid=True)] == ["a.png"]
    path.write_text(json.dumps([record([5, 5, 10, 10]), record([5, 5, 10, 10], "../a.png")]))
    with pytest.raises(EnvConfigError, match="without '..'"):
        load_screenspot(path, bbox_format="xywh")


def test_loader_auto_format_with_skip_invalid_takes_the_majority(tmp_path: Path) -> None:
    write_set(tmp_path, [record([150, 60, 40, 30]), record([120, 50, 60, 40]), record([150, 60, 190, 90])])
    with pytest.raises(EnvConfigError, match="fit neither"):
        load_screenspot(tmp_path)
    samples = load_screenspot(tmp_path, skip_invalid=True)
    assert [s.bbox for s in samples] == [(150, 60, 190, 90), (120, 50, 180, 90)]  # xywh; the last dropped


# ---- the shipped set --------------------------------------------------------------------------
def test_shipped_set_is_consistent() -> None:
    samples = load_screenspot(BUILTIN_DIR, bbox_format="xywh", normalized=False)
    assert 40 <= len(samples) <= 120
    per_image: dict[str, set[str]] = {}
    for sample in samples:
        assert sample.image_path.is_file(), sample.img_filename
        assert image_size(sample.image_path) == sample.img_size, sample.id
        x1, y1, x2, y2 = sample.bbox
        width, height = sample.img_size
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height, sample.id
        assert sample.data_type in ("text", "icon") and sample.data_source
        instructions = per_image.setdefault(sample.img_filename, set())
        assert sample.instruction not in instructions, f"{sample.instruction!r} twice on {sample.img_filename}"
        instructions.add(sample.instruction)
    on_disk = {p.name for p in (BUILTIN_DIR / "images").iterdir()}
    assert on_disk == set(per_image), "every shipped image is used, and only those"
    total = sum(p.stat().st_size for p in BUILTIN_DIR.rglob("*") if p.is_file())
    assert total < 2 * 2**20, f"the shipped set is {total / 2**20:.1f} MiB; keep it under 2 MiB"


# ---- the env --------------------------------------------------------------------------------------
@pytest.mark.parametrize("action_format", ["pyautogui", "json", "point"])
def test_scripted_scores_1_and_wrong_0_on_every_shipped_sample(action_format: str) -> None:
    env = GroundingEnv(action_format=action_format)  # type: ignore[arg-type]
    try:
        for index in range(len(env.tasks)):
            for kind, expected in (("reference", 1.0), ("wrong", 0.0)):
                env.reset(seed=index, options={"task_index": index})
                observation, reward, terminated, truncated, info = env.step(env.scripted_actions(kind)[0])
                assert (reward, terminated, truncated, observation) == (expected, True, False, []), info
                assert info["success"] is (expected == 1.0) and info["outcome_reward"] == expected
    finally:
        env.close()


def test_observation_and_info() -> None:
    env = envs.make("gui-grounding-v0")
    try:
        task_id = email_field()
        messages, info = env.reset(seed=0, options={"task_id": task_id})
        assert [m["role"] for m in messages] == ["system", "user"]
        assert "640x480" in messages[0]["content"]
        text, image = messages[1]["content"]
        assert text == {"type": "text", "text": "Instruction: Click the Email field"}
        assert image["image_url"]["url"].startswith("data:image/png;base64,iVBOR")
        assert info["task_id"] == task_id and info["img_size"] == [640, 480] and info["data_type"] == "icon"
        assert env.observation_space.contains(messages)
    finally:
        env.close()


@pytest.mark.parametrize(("action", "reward"), [
    ("pyautogui.click(236, 107)", 1.0), ("pyautogui.click(x=93, y=95)", 1.0), ("pyautogui.doubleClick(379, 120)", 1.0),
    ('{"action_type": "CLICK", "x": 200, "y": 100}', 1.0), ("(93, 120)", 1.0), ("[236.4, 107.9]", 1.0),
    ("<think>maybe (5, 5)</think>pyautogui.moveTo(236, 107)", 1.0),
    ("pyautogui.click(92, 107)", 0.0), ("(236, 121)", 0.0), ("pyautogui.click(380, 107)", 0.0),
])
def test_clicks_on_the_email_field(action: str, reward: float) -> None:
    env = GroundingEnv()
    env.reset(options={"task_id": email_field()})  # box [93, 95] to [379, 120]
    _, got, terminated, _, info = env.step(action)
    assert got == reward and terminated and not info["invalid_action"], info
    env.close()


@pytest.mark.parametrize("action", ["I think it is the Email box", 'pyautogui.write("x")', "DONE",
                                    "pyautogui.click(__import__('os'))", ""])
def test_unparsable_action_is_an_observation_and_0(action: str) -> None:
    env = GroundingEnv()
    env.reset(options={"task_index": 0})
    observation, reward, terminated, truncated, info = env.step(action)
    assert reward == 0.0 and terminated and not truncated and info["invalid_action"] and not info["env_error"]
    (message,) = observation
    assert message["role"] == "user" and message["content"].startswith("Invalid action:")
    assert "pyautogui.click" in message["content"]
    with pytest.raises(EpisodeStateError):
        env.step("pyautogui.click(1, 1)")
    env.close()


def test_parse_point_errors_name_the_format() -> None:
    with pytest.raises(ParseError, match=r"Or answer with the point alone, e.g. \(120, 245\)"):
        parse_point("no idea")
    with pytest.raises(ParseError, match="needs one click"):
        parse_point('pyautogui.write("hello")')


def test_point_scale_and_external_tasks(tmp_path: Path) -> None:
    write_set(tmp_path, [record([0.5, 0.25, 0.75, 0.5]), record([0.1, 0.1, 0.2, 0.3], "b.png")])
    env = GroundingEnv(str(tmp_path), bbox_format="xyxy", point_scale=1000)
    try:
        env.reset(options={"task_index": 0})  # pixels (100, 25)-(150, 50) of 200x100
        assert env.scripted_actions()[0] == "pyautogui.click(625, 375)"
        assert env.step("pyautogui.click(500, 250)")[1] == 1.0  # the corner, in thousandths
        env.reset(options={"task_index": 0})
        assert env.step("(499, 250)")[1] == 0.0
        env.reset(options={"task_index": 1})
        assert env.step(env.scripted_actions("wrong")[0])[1] == 0.0
    finally:
        env.close()


def test_env_config_errors(tmp_path: Path) -> None:
    with pytest.raises(EnvConfigError, match="no ScreenSpot file or folder"):
        envs.make("gui-grounding-v0", tasks=str(tmp_path / "missing"))
    with pytest.raises(EnvConfigError, match="point_scale must be > 0"):
        GroundingEnv(point_scale=0)
    with pytest.raises(EnvConfigError, match="action_format"):
        GroundingEnv(action_format="xml")  # type: ignore[arg-type]
    assert len(GroundingEnv(limit=3).tasks) == 3
    env = GroundingEnv()
    with pytest.raises(EnvConfigError, match="task_index must be in"):
        env.reset(options={"task_index": 10_000})
    env.close()


def test_check_env_passes() -> None:
    import gymnasium

    env = gymnasium.make("gui-grounding-v0").unwrapped
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_env(env)
    finally:
        env.close()


# ---- the generator ----------------------------------------------------------------------------------
def test_instructions_and_occlusion() -> None:
    assert instruction_for({"tag": "push-button", "name": "Submit"}) == ("Click the 'Submit' button", "text")
    assert instruction_for({"tag": "check-box", "name": "Wi-Fi", "description": "checked"}) == ("Untick 'Wi-Fi'", "text")
    assert instruction_for({"tag": "label", "name": "", "text": "Name:"}) is None
    button = {"tag": "push-button", "name": "Apply", "x": 10, "y": 100, "w": 60, "h": 30}
    under = {"tag": "check-box", "name": "Dark mode", "x": 10, "y": 60, "w": 80, "h": 25}
    item = {"tag": "list-item", "name": "French", "x": 12, "y": 70, "w": 100, "h": 25}  # an open drop-down
    twin = {**button, "x": 200}
    frame = {"tag": "frame", "name": "", "x": 0, "y": 0, "w": 640, "h": 480}
    covered = {"tag": "button", "name": "Go", "description": "covered", "x": 300, "y": 300, "w": 40, "h": 20}
    targets = visible_targets([frame, button, under, item, twin, covered], (640, 480))
    assert [t[0] for t in targets] == ["Choose 'French' from the list"]  # under covered; Apply twice; Go covered


@pytest.mark.asyncio(loop_scope="session")
@needs_desktop
async def test_generator_end_to_end_on_the_desktop(desktop_client: ToolClient, tmp_path: Path) -> None:
    samples = await generate(tmp_path, apps=["settings"], per_app=1, per_screen=10, desktop_client=desktop_client)
    loaded = load_screenspot(tmp_path)
    assert loaded == samples and len(samples) >= 6
    assert {s.img_filename for s in loaded} == {"tk_settings_000.png"}
    # ground truth really is where the widget is: clicking a box's centre ticks that box
    (dark,) = [s for s in samples if s.instruction == "Tick 'Dark mode'"]
    session = await desktop_client.create_session({"app": "settings", "seed": 0, "observation": "a11y"})
    try:
        x, y = dark.center()
        result = await desktop_client.call(session, ToolCall("click", {"x": x, "y": y}))
        (box,) = [e for e in result.data["elements"] if e["name"] == "Dark mode"]
        assert "checked" in box["description"].split(", ")
    finally:
        await desktop_client.delete_session(session)
    env = GroundingEnv(str(tmp_path))
    env.reset(options={"task_index": 0})
    assert env.step(env.scripted_actions()[0])[1] == 1.0
    env.close()


@pytest.mark.asyncio(loop_scope="session")
@needs_browser
async def test_generator_end_to_end_on_a_miniwob_page(tmp_path: Path) -> None:
    from tool_servers import create_app
    from tool_servers.browser import BrowserToolServer

    client = ToolClient.in_process(create_app(BrowserToolServer(max_contexts=1, settle_ms=20)))
    try:
        samples = await generate(tmp_path, sources=["miniwob"], miniwob_tasks=["click-checkboxes"], per_app=1,
                                 per_screen=10, browser_client=client)
        assert load_screenspot(tmp_path) == samples
        assert {s.img_size for s in samples} == {(160, 210)} and {s.data_source for s in samples} == \
            {"miniwob/click-checkboxes"}
        assert "Click the 'Submit' button" in [s.instruction for s in samples]
        # clicking a checkbox sample's centre in pixel mode ticks that checkbox
        tick = next(s for s in samples if s.instruction.startswith("Tick '"))
        name = tick.instruction.removeprefix("Tick '").removesuffix("'")
        session = await client.create_session({"site": "miniwob", "task": "click-checkboxes", "seed": 0,
                                               "observation": "pixels"})
        try:
            x, y = tick.center()
            result = await client.call(session, ToolCall("mouse_click", {"x": x, "y": y}))
            (box,) = [e for e in result.data["elements"] if e["tag"] == "checkbox" and e["name"] == name]
            assert "checked" in box["description"].split(", "), box
        finally:
            await client.delete_session(session)
    finally:
        await client.aclose()


@needs_desktop
def test_cli_tiny_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from agent_rl.cli.main import main

    assert main(["gui", "grounding", "--out", str(tmp_path), "--app", "calculator", "--per-app", "1",
                 "--per-screen", "2"]) == 0
    assert "wrote 2 samples on 1 screens" in capsys.readouterr().out
    assert len(load_screenspot(tmp_path)) == 2

def test_cli_bad_arguments_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from agent_rl.cli.main import main

    assert main(["gui", "grounding", "--out", str(tmp_path), "--per-app", "0"]) == 2
    assert "error: per_app and per_screen must be ≥ 1" in capsys.readouterr().err
