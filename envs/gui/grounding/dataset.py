"""ScreenSpot-format grounding data: the record, the reward, the loader and the writer.

A ScreenSpot file is a JSON list of records, one per (screenshot, instruction, target)::

    {"img_filename": "tk_form_000.png", "bbox": [93, 58, 286, 25],
     "instruction": "Click the Email field", "data_type": "icon", "data_source": "tk/form",
     "img_size": [640, 480]}

with the images in a folder beside it (`images/`; ScreenSpot's own `screenspot_imgs/`,
ScreenSpot-v2's `screenspotv2_image/` and ScreenSpot-Pro's `annotations/` + `images/`
layouts are found too). Boxes come in two conventions — v1 writes `[x, y, w, h]`,
v2/Pro-style files `[x1, y1, x2, y2]` — and some mirrors divide by the image size
(coordinates in [0, 1]). `load_screenspot` turns every record into a `GroundingSample`
whose `bbox` is always `[x1, y1, x2, y2]` in pixels.

The reward is ScreenSpot's own check: a click scores when it lies in the box, edges
included (`x1 <= x <= x2` and `y1 <= y <= y2`, with `x2 = x + w` for `[x, y, w, h]`).

>>> click_in_box(10, 20, (10, 20, 30, 40)), click_in_box(30, 40, (10, 20, 30, 40))
(True, True)
>>> click_in_box(9, 20, (10, 20, 30, 40)), click_in_box(41, 25, (10, 20, 30, 40), bbox_format="xywh")
(False, False)
"""

from __future__ import annotations

import json
import logging
import math
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from envs.errors import EnvConfigError

__all__ = ["BBOX_FORMATS", "BBoxFormat", "GroundingSample", "click_in_box", "find_image_dir", "image_size",
           "load_screenspot", "to_xyxy", "write_screenspot"]

log = logging.getLogger(__name__)

BBoxFormat = Literal["xywh", "xyxy"]
BBOX_FORMATS = ("xywh", "xyxy", "auto")
#: Where ScreenSpot-style releases keep their images, relative to the JSON file.
IMAGE_DIRS = ("images", "screenspot_imgs", "screenspotv2_image", "screenspot_pro_images", "../images", ".")
#: How far (pixels) a box may stick out of its image before it is an error; less is clipped.
EDGE_TOLERANCE = 1.0
Box = tuple[float, float, float, float]


class GroundingSample(BaseModel):
    """One grounding task: find `instruction`'s target in the screenshot.

    `bbox` is canonical here: `[x1, y1, x2, y2]` in pixels of the image, whatever the
    file said (see `load_screenspot`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    """Unique within a loaded set: the record's own `id`, else `<file stem>-<index>`."""
    img_filename: str = Field(min_length=1)
    """The image, relative to the image folder (as written in the file)."""
    bbox: Box
    """The target's box, `[x1, y1, x2, y2]` in pixels."""
    instruction: str = Field(min_length=1)
    data_type: Literal["text", "icon"]
    """ScreenSpot's split: the target is text, or an icon / widget without text."""
    data_source: str = ""
    """Where the screen comes from (ScreenSpot: "windows", "gitlab", ...; ours: "tk/form", ...)."""
    img_size: tuple[int, int]
    """The image's width and height in pixels."""
    image_path: Path
    """The image on disk (resolved when loading)."""

    def center(self) -> tuple[int, int]:
        """The box's middle, rounded to a pixel (where a reference agent clicks)."""
        x1, y1, x2, y2 = self.bbox
        return round((x1 + x2) / 2), round((y1 + y2) / 2)

    def to_record(self, bbox_format: BBoxFormat = "xywh") -> dict[str, Any]:
        """The ScreenSpot record of this sample (pixels, in `bbox_format`)."""
        x1, y1, x2, y2 = self.bbox
        box = [x1, y1, x2 - x1, y2 - y1] if bbox_format == "xywh" else [x1, y1, x2, y2]
        return {"id": self.id, "img_filename": self.img_filename, "bbox": [_plain(v) for v in box],
                "instruction": self.instruction, "data_type": self.data_type, "data_source": self.data_source,
                "img_size": list(self.img_size)}


def _plain(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(float(value), 3)


def to_xyxy(bbox: Sequence[float], bbox_format: BBoxFormat) -> Box:
    """A box as `(x1, y1, x2, y2)`; `[x, y, w, h]` becomes `(x, y, x + w, y + h)`.

    >>> to_xyxy([10, 20, 5, 6], "xywh")
    (10.0, 20.0, 15.0, 26.0)
    """
    if bbox_format not in ("xywh", "xyxy"):
        raise EnvConfigError(f"bbox_format must be 'xywh' or 'xyxy', got {bbox_format!r}")
    a, b, c, d = (float(v) for v in bbox)
    return (a, b, a + c, b + d) if bbox_format == "xywh" else (a, b, c, d)


def click_in_box(x: float, y: float, box: Sequence[float], *, bbox_format: BBoxFormat = "xyxy") -> bool:
    """Whether a click at (x, y) lands in `box`, edges included.

    The click and the box must use the same units (pixels, or both normalised to [0, 1]).
    With `bbox_format="xywh"` the box `[x, y, w, h]` spans `[x, x + w] × [y, y + h]`, as in
    ScreenSpot's evaluation. A NaN coordinate never scores.
    """
    x1, y1, x2, y2 = to_xyxy(box, bbox_format)
    return bool(x1 <= x <= x2 and y1 <= y <= y2)  # comparisons with NaN are False


# ---- images ---------------------------------------------------------------------------
def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image: PNG from its header; other formats through Pillow."""
    with open(path, "rb") as file:
        head = file.read(24)
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
        return int(width), int(height)
    try:
        from PIL import Image
    except ImportError:
        raise EnvConfigError(f"{path} is not a PNG and Pillow is not installed to read its size; add `img_size` "
                             "[w, h] to the records or `pip install pillow`") from None
    with Image.open(path) as image:
        return int(image.width), int(image.height)


def find_image_dir(json_path: Path, first_image: str) -> Path:
    """The folder beside a ScreenSpot file that holds its first record's image."""
    for name in IMAGE_DIRS:
        folder = (json_path.parent / name).resolve()
        if (folder / first_image).is_file():
            return folder
    tried = ", ".join(str(json_path.parent / name) for name in IMAGE_DIRS)
    raise EnvConfigError(f"cannot find {first_image!r} (the first image of {json_path}) in any of: {tried}; "
                         "pass image_dir= with the folder that holds the screenshots")


# ---- loading --------------------------------------------------------------------------
def _json_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise EnvConfigError(f"no ScreenSpot file or folder at {path}")
    for pattern in ("screenspot*.json", "*.json", "annotations/*.json"):
        found = sorted(path.glob(pattern))
        if found:
            return found
    raise EnvConfigError(f"{path} holds no ScreenSpot JSON file (looked for screenspot*.json, *.json and "
                         "annotations/*.json)")


def _read_records(path: Path) -> list[dict[str, Any]]:
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvConfigError(f"cannot read {path} as JSON: {exc}") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise EnvConfigError(f"{path}: a ScreenSpot file is a JSON list of objects (records), got "
                             f"{type(records).__name__}")
    if not records:
        raise EnvConfigError(f"{path} holds no records")
    return records


class _BadRecord(Exception):
    pass


def _raw_box(record: dict[str, Any]) -> tuple[float, float, float, float]:
    box = record.get("bbox")
    if not isinstance(box, list | tuple) or len(box) != 4:
        raise _BadRecord(f"bbox must be a list of 4 numbers, got {box!r}")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in box):
        raise _BadRecord(f"bbox must hold 4 finite numbers, got {box!r}")
    a, b, c, d = (float(v) for v in box)
    return a, b, c, d


def _fits(box: Box, size: tuple[int, int]) -> bool:
    x1, y1, x2, y2 = box
    width, height = size
    return (x2 > x1 and y2 > y1 and x1 >= -EDGE_TOLERANCE and y1 >= -EDGE_TOLERANCE
            and x2 <= width + EDGE_TOLERANCE and y2 <= height + EDGE_TOLERANCE)


def _scaled(raw: Box, size: tuple[int, int], normalized: bool) -> Box:
    if not normalized:
        return raw
    width, height = size
    return raw[0] * width, raw[1] * height, raw[2] * width, raw[3] * height


def _detect_format(path: Path, raws: list[Box], sizes: list[tuple[int, int]], normalized: bool,
                   skip_invalid: bool) -> BBoxFormat:
    """The one convention under which every box is a non-empty box inside its image (with
    `skip_invalid`, the one under which clearly more boxes are)."""
    fits = {fmt: sum(_fits(to_xyxy(_scaled(raw, size, normalized), fmt), size) for raw, size in zip(raws, sizes))
            for fmt in ("xywh", "xyxy")}
    everything = [fmt for fmt, count in fits.items() if count == len(raws)]
    if len(everything) == 1:
        return everything[0]  # type: ignore[return-value]  # one of the two literals
    if everything:
        raise EnvConfigError(f"{path}: every box fits both as [x, y, w, h] and as [x1, y1, x2, y2]; pass "
                             "bbox_format='xywh' (ScreenSpot v1) or 'xyxy' (v2/Pro-style)")
    if skip_invalid and fits["xywh"] != fits["xyxy"]:
        return "xywh" if fits["xywh"] > fits["xyxy"] else "xyxy"
    raise EnvConfigError(f"{path}: the boxes fit neither convention inside their images ({fits['xywh']} of "
                         f"{len(raws)} as [x, y, w, h], {fits['xyxy']} as [x1, y1, x2, y2]); pass bbox_format= "
                         "and normalized= explicitly (and skip_invalid=True to drop bad records)")


def _record_size(record: dict[str, Any], image: Path) -> tuple[int, int]:
    size = record.get("img_size")
    if size is None:
        return image_size(image)
    if (not isinstance(size, list | tuple) or len(size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)):
        raise _BadRecord(f"img_size must be [width, height] in pixels, got {size!r}")
    return int(size[0]), int(size[1])


def _safe_name(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise _BadRecord(f"img_filename must be a non-empty string, got {name!r}")
    if Path(name).is_absolute() or ".." in Path(name).parts:
        raise _BadRecord(f"img_filename must be relative to the image folder, without '..': {name!r}")
    return name


def _data_type(record: dict[str, Any]) -> str:
    value = record.get("data_type", record.get("ui_type"))
    if value not in ("text", "icon"):
        raise _BadRecord(f"data_type (or ScreenSpot-Pro's ui_type) must be 'text' or 'icon', got {value!r}")
    return str(value)


def _load_file(path: Path, image_dir: Path | None, bbox_format: str, normalized: bool | None,
               skip_invalid: bool) -> list[GroundingSample]:
    records = _read_records(path)
    first = records[0].get("img_filename")
    folder = image_dir or find_image_dir(path, first if isinstance(first, str) else "")
    rows: list[tuple[int, dict[str, Any], Path, Box, tuple[int, int]]] = []
    sizes: dict[Path, tuple[int, int]] = {}

    def bad(index: int, problem: str) -> None:
        if not skip_invalid:
            raise EnvConfigError(f"{path}, record {index}: {problem} (skip_invalid=True drops such records)")
        log.warning("%s, record %d skipped: %s", path, index, problem)

    for index, record in enumerate(records):
        try:
            image = folder / _safe_name(record.get("img_filename"))
            if not image.is_file():
                raise _BadRecord(f"image {image} does not exist")
            if image not in sizes:
                sizes[image] = _record_size(record, image)
            rows.append((index, record, image, _raw_box(record), sizes[image]))
        except _BadRecord as exc:
            bad(index, str(exc))
    if not rows:
        raise EnvConfigError(f"{path}: no usable records")
    if normalized is None:  # every coordinate in [0, 1] and some fractional: relative coordinates
        values = [v for row in rows for v in row[3]]
        normalized = all(0.0 <= v <= 1.0 for v in values) and any(not v.is_integer() for v in values)
    fmt: BBoxFormat = (_detect_format(path, [r[3] for r in rows], [r[4] for r in rows], normalized, skip_invalid)
                       if bbox_format == "auto" else bbox_format)  # type: ignore[assignment]  # checked by caller
    samples: list[GroundingSample] = []
    for index, record, image, raw, size in rows:
        try:
            samples.append(_sample(path, index, record, image, folder, to_xyxy(_scaled(raw, size, normalized), fmt),
                                   size))
        except _BadRecord as exc:
            bad(index, str(exc))
    return samples


def _sample(path: Path, index: int, record: dict[str, Any], image: Path, folder: Path, box: Box,
            size: tuple[int, int]) -> GroundingSample:
    if not _fits(box, size):
        raise _BadRecord(f"bbox {list(record['bbox'])} is empty or outside the {size[0]}x{size[1]} image "
                         f"(read as [x1, y1, x2, y2] = {[round(v, 1) for v in box]})")
    width, height = size
    x1, y1, x2, y2 = box
    clipped = (max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2))
    instruction = record.get("instruction")
    if not isinstance(instruction, str) or not instruction.strip():
        raise _BadRecord(f"instruction must be a non-empty string, got {instruction!r}")
    source = record.get("data_source", record.get("application", record.get("platform", "")))
    sample_id = record.get("id")
    return GroundingSample(
        id=str(sample_id) if sample_id not in (None, "") else f"{path.stem}-{index}",
        img_filename=str(image.relative_to(folder)), bbox=clipped, instruction=instruction.strip(),
        data_type=_data_type(record), data_source=str(source or ""), img_size=size,  # type: ignore[arg-type]
        image_path=image)


def load_screenspot(path: str | Path, *, image_dir: str | Path | None = None, bbox_format: str = "auto",
                    normalized: bool | None = None, skip_invalid: bool = False) -> list[GroundingSample]:
    """Read ScreenSpot-format grounding samples.

    Args:
        path: a JSON file (a list of records), or a folder holding `screenspot*.json` files
            (else any `*.json`, else `annotations/*.json`), read in name order.
        image_dir: the screenshots' folder; by default the first of `images/`,
            `screenspot_imgs/`, `screenspotv2_image/`, `../images`, the file's own folder
            that holds the first record's image.
        bbox_format: "xywh" (`[x, y, w, h]`, ScreenSpot v1), "xyxy" (`[x1, y1, x2, y2]`) or
            "auto": per file, the one convention under which every box is a non-empty box
            inside its image (ambiguous or impossible files raise, naming the option).
        normalized: True when coordinates are fractions of the image size; None guesses per
            file (every coordinate in [0, 1] and some not whole).
        skip_invalid: drop bad records with a warning instead of raising.

    Returns:
        The samples, boxes as `[x1, y1, x2, y2]` pixels clipped to the image.

    Raises:
        EnvConfigError: a missing file or image, unreadable JSON, a bad record, an unknown
            or undecidable bbox format, duplicate ids.
    """
    if bbox_format not in BBOX_FORMATS:
        raise EnvConfigError(f"bbox_format must be one of {', '.join(BBOX_FORMATS)}, got {bbox_format!r}")
    if normalized not in (None, True, False):
        raise EnvConfigError(f"normalized must be True, False or None (guess), got {normalized!r}")
    folder = Path(image_dir).resolve() if image_dir is not None else None
    if folder is not None and not folder.is_dir():
        raise EnvConfigError(f"image_dir {folder} is not a folder")
    samples: list[GroundingSample] = []
    for file in _json_files(Path(path)):
        samples.extend(_load_file(file, folder, bbox_format, normalized, skip_invalid))
    seen: set[str] = set()
    for sample in samples:
        if sample.id in seen:
            raise EnvConfigError(f"{path}: duplicate sample id {sample.id!r}; ids must be unique")
        seen.add(sample.id)
    return samples


def write_screenspot(samples: Iterable[GroundingSample], path: str | Path, *,
                     bbox_format: BBoxFormat = "xywh") -> Path:
    """Write samples as a ScreenSpot JSON file (pixels, `bbox_format`, one record per line)."""
    records = [sample.to_record(bbox_format) for sample in samples]
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = ",\n".join("  " + json.dumps(record, ensure_ascii=False) for record in records)
    out.write_text(f"[\n{lines}\n]\n", encoding="utf-8")
    return out
