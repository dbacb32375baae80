"""Append-only JSONL storage for trajectories that survives a crash mid-write.

One trajectory per line (`Trajectory.to_json_line`). `TrajectoryWriter` writes each record,
or each group, with a single `write(2)` on an `O_APPEND` descriptor and then flushes it to
disk (`fdatasync`), so every record `append` returned from is on disk even if the process
is killed or the machine loses power right after. A crash *during* a write can leave at
most one torn line, at the end of the file:

- `read_trajectories` skips a torn last line with a warning (its line number included) and
  raises `TrajectoryFormatError` for any bad line before it, which is corruption, not a
  crash artefact.
- A new `TrajectoryWriter` on that file cuts the torn tail off before appending, so the
  next record never fuses with the fragment into one unreadable middle line.

The writer is synchronous on purpose (a write plus fsync is a few milliseconds of blocking
disk work). Code running in an event loop must not call it directly; push it to a thread,
which keeps the loop free for rollouts while the disk syncs::

    await asyncio.to_thread(writer.append_many, group)

One writer per file: the tail repair at open assumes no other process is appending.
Concurrent `append` calls from several threads on one writer are serialised by a lock.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from agent_rl.errors import TrajectoryFormatError
from agent_rl.trajectory import Trajectory

__all__ = ["TrajectoryWriter", "read_trajectories"]

logger = logging.getLogger(__name__)

_sync_data = getattr(os, "fdatasync", os.fsync)  # fdatasync: data + size, skips mtime


class TrajectoryWriter:
    """Append trajectories to a JSONL file, one durable write per record or group.

    Args:
        path: the file; created (with its parent folders) when missing, appended to otherwise.
        fsync: flush every write to disk before returning (default). False trades crash
            durability of the last records for speed; a torn line is still handled.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "rollouts.jsonl"
        >>> with TrajectoryWriter(path) as writer:
        ...     writer.append_many([])  # a real caller passes one group of Trajectory rows
        >>> list(read_trajectories(path))
        []
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        self._fd: int | None = os.open(self.path, flags, 0o644)
        try:
            _cut_torn_tail(self._fd, self.path)
            if created and fsync:
                _fsync_directory(self.path.parent)  # make the new file's name durable too
        except BaseException:
            os.close(self._fd)
            raise

    @property
    def closed(self) -> bool:
        """True after `close`."""
        return self._fd is None

    def append(self, trajectory: Trajectory) -> None:
        """Write one trajectory as one line; durable on return when `fsync` is on."""
        self._write((trajectory.to_json_line() + "\n").encode("ascii"))

    def append_many(self, trajectories: Iterable[Trajectory]) -> None:
        """Write several trajectories (typically one group) with a single write and fsync.

        A crash during this call can leave the first rows of the group on disk and tear
        the next one; readers that need whole groups check `group_id` counts.
        """
        data = "".join(t.to_json_line() + "\n" for t in trajectories)
        if data:
            self._write(data.encode("ascii"))

    def close(self) -> None:
        """Close the file. Idempotent."""
        with self._lock:
            if self._fd is not None:
                fd, self._fd = self._fd, None
                os.close(fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"TrajectoryWriter({str(self.path)!r}, fsync={self.fsync}, {state})"

    def _write(self, data: bytes) -> None:
        with self._lock:
            if self._fd is None:
                raise ValueError(f"TrajectoryWriter for {self.path} is closed; open a new one")
            view = memoryview(data)
            while view:  # one write(2) in practice; loop only on a short write
                written = os.write(self._fd, view)
                view = view[written:]
            if self.fsync:
                _sync_data(self._fd)


def read_trajectories(path: str | os.PathLike[str]) -> Iterator[Trajectory]:
    """Yield the trajectories stored in a JSONL file, in order, validating each line.

    Blank lines are skipped. A final line with no trailing newline that does not parse is
    a write torn by a crash: it is skipped with a warning naming its line number.

    Args:
        path: a file written by `TrajectoryWriter` (or any tool emitting the same lines).

    Yields:
        Each stored `Trajectory`.

    Raises:
        TrajectoryFormatError: a complete line is corrupt; the message starts with
            `path:line_number:` and the error carries both as attributes.
    """
    with open(path, "rb") as file:
        for line_number, raw in enumerate(file, start=1):
            if not raw.strip():
                continue
            try:
                trajectory = Trajectory.from_json_line(raw.decode("utf-8"))
            except (UnicodeDecodeError, TrajectoryFormatError) as exc:
                if not raw.endswith(b"\n"):  # only the last line can lack its newline
                    logger.warning(
                        "%s:%d: skipping a torn last line (%d bytes, no newline): a write "
                        "interrupted by a crash. Cause: %s",
                        path,
                        line_number,
                        len(raw),
                        exc,
                    )
                    return
                raise TrajectoryFormatError(
                    f"{path}:{line_number}: {exc}", path=str(path), line_number=line_number
                ) from exc
            yield trajectory


def _cut_torn_tail(fd: int, path: Path, chunk_size: int = 1 << 16) -> None:
    """Truncate a file not ending in a newline back to its last newline (a torn record)."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    end = size
    keep = 0
    while end > 0:
        start = max(0, end - chunk_size)
        newline = os.pread(fd, end - start, start).rfind(b"\n")
        if newline != -1:
            keep = start + newline + 1
            break
        end = start
    logger.warning(
        "%s: cutting %d bytes of a torn last record (a crash interrupted its write) at "
        "byte offset %d before appending",
        path,
        size - keep,
        keep,
    )
    os.ftruncate(fd, keep)
    _sync_data(fd)


def _fsync_directory(directory: Path) -> None:
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:  # some platforms cannot open a directory; the data itself is synced
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def export_parquet(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> int:
    """Write the trajectories of a JSONL file as a Parquet table (one row each); returns
    the row count. Token columns stay lists; turn spans are a list of structs; the
    free-form dicts (reward parts, counters, metadata) are JSON strings, image references a
    list of (sha256, turn) structs, so any Parquet
    reader (pandas, polars, DuckDB, Spark) gets one stable schema.
    """
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = []
    for t in read_trajectories(source):
        rows.append({
            "trajectory_id": t.trajectory_id, "group_id": t.group_id, "task_id": t.task_id, "env_id": t.env_id,
            "prompt_ids": t.prompt_ids, "response_ids": t.response_ids, "loss_mask": t.loss_mask,
            "behavior_logprobs": t.behavior_logprobs, "policy_version": t.policy_version,
            "turns": [{"start": s.start, "end": s.end, "step_reward": s.step_reward,
                       "num_tool_calls": s.num_tool_calls, "reward_parts": json.dumps(s.reward_parts)}
                      for s in t.turns],
            "status": t.status.value, "outcome_reward": t.outcome_reward,
            "reward_parts": json.dumps(t.reward_parts), "counters": json.dumps(t.counters),
            "metadata": json.dumps(t.metadata), "created_at": t.created_at,
            "images": [{"sha256": ref.sha256, "turn": ref.turn} for ref in t.images],
        })
    pq.write_table(pa.Table.from_pylist(rows, schema=_parquet_schema(pa)), str(target))
    return len(rows)


def _parquet_schema(pa: Any) -> Any:
    ints, floats = pa.list_(pa.int64()), pa.list_(pa.float64())
    turn = pa.struct([("start", pa.int64()), ("end", pa.int64()), ("step_reward", pa.float64()),
                      ("num_tool_calls", pa.int64()), ("reward_parts", pa.string())])
    return pa.schema([
        ("trajectory_id", pa.string()), ("group_id", pa.string()), ("task_id", pa.string()),
        ("env_id", pa.string()), ("prompt_ids", ints), ("response_ids", ints), ("loss_mask", ints),
        ("behavior_logprobs", floats), ("policy_version", ints), ("turns", pa.list_(turn)),
        ("status", pa.string()), ("outcome_reward", pa.float64()), ("reward_parts", pa.string()),
        ("counters", pa.string()), ("metadata", pa.string()), ("created_at", pa.float64()),
        ("images", pa.list_(pa.struct([("sha256", pa.string()), ("turn", pa.int64())]))),
    ])
