"""The running batch of the `hf` engine: a pre-allocated KV cache that rows join and leave.

Why a dense cache and not a paged one: on CPU (and for the tiny models tests use) the
cost of a decode step is Python and kernel-launch overhead, not memory, and a dense
`[B, heads, L, head_dim]` cache lets every step be one ordinary batched forward of the
Hugging Face model — the same kernels `model.generate` uses.

Why pre-allocated buffers with headroom and not a `DynamicCache`: a `DynamicCache`
concatenates every step, i.e. copies the whole cache of every layer per generated token
(≈ 20 % of a decode step at 32 rows × 600 tokens on the 2-core CPU), and joining rows
re-padded the whole cache. Here the buffers are `[rows, heads, columns, head_dim]` with
spare columns; a decode step writes one column in place, a join copies only the new
rows, and a leave moves the last rows into the freed slots (one row copy each). The
buffers are re-laid out (compacted, or grown by half) only when the write column runs
out of room — at most once per `headroom` steps.

All buffers are inference tensors: every method that touches them runs under
`torch.inference_mode()` (an in-place write from outside it is an error).

Layout: every row shares the write column `end`; row r's real tokens sit in columns
`[first[r], end)` (right-aligned, `mask[r]` is 1 exactly there) and its next token goes
to position `end - first[r]` (the number of real tokens before it), which padding does
not change. Columns `[start, end)` are those some row uses; only they are attended.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import DynamicCache
from transformers.cache_utils import Cache, DynamicLayer

from agent_rl.engines._lean_decode import LeanDecoder, SharedPrefix

#: Spare columns reserved after a re-layout: the cache is copied at most once per this many steps.
HEADROOM = 256
_ALIGN = 64


def _round_up(n: int, to: int) -> int:
    return -(-n // to) * to


@dataclass(frozen=True, slots=True)
class RowKV:
    """The cached keys and values of one sequence: per layer `[heads, T, head_dim]`."""

    keys: tuple[torch.Tensor, ...]
    values: tuple[torch.Tensor, ...]

    @property
    def length(self) -> int:
        return int(self.keys[0].shape[1])

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (*self.keys, *self.values))

    def head(self, n: int) -> RowKV:
        """The first `n` tokens (views, no copy)."""
        return RowKV(tuple(k[:, :n] for k in self.keys), tuple(v[:, :n] for v in self.values))


@dataclass(frozen=True, slots=True)
class Prefilled:
    """New rows after a prefill: their KV (`[N, heads, T, head_dim]` per layer), which
    columns of T are each row's real tokens (`columns_NM`, right-aligned, M = longest row;
    padding repeats a valid column), each row's token count, and last-position logits."""

    keys: tuple[torch.Tensor, ...]
    values: tuple[torch.Tensor, ...]
    columns_NM: torch.Tensor
    lengths: list[int]
    logits_NV: torch.Tensor


class _BufferLayer(DynamicLayer):
    """One layer of `RunningBatch` seen through the `Cache` API: `update` writes the new
    column(s) into the batch's buffers in place and returns views of the used columns."""

    def __init__(self, batch: RunningBatch, index: int) -> None:
        super().__init__()
        self.batch, self.index = batch, index
        self.is_initialized = True

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        return None

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: object, **kwargs: object
               ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.batch.write(self.index, key_states, value_states)

    def get_seq_length(self) -> int:
        return self.batch.end - self.batch.start

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return self.batch.end - self.batch.start + query_length, 0


class RunningBatch:
    """KV buffers, attention mask, positions and next input tokens of the running rows.

    Args:
        device: where the buffers live.
        max_rows: rows at most (the engine's `max_batch_size`); buffers grow up to it.
        headroom: spare columns after each re-layout.
    """

    #: An in-place re-layout moves the columns in at most this many overlap-free chunks;
    #: beyond that (a short shift of many columns), through one temporary copy.
    COMPACT_CHUNKS = 8

    def __init__(self, device: torch.device, max_rows: int, headroom: int = HEADROOM,
                 lean: LeanDecoder | None = None) -> None:
        self.device, self.max_rows, self.headroom = device, max_rows, headroom
        self.lean = lean  # the lean decode step (`_lean_decode`), when the model supports it
        self.shared: SharedPrefix | None = None  # what every row starts with (lean steps only)
        self.keys: list[torch.Tensor] = []  # per layer [rows_cap, H, cols_cap, D]
        self.values: list[torch.Tensor] = []
        self.mask_RC = torch.zeros(0, 0, dtype=torch.bool, device=device)
        self.positions_R = torch.zeros(0, dtype=torch.long, device=device)
        self.next_tokens_R = torch.zeros(0, dtype=torch.long, device=device)
        self.cache: Cache | None = None
        self.relayouts = 0
        self.reset()

    def reset(self) -> None:
        """Drop every row (the buffers are kept for the next rows)."""
        self.shared = None
        self.size = 0
        self.start = self.end = 0
        self.first: list[int] = []

    def release(self) -> None:
        """Drop every row and the buffers themselves (views handed out stay valid)."""
        self.keys, self.values = [], []
        self.mask_RC = torch.zeros(0, 0, dtype=torch.bool, device=self.device)
        self.cache = None
        self.reset()

    def __len__(self) -> int:
        return self.size

    @property
    def length(self) -> int:
        """Columns attended by the next step, minus the new one."""
        return self.end - self.start

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (*self.keys, *self.values))

    # ---- layout ----

    def _allocate(self, like: tuple[torch.Tensor, ...], rows: int, columns: int) -> None:
        """New zeroed buffers; the used region of the old ones is copied so that the
        write column becomes `columns_end` (set by the caller through `_relayout`)."""
        self.keys = [torch.zeros(rows, t.shape[1], columns, t.shape[3], dtype=t.dtype, device=self.device)
                     for t in like]
        self.values = [torch.zeros_like(k) for k in self.keys]
        self.mask_RC = torch.zeros(rows, columns, dtype=torch.bool, device=self.device)
        self.positions_R = torch.zeros(rows, dtype=torch.long, device=self.device)
        self.next_tokens_R = torch.zeros(rows, dtype=torch.long, device=self.device)
        self.cache = Cache(layers=[_BufferLayer(self, i) for i in range(len(like))])

    def _reserve(self, like: tuple[torch.Tensor, ...], rows: int, left: int) -> None:
        """Make room for `rows` rows, `left` columns before the write column, and one after."""
        rows_cap = int(self.mask_RC.shape[0])
        columns_cap = int(self.mask_RC.shape[1])
        if self.size == 0:
            self.start = self.end = 0
        fits = rows <= rows_cap and left <= self.end and self.end + 1 <= columns_cap and len(self.keys) == len(like)
        if fits:
            return
        if self.size == 0 and rows <= rows_cap and left + 1 <= columns_cap and len(self.keys) == len(like):
            self.start = self.end = left  # empty: restart the columns
            return
        used = self.end - self.start
        new_end = max(used, left)
        new_columns = columns_cap
        if new_end + self.headroom > columns_cap:
            new_columns = _round_up(max(new_end + self.headroom, columns_cap * 3 // 2), _ALIGN)
        new_rows = rows_cap if rows <= rows_cap else min(self.max_rows, max(rows, 2 * rows_cap, 4))
        if new_rows == rows_cap and new_columns == columns_cap and len(self.keys) == len(like):
            self._compact(new_end)
            return
        old_keys, old_values, old_mask = self.keys, self.values, self.mask_RC
        old_positions, old_next = self.positions_R, self.next_tokens_R
        self._allocate(like, new_rows, new_columns)
        size, new_start = self.size, new_end - used
        if size:
            for new, old in zip((*self.keys, *self.values), (*old_keys, *old_values), strict=True):
                new[:size, :, new_start:new_end] = old[:size, :, self.start:self.end]
            self.mask_RC[:size, new_start:new_end] = old_mask[:size, self.start:self.end]
            self.positions_R[:size] = old_positions[:size]
            self.next_tokens_R[:size] = old_next[:size]
        self._moved(new_start, new_end)

    def _moved(self, new_start: int, new_end: int) -> None:
        shift = new_start - self.start
        self.first = [f + shift for f in self.first]
        self.start, self.end = new_start, new_end
        self.relayouts += 1

    def _compact(self, new_end: int) -> None:
        """Re-layout within the same buffers: the used columns move so that the write
        column becomes `new_end`.

        Why not fresh buffers: zero-filling `[rows, heads, columns, D]` for every layer
        costs tens of milliseconds (≈ 0.3 s of a rollout benchmark's 4 s of decoding, most
        of it to move a handful of rows); here only the running rows' used columns move.
        What stays behind is stale but finite (zeros or some row's old keys and values),
        which is all a masked column needs to be; the running rows' mask is cleared left
        of their new columns, where a later, longer row can widen the attended window."""
        size, used = self.size, self.end - self.start
        new_start = new_end - used
        shift = new_start - self.start
        if size and shift:
            # Overlapping copies are not allowed: move chunks no wider than the shift, in
            # an order that reads every column before it is overwritten; a short shift of
            # many columns goes through one temporary copy instead of many small ones.
            step = abs(shift)
            chunks = [(c, min(c + step, self.end)) for c in range(self.start, self.end, step)]
            if shift > 0:
                chunks.reverse()
            through_a_copy = len(chunks) > self.COMPACT_CHUNKS
            for tensor in (*self.keys, *self.values, self.mask_RC):
                if through_a_copy:
                    moved = self._columns(tensor, size, self.start, self.end).clone()
                    self._columns(tensor, size, new_start, new_end).copy_(moved)
                    continue
                for first, last in chunks:
                    self._columns(tensor, size, first + shift, last + shift).copy_(
                        self._columns(tensor, size, first, last))
        if size:
            self.mask_RC[:size, :new_start] = False
        self._moved(new_start, new_end)

    @staticmethod
    def _columns(tensor: torch.Tensor, rows: int, first: int, last: int) -> torch.Tensor:
        """Columns `[first, last)` of the first `rows` rows of a KV buffer `[R, H, C, D]` or the mask `[R, C]`."""
        return tensor[:rows, :, first:last] if tensor.dim() == 4 else tensor[:rows, first:last]

    # ---- rows join and leave ----

    @torch.inference_mode()
    def join(self, new: Prefilled, next_tokens_N: torch.Tensor) -> None:
        """Add prefilled rows after the running ones (slots size…size+N-1)."""
        count, longest = len(new.lengths), int(new.columns_NM.shape[1])
        self._reserve(new.keys, self.size + count, longest)
        first_row, end = self.size, self.end
        rows = slice(first_row, first_row + count)
        for buffer, source in zip((*self.keys, *self.values), (*new.keys, *new.values), strict=True):
            index = new.columns_NM[:, None, :, None].expand(count, source.shape[1], longest, source.shape[3])
            buffer[rows, :, end - longest:end] = source.gather(2, index)
        lengths_N = torch.tensor(new.lengths, dtype=torch.long, device=self.device)
        self.mask_RC[rows] = False
        columns_M = torch.arange(longest, device=self.device)
        self.mask_RC[rows, end - longest:end] = columns_M[None, :] >= (longest - lengths_N)[:, None]
        self.positions_R[rows] = lengths_N
        self.next_tokens_R[rows] = next_tokens_N
        self.first += [end - n for n in new.lengths]
        self.start = end - longest if first_row == 0 else min(self.start, end - longest)
        self.size += count

    @torch.inference_mode()
    def prefill_join(self, suffixes: list[list[int]], prefixes: list[RowKV | None], pad_id: int = 0
                     ) -> torch.Tensor:
        """Lean path (`self.lean` set): new rows — each row's `suffix` tokens on top of its
        cached `prefix` (None: a cold start) — run straight into slots size…size+N-1.
        Returns their last-position logits [N, V]; the caller sets their next tokens
        (`set_joined_tokens`), or removes them again with `keep` if it cannot.

        Each row sits right-aligned at the write column like every other row; its cached
        KV is copied into its columns once, and the lean prefill writes the new tokens'
        KV next to it and attends in place (no padded copy, concatenation or gather)."""
        assert self.lean is not None
        count = len(suffixes)
        cached = [0 if p is None else p.length for p in prefixes]
        new = [len(s) for s in suffixes]
        totals = [c + n for c, n in zip(cached, new, strict=True)]
        longest, width = max(totals), max(new)
        first_row, end = self._claim(self.lean.kv_like(), totals)
        rows = slice(first_row, first_row + count)
        for slot, prefix, total in zip(range(first_row, first_row + count), prefixes, totals, strict=True):
            if prefix is not None:
                self._copy_in(slot, end - total, prefix)
        ids_NS = torch.tensor([[pad_id] * (width - len(s)) + s for s in suffixes], dtype=torch.long, device=self.device)
        cached_N = torch.tensor(cached, dtype=torch.long, device=self.device)
        new_N = torch.tensor(new, dtype=torch.long, device=self.device)
        positions_NS = (cached_N[:, None] + torch.arange(width, device=self.device)[None, :]
                        - (width - new_N)[:, None]).clamp(min=0)
        # Until the forward has run, the rows are not part of the batch (a failure leaves it as it was).
        logits_NV = self.lean.prefill(ids_NS, positions_NS, new, self.keys, self.values, rows, end,
                                      self.mask_RC[rows, end - longest:end])
        self._take_in(totals)
        return logits_NV

    @torch.inference_mode()
    def join_rows(self, rows: list[RowKV], next_tokens_N: torch.Tensor) -> None:
        """Add whole sequences' KV (prefilled elsewhere, e.g. by the prefill thread) after
        the running rows, right-aligned at the write column like every row."""
        lengths = [kv.length for kv in rows]
        first_row, end = self._claim(tuple(k[None] for k in rows[0].keys), lengths)
        for slot, kv in enumerate(rows, start=first_row):
            self._copy_in(slot, end - kv.length, kv)
        self.next_tokens_R[first_row:first_row + len(rows)] = next_tokens_N
        self._take_in(lengths)

    def _claim(self, like: tuple[torch.Tensor, ...], lengths: list[int]) -> tuple[int, int]:
        """Room for new rows of `lengths` tokens in slots size…size+N-1, right-aligned at
        the write column, their columns marked in the mask; returns (first slot, write
        column). They count as rows only after `_take_in`."""
        self._reserve(like, self.size + len(lengths), max(lengths))
        first_row, end = self.size, self.end
        self.mask_RC[first_row:first_row + len(lengths)] = False
        for slot, length in enumerate(lengths, start=first_row):
            self.mask_RC[slot, end - length:end] = True
        return first_row, end

    def _copy_in(self, slot: int, first: int, kv: RowKV) -> None:
        for buffer, source in zip((*self.keys, *self.values), (*kv.keys, *kv.values), strict=True):
            buffer[slot, :, first:first + kv.length] = source

    def _take_in(self, lengths: list[int]) -> None:
        """The rows `_claim`ed for `lengths` join the batch."""
        first_row, end, longest = self.size, self.end, max(lengths)
        self.positions_R[first_row:first_row + len(lengths)] = torch.tensor(lengths, dtype=torch.long,
                                                                            device=self.device)
        self.first += [end - length for length in lengths]
        self.start = end - longest if first_row == 0 else min(self.start, end - longest)
        self.size += len(lengths)

    @torch.inference_mode()
    def set_joined_tokens(self, tokens_N: torch.Tensor) -> None:
        """The next input tokens of the last N rows (just joined by `prefill_join`)."""
        self.next_tokens_R[self.size - tokens_N.shape[0]:self.size] = tokens_N

    @torch.inference_mode()
    def keep(self, rows: list[int]) -> list[int]:
        """Keep only the slots `rows`; the last kept rows move into freed slots.

        Returns:
            for each slot after the call, the slot it held before (the new row order).
        """
        count = len(rows)
        if count == self.size:
            return list(range(count))
        if count == 0:
            self.reset()
            return []
        kept = set(rows)
        holes = [slot for slot in range(count) if slot not in kept]
        movers = [slot for slot in rows if slot >= count]
        order = list(range(count))
        # One slice copy per moving row: a copy through index tensors (`buffer[holes] =
        # buffer[movers]`) takes ≈ 6x as long for the one or two rows that usually move.
        for hole, mover in zip(holes, movers, strict=True):
            order[hole] = mover
            self.first[hole] = self.first[mover]
            for buffer in (*self.keys, *self.values):
                buffer[hole, :, self.start:self.end] = buffer[mover, :, self.start:self.end]
            for tensor in (self.mask_RC, self.positions_R, self.next_tokens_R):
                tensor[hole] = tensor[mover]
        self.size = count
        del self.first[count:]
        self.start = min(self.first)
        return order

    @torch.inference_mode()
    def row_kv(self, row: int, *, copy: bool = True) -> RowKV:
        """Row `row`'s cached keys and values (its real tokens only): a copy, or with
        `copy=False` views of the buffers (valid until the next write, join or leave)."""
        columns = slice(self.first[row], self.end)
        if not copy:
            return RowKV(tuple(k[row, :, columns] for k in self.keys), tuple(v[row, :, columns] for v in self.values))
        return RowKV(tuple(k[row, :, columns].clone() for k in self.keys),
                     tuple(v[row, :, columns].clone() for v in self.values))

    # ---- steps ----

    def write(self, layer: int, keys_BHQD: torch.Tensor, values_BHQD: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """The model's cache update for `layer`: store the new column(s), return the views
        `[B, H, start:end+Q, D]` the attention reads."""
        rows, columns = slice(0, self.size), slice(self.end, self.end + keys_BHQD.shape[2])
        self.keys[layer][rows, :, columns] = keys_BHQD
        self.values[layer][rows, :, columns] = values_BHQD
        attended = slice(self.start, columns.stop)
        return self.keys[layer][rows, :, attended], self.values[layer][rows, :, attended]

    @torch.inference_mode()
    def decode_step(self, model: torch.nn.Module) -> torch.Tensor:
        """One forward of every row's next token; returns float32 logits [B, V]."""
        if self.end + 1 > self.mask_RC.shape[1]:
            self._reserve(tuple(self.keys), self.size, 0)
        rows = slice(0, self.size)
        self.mask_RC[rows, self.end] = True
        if self.lean is not None:
            first_B = None
            if self.shared is not None:  # each row attends to what follows the shared start
                first_B = torch.tensor(self.first, device=self.device)
            start = self.start if self.shared is None else min(self.first) + self.shared.length
            logits = self.lean.step(self.next_tokens_R[rows], self.positions_R[rows], self.keys, self.values,
                                    self.size, self.end, start, self.mask_RC, self.shared, first_B)
            self.end += 1
            self.positions_R[rows] += 1
            return logits
        out = model(input_ids=self.next_tokens_R[rows, None], attention_mask=self.mask_RC[rows, self.start:self.end + 1],
                    position_ids=self.positions_R[rows, None], past_key_values=self.cache, use_cache=True)
        self.end += 1
        self.positions_R[rows] += 1
        return out.logits[:, -1, :].float()

    @torch.inference_mode()
    def share_start(self, length: int, min_length: int = 64) -> None:
        """Declare that every running row starts with the same `length` tokens (the caller
        knows the tokens): lean decode steps then read their keys and values once per step
        from one shared copy. Below `min_length`, or without the lean step, nothing is shared."""
        if self.lean is None or self.size < 2 or length < min_length:
            self.shared = None
            return
        if self.shared is not None and self.shared.length == length:
            return
        columns = slice(self.first[0], self.first[0] + length)
        # clone, not contiguous(): with one KV head the slice is already contiguous, and a
        # view of slot 0 would change when a leave moves another row into that slot
        self.shared = SharedPrefix(tuple(k[0, :, columns].clone() for k in self.keys),
                                   tuple(v[0, :, columns].clone() for v in self.values))

    @torch.inference_mode()
    def set_next_tokens(self, tokens_B: torch.Tensor) -> None:
        self.next_tokens_R[: self.size] = tokens_B


@torch.inference_mode()
def prefill(model: torch.nn.Module, suffixes: list[list[int]], prefixes: list[RowKV | None],
            device: torch.device, pad_id: int = 0) -> Prefilled:
    """Run new rows through the model: each row's `suffix` tokens on top of its cached
    `prefix` (None: a cold start, the suffix is the whole prompt).

    Layout of the forward: `[N, C + S]` with C = longest prefix, S = longest suffix; a
    row's prefix KV is right-aligned in the first C columns and its suffix right-aligned
    in the last S, the mask is 1 on both, so a row can have a gap of padding between
    them — the attention skips it, and `Prefilled.columns_NM` names the real columns so
    that `RunningBatch.join` stores them contiguously.
    """
    count = len(suffixes)
    cached = [0 if p is None else p.length for p in prefixes]
    new = [len(s) for s in suffixes]
    longest_prefix, longest_suffix = max(cached), max(new)
    ids_NS = torch.tensor([[pad_id] * (longest_suffix - len(s)) + s for s in suffixes], dtype=torch.long)
    cached_N = torch.tensor(cached, dtype=torch.long)
    new_N = torch.tensor(new, dtype=torch.long)
    columns_C = torch.arange(longest_prefix)
    columns_S = torch.arange(longest_suffix)
    mask_NL = torch.cat([columns_C[None, :] >= (longest_prefix - cached_N)[:, None],
                         columns_S[None, :] >= (longest_suffix - new_N)[:, None]], dim=1)
    positions_NS = (cached_N[:, None] + columns_S[None, :] - (longest_suffix - new_N)[:, None]).clamp(min=0)
    cache = DynamicCache()
    if longest_prefix:
        reference = next(p for p in prefixes if p is not None)
        for layer, (keys, values) in enumerate(zip(reference.keys, reference.values, strict=True)):
            past_keys = keys.new_zeros(count, keys.shape[0], longest_prefix, keys.shape[2])
            past_values = values.new_zeros(count, values.shape[0], longest_prefix, values.shape[2])
            for row, prefix in enumerate(prefixes):
                if prefix is not None:
                    past_keys[row, :, longest_prefix - prefix.length:] = prefix.keys[layer]
                    past_values[row, :, longest_prefix - prefix.length:] = prefix.values[layer]
            cache.update(past_keys, past_values, layer)
    out = model(input_ids=ids_NS.to(device), attention_mask=mask_NL.to(device), position_ids=positions_NS.to(device),
                past_key_values=cache, use_cache=True, logits_to_keep=1)
    # Which columns hold each row's tokens, right-aligned to the longest row (M).
    total_N = cached_N + new_N
    longest = int(total_N.max())
    token_NM = (torch.arange(longest)[None, :] - (longest - total_N)[:, None]).clamp(min=0)
    columns_NM = torch.where(token_NM < cached_N[:, None], longest_prefix - cached_N[:, None] + token_NM,
                             longest_prefix + longest_suffix - new_N[:, None] + token_NM - cached_N[:, None])
    layers = list(cache.layers)
    return Prefilled(tuple(layer.keys for layer in layers), tuple(layer.values for layer in layers),
                     columns_NM.to(device), total_N.tolist(), out.logits[:, -1, :].float())


@torch.inference_mode()
def prefill_start(model: torch.nn.Module, tokens: list[int], device: torch.device) -> RowKV:
    """The KV of one sequence on its own (a prompt start many requests share)."""
    cache = DynamicCache()
    model(input_ids=torch.tensor([tokens], dtype=torch.long, device=device), past_key_values=cache, use_cache=True,
          logits_to_keep=1)
    layers = list(cache.layers)
    return RowKV(tuple(layer.keys[0] for layer in layers), tuple(layer.values[0] for layer in layers))


@torch.inference_mode()
def prefill_extend(model: torch.nn.Module, tokens: list[int], prefix: RowKV | None, device: torch.device) -> RowKV:
    """The KV of `prefix` followed by `tokens` (a prompt several requests share)."""
    if prefix is None:
        return prefill_start(model, tokens, device)
    out = prefill(model, [tokens], [prefix], device)  # one row: its columns are exactly 0…T-1
    return RowKV(tuple(k[0] for k in out.keys), tuple(v[0] for v in out.values))
