"""The `hf` engine's scheduler: one thread that owns the model and the running batch.

Why a thread: a forward pass is blocking work and must never run on the asyncio event
loop (which serves HTTP, tool calls and the rollout manager). Every model access —
prefill, decode, weight loads — happens on this one thread, so weights can never change
under a running step, and no lock is held around the model.

Each iteration: take commands (new requests, aborts, weight updates, close), apply a
due weight update, admit waiting requests (one prefill for all of them), then one
decode step for every running row. Finished rows leave the batch at once and waiting
ones join at the next iteration — continuous batching at token granularity. Results are
handed back to each request's own event loop with `call_soon_threadsafe`.

Prefix cache (`_prefix_cache.PrefixCache`): a finished row parks its KV; a new request
whose prompt extends a parked sequence (the same conversation's next turn) takes it and
prefills only its new tokens. Weight updates clear it before the new weights load.

Weight updates: with `abort_running`, running rows finish at once as ABORT with their
tokens so far (all sampled under the old version); otherwise admission pauses until
the batch drains. Either way the update is applied between steps, and requests that
were waiting start under the new version.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from agent_rl.engines._batch import RowKV, RunningBatch, prefill, prefill_extend, prefill_start
from agent_rl.engines._lean_decode import LeanDecoder
from agent_rl.engines._prefix_cache import PrefixCache, common_length
from agent_rl.engines._sampling import Sampled, sample_next
from agent_rl.engines._stop import StopChecker
from agent_rl.engines.base import FinishReason, GenerationResult, SamplingParams, WeightUpdate
from agent_rl.engines.errors import EngineError, EngineUnavailableError

log = logging.getLogger(__name__)


@dataclass(eq=False, slots=True)
class Request:
    """One generation in flight (mutated only by the scheduler thread)."""

    id: str
    prompt: list[int]
    sampling: SamplingParams
    stop: StopChecker
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[GenerationResult]
    generator: torch.Generator | None = None
    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    top_logprobs: list[dict[int, float]] | None = None
    version: int = 0
    prefix: RowKV | None = None  # cached KV of prompt[:reused], from the prefix cache
    reused: int = 0
    anchored: int = 0  # prompt tokens shared with the scheduler's anchor (see `_share_running_start`)
    fresh: bool = True  # no conversation's KV was found for it: it is parked at admission (`_park_prompts`)
    aborted: bool = False  # finished as ABORT while the prefill thread worked on it


@dataclass(frozen=True, slots=True)
class Ack:
    """Where to report that a command was carried out."""

    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


def _settle(future: asyncio.Future[Any], outcome: object) -> None:
    if future.done():  # the waiter was cancelled
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _deliver(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], outcome: object) -> None:
    try:
        loop.call_soon_threadsafe(_settle, future, outcome)
    except RuntimeError:  # that event loop is closed: nobody is waiting any more
        pass


class PrefillWorker(threading.Thread):
    """Prefills admitted requests on a second thread while the scheduler keeps decoding.

    Why: on a CPU the scheduler thread runs one core; an agent's requests arrive one by
    one as tool calls return, and each prefill (≈ 130 new tokens on ≈ 1,000 cached ones:
    ≈ 7 ms) used to stall every running row's next token. The torch kernels release the
    GIL, so a prefill here runs on another core beside the decode steps. One job at a
    time, into a scratch batch of its own (lean models only: the model's weights are read,
    never written, by both threads); the scheduler joins the finished rows — one copy of
    their KV — and samples their first tokens. Requests with the same prompt (the n
    samples of a task, arriving together) are one row of the job: identical prompts have
    identical KV and next-token logits, so each gets a copy of that row and draws its own
    first token. Results come back as a `prefilled` command
    on the scheduler's queue, which also wakes it when it has nothing else to do.
    """

    #: Scratch buffers larger than this are freed after their job (and allocated again when needed).
    KEEP_BYTES = 64 << 20

    def __init__(self, lean: LeanDecoder, device: torch.device, max_rows: int,
                 deliver: Callable[[tuple[Any, ...]], None]) -> None:
        super().__init__(name="hf-engine-prefill", daemon=True)
        self.scratch = RunningBatch(device, max_rows, lean=lean)
        self.jobs: queue.SimpleQueue[tuple[list[Request], list[int], list[list[int]], list[RowKV | None]] | None] = \
            queue.SimpleQueue()
        self.deliver = deliver

    def run(self) -> None:
        while (job := self.jobs.get()) is not None:
            requests, rows, suffixes, prefixes = job
            started = time.perf_counter()
            try:
                self.scratch.reset()
                logits_UV = self.scratch.prefill_join(suffixes, prefixes)
                # views: the scheduler copies them before it sends the next job
                outcome: Any = (logits_UV, [self.scratch.row_kv(row, copy=False) for row in range(len(suffixes))])
            except Exception as exc:  # noqa: BLE001 — reported to the requests by the scheduler
                outcome = exc
            self.deliver(("prefilled", requests, rows, outcome, time.perf_counter() - started,
                          sum(len(suffix) for suffix in suffixes)))
            if self.scratch.nbytes > self.KEEP_BYTES:  # a big job: do not hold a second KV cache's worth
                self.scratch.release()


class Scheduler(threading.Thread):
    """Continuous batching over a Hugging Face causal LM (see the module docstring).

    Args:
        model: the causal LM (eval mode, on `device`).
        load_weights: applies a `WeightUpdate` to `model` (called on this thread).
        device: where the model lives.
        version: the initial weight version.
        max_batch_size: rows decoded together at most.
        max_prefill_tokens: padded prompt tokens admitted in one prefill at most (one
            longer prompt is still admitted alone); with cache hits, only the tokens
            not covered by the cache count.
        seed: seeds the generator shared by unseeded sampled rows.
        prefix_cache: finished rows' KV for the next turns; None disables reuse.
        lean: the lean decode step (None: the model's own forward).
        prefill_thread: prefill on a second thread (`PrefillWorker`; lean models only).
    """

    def __init__(self, model: torch.nn.Module, load_weights: Callable[[WeightUpdate], None], *,
                 device: torch.device, version: int, max_batch_size: int, max_prefill_tokens: int,
                 seed: int, prefix_cache: PrefixCache | None = None, lean: LeanDecoder | None = None,
                 prefill_thread: bool = False) -> None:
        super().__init__(name="hf-engine-scheduler", daemon=True)
        self.model = model
        self.load_weights = load_weights
        self.device = device
        self.version = version
        self.max_batch_size = max_batch_size
        self.max_prefill_tokens = max_prefill_tokens
        self.shared_generator = torch.Generator(device=device)
        self.shared_generator.manual_seed(seed)
        self.commands: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self.waiting: collections.deque[Request] = collections.deque()
        self.rows: list[Request] = []
        self.batch = RunningBatch(device, max_batch_size, lean=lean)
        self.anchor: Request | None = None  # the running row whose prompt others are compared with
        self.worker = PrefillWorker(lean, device, max_batch_size, self.commands.put) \
            if prefill_thread and lean is not None else None
        self.prefilling: list[Request] | None = None  # the requests the prefill thread works on
        self.prefix_cache = prefix_cache
        self.updates: collections.deque[tuple[WeightUpdate, Ack]] = collections.deque()
        self.closed = False
        self.fatal: BaseException | None = None
        self.stats = {"steps": 0, "prefills": 0, "generated_tokens": 0, "prefill_tokens": 0, "busy_s": 0.0,
                      "prefill_s": 0.0, "decode_s": 0.0}

    # ---- called from event loops (thread-safe: they only enqueue) ----

    def submit(self, request: Request) -> None:
        self.commands.put(("submit", request))

    def abort(self, request_id: str | None, ack: Ack | None) -> None:
        self.commands.put(("abort", request_id, ack))

    def update(self, update: WeightUpdate, abort_running: bool, ack: Ack) -> None:
        self.commands.put(("update", update, abort_running, ack))

    def close(self, ack: Ack | None) -> None:
        self.commands.put(("close", ack))

    # ---- the thread ----

    def run(self) -> None:
        if self.worker is not None:
            self.worker.start()
        try:
            with torch.inference_mode():  # the batch's buffers are inference tensors (weight loads opt out)
                self._loop()
        except BaseException as exc:  # a bug: fail every waiter rather than leave it hanging
            log.exception("the hf engine scheduler crashed")
            self.fatal = exc
            error = EngineUnavailableError(f"the hf engine crashed: {type(exc).__name__}: {exc}")
            self._fail([*self.rows, *self.waiting, *(r for r in self.prefilling or () if not r.aborted)], error)
            for _, ack in self.updates:
                _deliver(ack.loop, ack.future, error)
            self.closed = True
            self._drain_after_crash(error)
        finally:
            if self.worker is not None:
                self.worker.jobs.put(None)

    def _drain_after_crash(self, error: EngineError) -> None:
        while True:
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                return
            if command[0] == "submit":
                self._fail([command[1]], error)
            elif command[0] == "prefilled":
                continue  # its requests were failed with the batch's
            elif command[-1] is not None:
                _deliver(command[-1].loop, command[-1].future, error)

    def _loop(self) -> None:
        while not self.closed:
            # Block when nothing can move until a command comes (a prefill result is one).
            self._take_commands(block=not (self.rows or self._can_admit()
                                           or (self.updates and self.prefilling is None)))
            if self.closed:
                break
            self._apply_due_updates()
            started = time.perf_counter()
            admitted = self._admit()
            decoded = self._decode()
            if admitted or decoded:
                self.stats["busy_s"] += time.perf_counter() - started

    def _take_commands(self, block: bool) -> None:
        try:
            command = self.commands.get() if block else self.commands.get_nowait()
        except queue.Empty:
            return
        while True:
            self._handle(command)
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                return

    def _handle(self, command: tuple[Any, ...]) -> None:
        kind = command[0]
        if kind == "submit":
            self.waiting.append(command[1])
        elif kind == "abort":
            self._abort(command[1])
            if command[2] is not None:
                _deliver(command[2].loop, command[2].future, None)
        elif kind == "update":
            _, update, abort_running, ack = command
            if abort_running:
                self._abort_running()
            self.updates.append((update, ack))
        elif kind == "close":
            self._shut_down(command[1])
        elif kind == "prefilled":
            self._join_prefilled(*command[1:])

    def _can_admit(self) -> bool:
        return (bool(self.waiting) and not self.updates and self.prefilling is None
                and len(self.rows) < self.max_batch_size)

    def _finish(self, request: Request, reason: FinishReason) -> None:
        result = GenerationResult(list(request.tokens), list(request.logprobs), reason, request.version,
                                  len(request.prompt), request.top_logprobs)
        _deliver(request.loop, request.future, result)

    def _fail(self, requests: list[Request], error: EngineError) -> None:
        for request in requests:
            _deliver(request.loop, request.future, error)

    def _abort(self, request_id: str | None) -> None:
        waiting = [r for r in self.waiting if request_id is None or r.id == request_id]
        for request in waiting:
            self.waiting.remove(request)
            request.version = self.version
        running = [r for r in self.rows if request_id is None or r.id == request_id]
        self._keep([row for row, r in enumerate(self.rows) if not (request_id is None or r.id == request_id)])
        prefilling = [r for r in self.prefilling or () if not r.aborted and (request_id is None or r.id == request_id)]
        for request in prefilling:  # answered now; `_join_prefilled` skips them
            request.aborted = True
        for request in [*running, *waiting, *prefilling]:
            self._finish(request, FinishReason.ABORT)

    def _abort_running(self) -> None:
        running = list(self.rows)
        self._keep([])
        for request in running:
            self._finish(request, FinishReason.ABORT)

    def _keep(self, rows: list[int]) -> None:
        if len(rows) == len(self.rows):
            return  # nobody left (the common case after a decode step)
        self.rows = [self.rows[i] for i in self.batch.keep(rows)]
        self._share_running_start()

    def _share_running_start(self, joined: list[Request] | None = None) -> None:
        """Tell the batch how many prompt tokens every running row shares (cascade
        attention in lean steps); called whenever rows join (`joined`) or leave.

        Why an anchor: the common start of all running prompts is the minimum, over the
        rows, of each row's common start with any one running row (the anchor). Each row
        is compared with the anchor once, when it joins (or when the anchor leaves and
        another row becomes it) — not every row on every join and leave, which cost
        ≈ 8 % of a busy engine's time in the rollout benchmark."""
        if self.batch.lean is None:
            return
        if len(self.rows) < 2:
            self.anchor = self.rows[0] if self.rows else None
            self.batch.share_start(0)
            return
        if self.anchor is None or self.anchor not in self.rows:
            self.anchor, joined = self.rows[0], self.rows
        anchor = self.anchor.prompt
        for request in joined or ():
            request.anchored = common_length(anchor, request.prompt)
        self.anchor.anchored = len(anchor)
        self.batch.share_start(min(request.anchored for request in self.rows))

    def _apply_due_updates(self) -> None:
        while self.updates and not self.rows and self.prefilling is None:
            update, ack = self.updates.popleft()
            # Cached KV of the old weights must never prefix a sequence under the new ones.
            if self.prefix_cache is not None:
                self.prefix_cache.clear()
            for request in self.waiting:
                request.prefix, request.reused = None, 0
            try:
                self.load_weights(update)
            except Exception as exc:  # noqa: BLE001 — reported to the caller of update_weights
                log.warning("weight update to version %s failed: %s", update.version, exc)
                error = exc if isinstance(exc, EngineError) else EngineUnavailableError(
                    f"loading weights version {update.version} failed: {type(exc).__name__}: {exc}")
                _deliver(ack.loop, ack.future, error)
                continue
            self.version = update.version
            _deliver(ack.loop, ack.future, update.version)

    def _take_admissible(self) -> list[Request]:
        if self.updates:  # a waiting weight update goes first
            return []
        if self.prefilling is not None:  # one prefill job at a time
            return []
        room = self.max_batch_size - len(self.rows)
        if self.prefix_cache is not None:
            candidates = list(itertools.islice(self.waiting, room))
            for request in candidates:
                if request.prefix is None:  # a miss is asked again next time: the cache may have it by then
                    hit = self.prefix_cache.take(request.prompt, self.version)
                    if hit is not None:
                        request.prefix, request.reused, request.fresh = hit.kv, hit.reused, hit.shared
            self._share_common_start([r for r in candidates if r.prefix is None], self.prefix_cache)
            if self.worker is None:  # (the prefill thread runs identical prompts as one row of its job)
                self._share_identical_prompts(candidates, self.prefix_cache)
        taken: list[Request] = []
        longest = 0  # new tokens of the longest suffix: the prefill is [N, longest]
        while self.waiting and len(taken) < room:
            request = self.waiting[0]
            longest_if_taken = max(longest, len(request.prompt) - request.reused)
            if taken and longest_if_taken * (len(taken) + 1) > self.max_prefill_tokens:
                break
            taken.append(self.waiting.popleft())
            longest = longest_if_taken
        return taken

    def _join_prefilled(self, requests: list[Request], rows: list[int], outcome: Any, elapsed_s: float,
                        tokens: int) -> None:
        """The prefill thread's result (request n's prompt is the job's row `rows[n]`, the
        job prefilled `tokens` tokens): its rows join the batch (or go back to waiting,
        when new weights wait to be loaded: they were prefilled under the old ones)."""
        self.prefilling = None
        self.stats["prefill_s"] += elapsed_s
        live = [n for n, r in enumerate(requests) if not r.aborted]
        if isinstance(outcome, BaseException):
            log.error("prefill failed: %s: %s", type(outcome).__name__, outcome)
            self._fail([requests[n] for n in live],
                       EngineUnavailableError(f"hf engine prefill failed: {type(outcome).__name__}: {outcome}"))
            return
        if self.updates:
            for n in reversed(live):
                request = requests[n]
                request.prefix, request.reused, request.fresh = None, 0, True
                self.waiting.appendleft(request)
            return
        if not live:
            return
        logits_UV, kvs = outcome
        joining = [requests[n] for n in live]
        sources = [rows[n] for n in live]
        started, running = time.perf_counter(), len(self.rows)
        try:
            sampled = sample_next(logits_UV[sources], [r.sampling for r in joining],
                                  [r.generator for r in joining], self.shared_generator)
            self.batch.join_rows([kvs[row] for row in sources], sampled.token_ids)
        except Exception as exc:
            log.exception("joining prefilled rows failed")
            if len(self.batch) > running:
                self.batch.keep(list(range(running)))
            self._fail(joining, EngineUnavailableError(f"hf engine prefill failed: {type(exc).__name__}: {exc}"))
            return
        self.stats["prefills"] += 1
        self.stats["prefill_tokens"] += tokens
        self.rows.extend(joining)
        self._park_prompts(joining, first_row=running)
        self._share_running_start(joined=joining)
        self._record(sampled, first_row=running)
        self.stats["prefill_s"] += time.perf_counter() - started

    def _share_common_start(self, cold: list[Request], cache: PrefixCache) -> None:
        """Cold prompts that start alike (one env's system prompt and tool specs) get their
        common start prefilled once, parked as a shared entry and reused by all of them
        (and by later arrivals), instead of each prefilling it again."""
        if len(cold) < 2:
            return
        anchor = cold[0].prompt
        common = sorted(((min(common_length(anchor, r.prompt), len(r.prompt) - 1), r) for r in cold[1:]),
                        key=lambda pair: pair[0], reverse=True)
        # The length that saves the most prefill: L tokens × the requests sharing ≥ L.
        saved, length = max(((n * (i + 1), n) for i, (n, _) in enumerate(common)), default=(0, 0))
        length = min(length, len(anchor) - 1)
        if length < 2 * cache.block or saved < 2 * length:
            return
        started = time.perf_counter()
        try:
            kv = prefill_start(self.model, anchor[:length], self.device)
        except Exception:  # an optimisation only: the requests are then prefilled whole
            log.exception("prefilling a shared prompt start failed")
            return
        cache.put(anchor[:length], kv, self.version, shared=True)
        for request in [cold[0], *(r for n, r in common if n >= length)]:
            request.prefix, request.reused = kv, length
        self.stats["prefills"] += 1
        self.stats["prefill_tokens"] += length
        self.stats["prefill_s"] += time.perf_counter() - started

    def _share_identical_prompts(self, candidates: list[Request], cache: PrefixCache) -> None:
        """Requests with the same prompt (the n samples of one task in a group) get what
        they do not yet share with the cache prefilled once — on top of the prefix they
        already have — and parked as a shared entry, so each then prefills one token.

        In the rollout benchmark this is the task's own text after the env's common
        start: ≈ 137 tokens × 3 of every 4 first-turn prompts, ≈ 20 % of all prefill."""
        groups: dict[tuple[int, ...], list[Request]] = {}
        for request in candidates:
            if len(request.prompt) - 1 - request.reused >= 2 * cache.block:
                groups.setdefault(tuple(request.prompt), []).append(request)
        for group in groups.values():
            if len(group) < 2:
                continue
            first = max(group, key=lambda r: r.reused)  # the longest prefix the group already has
            length = len(first.prompt) - 1
            started = time.perf_counter()
            try:
                kv = prefill_extend(self.model, first.prompt[first.reused:length], first.prefix, self.device)
            except Exception:  # an optimisation only: the requests are then prefilled whole
                log.exception("prefilling a shared prompt failed")
                continue
            cache.put(first.prompt[:length], kv, self.version, shared=True)
            self.stats["prefills"] += 1
            self.stats["prefill_tokens"] += length - first.reused
            self.stats["prefill_s"] += time.perf_counter() - started
            for request in group:
                request.prefix, request.reused = kv, length

    def _admit(self) -> bool:
        new = self._take_admissible()
        if not new:
            return False
        for request in new:
            request.version = self.version
            if request.sampling.seed is not None:
                request.generator = torch.Generator(device=self.device)
                request.generator.manual_seed(request.sampling.seed)
        started = time.perf_counter()
        running = len(self.rows)
        suffixes, prefixes = [r.prompt[r.reused:] for r in new], [r.prefix for r in new]
        if self.worker is not None:
            rows, unique = self._one_row_per_prompt(new)
            for request in new:
                request.prefix = None  # the job holds it now
            self.prefilling = new
            self.worker.jobs.put((new, rows, [suffixes[n] for n in unique], [prefixes[n] for n in unique]))
            return True
        try:
            if self.batch.lean is not None:  # straight into the batch's buffers
                logits_NV = self.batch.prefill_join(suffixes, prefixes)
                sampled = sample_next(logits_NV, [r.sampling for r in new], [r.generator for r in new],
                                      self.shared_generator)
                self.batch.set_joined_tokens(sampled.token_ids)
            else:
                prefilled = prefill(self.model, suffixes, prefixes, self.device)
                sampled = sample_next(prefilled.logits_NV, [r.sampling for r in new], [r.generator for r in new],
                                      self.shared_generator)
                self.batch.join(prefilled, sampled.token_ids)
        except Exception as exc:
            log.exception("prefill failed")
            if len(self.batch) > running:  # joined, then sampling failed: take the rows out again
                self.batch.keep(list(range(running)))
            self._fail(new, EngineUnavailableError(f"hf engine prefill failed: {type(exc).__name__}: {exc}"))
            return True
        finally:
            for request in new:
                request.prefix = None  # now in the batch (or failed): release the parked copy
        self.stats["prefills"] += 1
        self.stats["prefill_tokens"] += sum(len(r.prompt) - r.reused for r in new)
        self.rows.extend(new)
        self._park_prompts(new, first_row=running)
        self._share_running_start(joined=new)
        self._record(sampled, first_row=len(self.rows) - len(new))
        self.stats["prefill_s"] += time.perf_counter() - started
        return True

    @staticmethod
    def _one_row_per_prompt(new: list[Request]) -> tuple[list[int], list[int]]:
        """Which row of a prefill job each request gets (`rows[n]`), and which request each
        row is computed from (`unique[row]`): the one of its prompt with the most cached."""
        first: dict[tuple[int, ...], int] = {}
        unique: list[int] = []
        rows: list[int] = []
        for n, request in enumerate(new):
            row = first.setdefault(tuple(request.prompt), len(unique))
            if row == len(unique):
                unique.append(n)
            elif request.reused > new[unique[row]].reused:
                unique[row] = n
            rows.append(row)
        return rows, unique

    def _decode(self) -> bool:
        if not self.rows:
            return False
        started = time.perf_counter()
        try:
            logits_BV = self.batch.decode_step(self.model)
            sampled = sample_next(logits_BV, [r.sampling for r in self.rows], [r.generator for r in self.rows],
                                  self.shared_generator)
        except Exception as exc:
            log.exception("decode step failed")
            self._fail(self.rows, EngineUnavailableError(f"hf engine step failed: {type(exc).__name__}: {exc}"))
            self.rows = []
            self.batch.reset()
            return True
        self.stats["steps"] += 1
        self.batch.set_next_tokens(sampled.token_ids)
        self._record(sampled, first_row=0)
        self.stats["decode_s"] += time.perf_counter() - started
        return True

    def _record(self, sampled: Sampled, first_row: int) -> None:
        """Append one sampled token to rows first_row…; finished rows leave the batch."""
        keep = list(range(first_row))
        done: list[tuple[Request, FinishReason]] = []
        for offset, (token, logprob, top) in enumerate(zip(sampled.tokens, sampled.logprobs, sampled.top,
                                                           strict=True)):
            row = first_row + offset
            request = self.rows[row]
            request.tokens.append(token)
            request.logprobs.append(logprob)
            if top is not None and request.top_logprobs is not None:
                request.top_logprobs.append(top)
            reason = request.stop.check(request.tokens)
            if reason is None:
                keep.append(row)
            else:
                done.append((request, reason))
                self._park(row, request)
        self.stats["generated_tokens"] += len(sampled.tokens)
        self._keep(keep)  # before delivering, so `health()` never counts a finished request
        for request, reason in done:
            self._finish(request, reason)

    def _park_prompts(self, new: list[Request], first_row: int) -> None:
        """Park the KV of fresh prompts (first turns: no conversation's KV was found) as
        soon as they are prefilled, not only when their rows finish: the other samples of
        the same task, arriving a little later, then prefill one token instead of the
        task's whole text (the n samples of a group rarely arrive in one admission)."""
        if self.prefix_cache is None:
            return
        parked: set[tuple[int, ...]] = set()  # the samples of a task in one job: one entry
        for offset, request in enumerate(new):
            length = len(request.prompt) - 1
            if request.fresh and length - request.reused >= 2 * self.prefix_cache.block:
                if (key := tuple(request.prompt)) in parked:
                    continue
                parked.add(key)
                kv = self.batch.row_kv(first_row + offset).head(length)
                self.prefix_cache.put(request.prompt[:length], kv, request.version, shared=True)

    def _park(self, row: int, request: Request) -> None:
        """Keep a finished row's KV for the conversation's next turn: the cache holds
        the prompt and every sampled token but the last (whose KV was never computed)."""
        if self.prefix_cache is None:
            return
        self.prefix_cache.put(request.prompt + request.tokens[:-1], self.batch.row_kv(row), request.version)

    def _shut_down(self, ack: Ack | None) -> None:
        self._abort(None)
        while self.updates:
            _, update_ack = self.updates.popleft()
            _deliver(update_ack.loop, update_ack.future, EngineUnavailableError("the hf engine was closed"))
        self.closed = True
        if self.worker is not None:
            self.worker.jobs.put(None)
        if ack is not None:
            _deliver(ack.loop, ack.future, None)
