"""`ImageStore`: screenshots stored once by hash, references in messages, round trip."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from agent_rl.images import ImageStore, ImageStoreError, image_store_for


def part(data: bytes) -> dict:
    return {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(data).decode()}}


def test_images_stored_once_and_referenced(tmp_path: Path) -> None:
    store = image_store_for(tmp_path / "episodes.jsonl")
    shot = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 400  # ~100 kB "screenshot"
    messages = [{"role": "system", "content": "text only"},
                {"role": "user", "content": [{"type": "text", "text": "t1"}, part(shot)]},
                {"role": "user", "content": [{"type": "text", "text": "t2"}, part(shot)]}]
    refs = store.externalize(messages)
    line = json.dumps(refs)
    assert len(line) < 500 and "base64" not in line  # no pixels in the JSON line
    assert messages[1]["content"][1]["image_url"]["url"].startswith("data:")  # input untouched
    files = [p for p in (tmp_path / "episodes.jsonl.images").rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].read_bytes() == shot and files[0].suffix == ".png"
    assert store.inline(json.loads(line)) == messages
    assert store.externalize(refs) == refs  # already references: nothing to do


def test_bad_images(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    with pytest.raises(ImageStoreError, match="not in"):
        store.inline([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "sha256:" + "0" * 64}}]}])
    with pytest.raises(ImageStoreError, match="invalid base64"):
        store.externalize([{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}]}])
