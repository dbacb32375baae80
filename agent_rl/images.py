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

__all__ = ["IMAGE_PLACEHOLDER", "ImageStore", "ImageStoreError", "flatten_images", "image_store_for", "image_urls"]

#: What a text-only chat template sees in place of an image (`flatten_images`).
IMAGE_PLACEHOLDER = "<image>"

_DATA_URL = re.compile(r"^data:(image/[a-z0-9.+-]+);base64,(.*)$", re.DOTALL)
_REF = re.compile(r"^sha256:([0-9a-f]{64})$")
_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif"}


class ImageStoreError(AgentRLError):
    """A reference to an image the store does not hold, or a malformed data URL."""


def image_store_for(jsonl_path: str | os.PathLike[str]) -> ImageStore:
    """The conventional store beside a trajectory/episode file: `<file>.images/`."""
    return ImageStore(f"{os.fspath(jsonl_path)}.images")


class ImageStore:
    """A content-addressed directory of images: `<root>/<hash[:2]>/<hash><ext>`.

    `root=None` keeps the images in memory (an agent loop with nowhere to write them: they
    live as long as the store, and a trajectory's `ImageRef`s resolve against it)."""

    def __init__(self, root: str | os.PathLike[str] | None) -> None:
        self.root = Path(root) if root is not None else None
        self._memory: dict[str, tuple[bytes, str]] = {}

    def put(self, data: bytes, mime: str = "image/png") -> str:
        """Store `data` (once; writing again is a no-op) and return its SHA-256 hex digest."""
        digest = hashlib.sha256(data).hexdigest()
        if self.root is None:
            self._memory.setdefault(digest, (data, mime))
            return digest
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
        if self.root is None:
            if digest in self._memory:
                return self._memory[digest]
            raise ImageStoreError(f"image sha256:{digest} is not in this (in-memory) store")
        for mime, ext in _EXTENSIONS.items():
            path = self.root / digest[:2] / f"{digest}{ext}"
            if path.exists():
                return path.read_bytes(), mime
        raise ImageStoreError(f"image sha256:{digest} is not in {self.root}")

    def put_url(self, url: str) -> str:
        """Store the image of an image part's URL and return its digest: a data URL is
        decoded and stored; a `sha256:` reference must already be in the store."""
        ref = _REF.match(url)
        if ref is not None:
            self.get(ref.group(1))  # raises when the store does not hold it
            return ref.group(1)
        match = _DATA_URL.match(url)
        if match is None:
            raise ImageStoreError(f"an image part's URL must be a base64 data URL or a sha256: reference, "
                                  f"got {url[:60]!r}")
        try:
            data = base64.b64decode(match.group(2), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ImageStoreError(f"an image part holds invalid base64: {exc}") from exc
        return self.put(data, match.group(1))

    def data_url(self, digest: str) -> str:
        """The stored image as a data URL (what the OpenAI image message format carries)."""
        data, mime = self.get(digest)
        return f"data:{mime};base64,{base64.b64encode(data).decode()}"

    def _path(self, digest: str, mime: str) -> Path:
        assert self.root is not None
        return self.root / digest[:2] / f"{digest}{_EXTENSIONS.get(mime, '.bin')}"

    def externalize(self, messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """A copy of `messages` whose inline image data URLs are stored and replaced by
        `sha256:<hex>` references. Messages without images are returned unchanged."""
        def visit(part: dict[str, Any]) -> None:
            if _DATA_URL.match(part["image_url"]["url"]):
                part["image_url"]["url"] = f"sha256:{self.put_url(part['image_url']['url'])}"
        return _map_image_parts(messages, visit)

    def inline(self, messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """A copy of `messages` with `sha256:` references turned back into data URLs (the
        OpenAI image message format)."""
        def visit(part: dict[str, Any]) -> None:
            match = _REF.match(part["image_url"]["url"])
            if match is not None:
                part["image_url"]["url"] = self.data_url(match.group(1))
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


def _is_image(part: object) -> bool:
    return isinstance(part, dict) and part.get("type") in ("image_url", "image")


def image_urls(messages: Sequence[dict[str, Any]]) -> list[str]:
    """The URLs of every image part, in message and part order (token-stream order)."""
    return [str(part["image_url"]["url"]) for message in messages if isinstance(message.get("content"), list)
            for part in message["content"] if isinstance(part, dict) and part.get("type") == "image_url"]


def flatten_images(messages: Sequence[dict[str, Any]], placeholder: str = IMAGE_PLACEHOLDER
                   ) -> list[dict[str, Any]]:
    """Messages with list content turned into plain text for a text-only chat template: text
    parts joined by newlines, each image part replaced by `placeholder`. Why: most chat
    templates (the tiny model's, SmolLM2's) only render string content; a vision-language
    template is given the parts instead (`ChatRenderer(images="template")`).

    >>> flatten_images([{"role": "user", "content": [{"type": "text", "text": "look"},
    ...                  {"type": "image_url", "image_url": {"url": "sha256:ab"}}]}])
    [{'role': 'user', 'content': 'look\\n<image>'}]
    """
    out = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            pieces = [placeholder if _is_image(part) else str(part.get("text", "")) if isinstance(part, dict)
                      else str(part) for part in content]
            message = {**message, "content": "\n".join(pieces)}
        out.append(message)
    return out
