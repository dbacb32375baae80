"""The `hf` engine's prefix cache: parked KV, so that a prompt's known start is not prefilled again.

Why: an agent's next request is the previous one's prompt + sampled tokens + the
template delta of the tool's answer, and different episodes of one env start with the
same system prompt and tool specs (on `code-stdio-v0`, 713 of ≈ 850 prompt tokens).
Without a cache every turn re-prefills the whole conversation to add a few dozen tokens;
on the tiny model a 32-row prefill of 800-token conversations took 750 ms against
≈ 15 ms for the new tokens only.

Two kinds of entries:
  * **finished rows**: a row's KV when it ends (its prompt and every sampled token but
    the last, whose KV was never computed). A request whose prompt extends the whole
    entry — the same conversation's next turn — *takes* it: the entry leaves the cache
    (a conversation continues once; the continuing row parks a longer one when it ends).
    A request that shares only a start of it reuses that start and leaves it in place.
  * **shared starts** (`shared=True`): the common start of several cold prompts, parked
    by the scheduler after one prefill of it; reused by any number of requests, never
    taken away.

Lookup is by longest common prefix over 16-token blocks: each entry indexes the hash
chain of its full blocks, a prompt walks its own chain to the deepest block some entry
shares, and the exact common length is then checked on the tokens (hashes only find
candidates). A prompt equal to a cached sequence reuses all but its last token (one
token must be prefilled to get the next-token logits). Reuses shorter than one block are
not worth a second code path and count as misses.

Bounded: at most `max_tokens` cached tokens in all (least recently used first) and
entries idle for `ttl_s` are dropped — a conversation that never comes back must not pin
memory. Weight updates invalidate everything: KV computed under old weights would
silently mix two policies in one sequence. The scheduler calls `clear()` before loading
new weights, and entries carry their version as a second guard.

Example::

    cache = PrefixCache(max_tokens=65536)
    cache.put(prompt + tokens[:-1], row_kv, version=0)
    hit = cache.take(next_prompt, version=0)   # Hit(kv, reused length, shared) or None
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from agent_rl.engines._batch import RowKV

#: Tokens per hashed block: the granularity of lookups (and the shortest reuse).
BLOCK = 16
#: Candidates whose exact common length is checked at the deepest shared block.
_CANDIDATES = 8


def common_length(a: list[int], b: list[int]) -> int:
    """Length of the longest common prefix of `a` and `b` (binary search over C-speed
    slice comparisons, not a Python loop over tokens)."""
    low, high = 0, min(len(a), len(b))
    if a[:high] == b[:high]:  # the usual case: a parked conversation the prompt extends entirely
        return high
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _chain(tokens: list[int], block: int) -> Iterator[int]:
    """Hash of every full block together with everything before it."""
    digest = 0
    for start in range(0, len(tokens) - block + 1, block):
        digest = hash((digest, *tokens[start:start + block]))
        yield digest


@dataclass(slots=True)
class _Entry:
    tokens: list[int]
    kv: RowKV
    version: int
    used_at: float
    shared: bool
    blocks: list[int]


class Hit(NamedTuple):
    """What `take` found: the KV of the prompt's first `reused` tokens, and whether it
    came from a shared start (else from a finished row: the same conversation)."""

    kv: RowKV
    reused: int
    shared: bool


class PrefixCache:
    """Parked KV by token ids (see the module docstring).

    Args:
        max_tokens: cached tokens at most over all entries (memory: this × 2 × layers ×
            kv_heads × head_dim × dtype bytes); ≥ 1.
        ttl_s: an entry unused for this long is dropped; None keeps entries until evicted.
        block: tokens per hashed block (the shortest reuse).
        clock: monotonic seconds (tests pass a fake one).
    """

    def __init__(self, max_tokens: int, ttl_s: float | None = None, *, block: int = BLOCK,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be ≥ 1, got {max_tokens}")
        if ttl_s is not None and ttl_s <= 0:
            raise ValueError(f"ttl_s must be > 0 or None, got {ttl_s}")
        if block < 1:
            raise ValueError(f"block must be ≥ 1, got {block}")
        self.max_tokens, self.ttl_s, self.block, self.clock = max_tokens, ttl_s, block, clock
        self._entries: collections.OrderedDict[int, _Entry] = collections.OrderedDict()  # least recent first
        self._by_block: dict[int, dict[int, None]] = {}  # block-chain hash → entries holding that start
        self._keys = 0
        self.tokens = 0
        self.stats = {"prefix_hits": 0, "prefix_misses": 0, "prefix_reused_tokens": 0, "prefix_evictions": 0}

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, tokens: list[int], kv: RowKV, version: int, *, shared: bool = False) -> None:
        """Park `kv`, the cache of exactly `tokens`, computed under weights `version`.
        `shared`: a common start of many prompts, never taken away by a hit."""
        if kv.length != len(tokens):
            raise ValueError(f"the KV holds {kv.length} tokens but {len(tokens)} token ids were given")
        if len(tokens) < self.block or len(tokens) > self.max_tokens:
            return  # too short to be found, or larger than the whole budget
        self._expire()
        while self.tokens + len(tokens) > self.max_tokens:
            self._remove(next(iter(self._entries)))
            self.stats["prefix_evictions"] += 1
        key, self._keys = self._keys, self._keys + 1
        blocks = list(_chain(tokens, self.block))
        self._entries[key] = _Entry(list(tokens), kv, version, self.clock(), shared, blocks)
        for digest in blocks:
            self._by_block.setdefault(digest, {})[key] = None
        self.tokens += len(tokens)

    def take(self, prompt: list[int], version: int) -> Hit | None:
        """The KV of the longest cached start of `prompt`.

        Returns:
            that KV (cut to leave at least one token of `prompt` to prefill) and the
            number of prompt tokens it covers; None on a miss. A finished row's entry
            that `prompt` extends entirely is removed (see the module docstring).
        """
        self._expire()
        holders: dict[int, None] = {}
        for digest in _chain(prompt, self.block):
            deeper = self._by_block.get(digest)
            if not deeper:
                break
            holders = deeper
        best: tuple[int, int] | None = None  # (common length, key)
        for key in list(holders)[-_CANDIDATES:]:
            entry = self._entries[key]
            if entry.version == version:
                length = common_length(entry.tokens, prompt)
                if best is None or length > best[0]:
                    best = (length, key)
        reused = 0 if best is None else min(best[0], len(prompt) - 1)
        if best is None or reused < self.block:
            self.stats["prefix_misses"] += 1
            return None
        entry = self._entries[best[1]]
        if not entry.shared and best[0] == len(entry.tokens):
            self._remove(best[1])  # the conversation continues: its row will park a longer entry
        else:
            entry.used_at = self.clock()
            self._entries.move_to_end(best[1])
        self.stats["prefix_hits"] += 1
        self.stats["prefix_reused_tokens"] += reused
        return Hit(entry.kv if reused == entry.kv.length else entry.kv.head(reused), reused, entry.shared)

    def clear(self) -> None:
        """Drop every entry (new weights)."""
        self._entries.clear()
        self._by_block.clear()
        self.tokens = 0

    def _remove(self, key: int) -> None:
        entry = self._entries.pop(key)
        for digest in entry.blocks:
            holders = self._by_block.get(digest)
            if holders is not None:
                holders.pop(key, None)
                if not holders:
                    del self._by_block[digest]
        self.tokens -= len(entry.tokens)

    def _expire(self) -> None:
        if self.ttl_s is None:
            return
        oldest_kept = self.clock() - self.ttl_s
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if entry.used_at >= oldest_kept:
                return
            self._remove(key)
            self.stats["prefix_evictions"] += 1
