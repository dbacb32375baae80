"""Images stored once, referenced by hash: what keeps screenshots out of JSONL lines.

GUI observations carry screenshots as OpenAI image parts with inline data URLs
(`{"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}`). Written
as is, every line of a trajectory or episode file would hold megabytes of base64, and the
same screen would be stored again in every row that saw it. `ImageStore` keeps each
distinct image once, as a file named by its SHA-256 in a directory (next to the JSONL,
by convention `<file>.images/`), and `externalize` rewrites the parts' URLs to
`sha256:<hex>` references; `inline` turns references back into data URLs for an engine
that needs the pixels (the OpenAI image message format).

>>> import tempfile
>>> store = ImageStore(tempfile.mkdtemp())
>>> msgs = [{"role": "user", "content": [{"type": "text", "text": "hi"},
...         {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}]
>>> ref = store.externalize(msgs)
>>> ref[0]["content"][1]["image_url"]["url"].startswith("sha256:")
True
>>> store.inline(ref) == msgs
True
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent_rl.errors import AgentRLError

__all__ = ["ImageStore", "ImageStoreError", "image_store_for"]

_DATA_URL = re.compile(r"^data:(image/[a-z0-9.+-]+);base64,(.*)$", re.DOTALL)
_REF = re.compile(r"^sha256:([0-9a-f]{64})$")
_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif"}


class ImageStoreError(AgentRLError):
    """A reference to an image the store does not hold, or a malformed data URL."""


def image_store_for(jsonl_path: str | os.PathLike[str]) -> ImageStore:
    """The conventional store beside a trajectory/episode file: `<file>.images/`."""
    return ImageStore(f"{os.fspath(jsonl_path)}.images")


class ImageStore:
    """A content-addressed directory of images: `<root>/<hash[:2]>/<hash><ext>`."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def put(self, data: bytes, mime: str = "image/png") -> str:
        """Store `data` (once; writing again is a no-op) and return its SHA-256 hex digest."""
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest, mime)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)  # atomic: a reader never sees half an image
        return digest

    def get(self, digest: str) -> tuple[bytes, str]:
        """The image's bytes and MIME type."""
        for mime, ext in _EXTENSIONS.items():
            path = self.root / digest[:2] / f"{digest}{ext}"
            if path.exists():
                return path.read_bytes(), mime
        raise ImageStoreError(f"image sha256:{digest} is not in {self.root}")

    def _path(self, digest: str, mime: str) -> Path:
        return self.root / digest[:2] / f"{digest}{_EXTENSIONS.get(mime, '.bin')}"

    def externalize(self, messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """A copy of `messages` whose inline image data URLs are stored and replaced by
        `sha256:<hex>` references. Messages without images are returned unchanged."""
        def visit(part: dict[str, Any]) -> None:
            match = _DATA_URL.match(part["image_url"]["url"])
            if match is None:
                return
            try:
                data = base64.b64decode(match.group(2), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ImageStoreError(f"an image part holds invalid base64: {exc}") from exc
            part["image_url"]["url"] = f"sha256:{self.put(data, match.group(1))}"
        return _map_image_parts(messages, visit)

    def inline(self, messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """A copy of `messages` with `sha256:` references turned back into data URLs (the
        OpenAI image message format)."""
        def visit(part: dict[str, Any]) -> None:
            match = _REF.match(part["image_url"]["url"])
            if match is not None:
                data, mime = self.get(match.group(1))
                part["image_url"]["url"] = f"data:{mime};base64,{base64.b64encode(data).decode()}"
        return _map_image_parts(messages, visit)


def _map_image_parts(messages: Sequence[dict[str, Any]], visit: Any) -> list[dict[str, Any]]:
    out = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list) and any(isinstance(p, dict) and p.get("type") == "image_url" for p in content):
            message = copy.deepcopy(message)
            for part in message["content"]:
                if isinstance(part, dict) and part.get("type") == "image_url":
                    visit(part)
        out.append(message)
    return out
