"""The `hf` engine's prefix cache: finished rows' KV, kept so the next turn skips its prefill.

Why: an agent's next request is the previous one's prompt + sampled tokens + the
template delta of the tool's answer. Without a cache every turn re-prefills the whole
conversation (hundreds to thousands of tokens) to add a few dozen; on the tiny model a
32-row prefill of 800-token conversations took 750 ms against ≈ 15 ms for the new
tokens only. So when a row finishes, its KV (prompt + all sampled tokens but the last,
whose KV was never computed) is parked here under its token ids; a request whose prompt
*extends* a parked sequence takes that KV and prefills only the rest.

Rules:
  * A parked entry is taken by at most one request (a conversation continues once), so
    an entry is removed on a hit; the continuing row parks a longer one when it ends.
    Identical sequences (two samples that happened to coincide) are parked twice, one
    for each conversation that may continue them.
  * Bounded: at most `max_tokens` cached tokens in all (LRU: the oldest entries go
    first) and entries older than `ttl_s` are dropped — a conversation that never comes
    back must not pin memory.
  * Weight updates invalidate everything: KV computed under old weights would silently
    mix two policies in one sequence. The scheduler calls `clear()` before loading new
    weights, and entries carry their version as a second guard.
  * Only exact token prefixes match (no radix tree, no partial block reuse); a prompt
    equal to a parked sequence reuses all but its last token (one token must be
    prefilled to get the next-token logits).

Example::

    cache = PrefixCache(max_tokens=65536)
    cache.put(prompt + tokens[:-1], row_kv, version=0)
    hit = cache.take(next_prompt, version=0)   # (RowKV, reused length) or None
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass

from agent_rl.engines._batch import RowKV

#: Tokens compared before a full comparison (most candidates differ at their end).
_TAIL = 8


@dataclass(slots=True)
class _Entry:
    tokens: list[int]
    kv: RowKV
    version: int
    parked_at: float


class PrefixCache:
    """Finished sequences' KV by token ids (see the module docstring).

    Args:
        max_tokens: cached tokens at most over all entries (memory: this × 2 × layers ×
            kv_heads × head_dim × dtype bytes); ≥ 1.
        ttl_s: an entry older than this is dropped; None keeps entries until evicted.
        clock: monotonic seconds (tests pass a fake one).
    """

    def __init__(self, max_tokens: int, ttl_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be ≥ 1, got {max_tokens}")
        if ttl_s is not None and ttl_s <= 0:
            raise ValueError(f"ttl_s must be > 0 or None, got {ttl_s}")
        self.max_tokens, self.ttl_s, self.clock = max_tokens, ttl_s, clock
        self._entries: collections.OrderedDict[int, _Entry] = collections.OrderedDict()  # oldest first
        self._by_length: dict[int, set[int]] = {}
        self._keys = 0
        self.tokens = 0
        self.stats = {"prefix_hits": 0, "prefix_misses": 0, "prefix_reused_tokens": 0, "prefix_evictions": 0}

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, tokens: list[int], kv: RowKV, version: int) -> None:
        """Park `kv`, the cache of exactly `tokens`, computed under weights `version`."""
        if kv.length != len(tokens):
            raise ValueError(f"the KV holds {kv.length} tokens but {len(tokens)} token ids were given")
        if not tokens or len(tokens) > self.max_tokens:
            return
        self._expire()
        while self.tokens + len(tokens) > self.max_tokens:
            self._remove(next(iter(self._entries)))
            self.stats["prefix_evictions"] += 1
        key, self._keys = self._keys, self._keys + 1
        self._entries[key] = _Entry(list(tokens), kv, version, self.clock())
        self._by_length.setdefault(len(tokens), set()).add(key)
        self.tokens += len(tokens)

    def take(self, prompt: list[int], version: int) -> tuple[RowKV, int] | None:
        """The longest parked sequence that `prompt` starts with, removed from the cache.

        Returns:
            its KV (cut to leave at least one token of `prompt` to prefill) and the
            number of prompt tokens it covers; None on a miss.
        """
        self._expire()
        for length in sorted((n for n in self._by_length if n <= len(prompt)), reverse=True):
            for key in self._by_length[length]:
                entry, tail = self._entries[key], max(0, length - _TAIL)
                if entry.version != version or entry.tokens[tail:] != prompt[tail:length]:
                    continue
                if entry.tokens != prompt[:length]:
                    continue
                self._remove(key)
                reused = min(length, len(prompt) - 1)
                if reused < 1:
                    break
                self.stats["prefix_hits"] += 1
                self.stats["prefix_reused_tokens"] += reused
                return (entry.kv if reused == length else entry.kv.head(reused)), reused
        self.stats["prefix_misses"] += 1
        return None

    def clear(self) -> None:
        """Drop every entry (new weights)."""
        self._entries.clear()
        self._by_length.clear()
        self.tokens = 0

    def _remove(self, key: int) -> None:
        entry = self._entries.pop(key)
        keys = self._by_length[len(entry.tokens)]
        keys.discard(key)
        if not keys:
            del self._by_length[len(entry.tokens)]
        self.tokens -= len(entry.tokens)

    def _expire(self) -> None:
        if self.ttl_s is None:
            return
        oldest_kept = self.clock() - self.ttl_s
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if entry.parked_at >= oldest_kept:
                return
            self._remove(key)
            self.stats["prefix_evictions"] += 1
