"""Rollout throughput: the asynchronous rollout manager vs a batch-synchronous loop.

Both run the same episodes — the tiny model (`agent-rl model init`, or --model PATH) on
`code-stdio-v0` with its in-process tool server — with every env step delayed by a
heavy-tailed "tool latency": log-normal, median 100 ms, σ = 1.0 (mean 165 ms, p90 ≈
0.36 s, p99 ≈ 1.0 s), drawn independently for every env instance (instance k draws from
its own stream seeded k, in both loops; pair i of a run adds 1000·i). Turns are 32 tokens sampled at temperature 1
from the engine's shared generator (cut turns go to the env, which answers "Invalid
action"), 4 turns per episode. Each loop gets a fresh `hf` engine (same model, prefix
cache on, defaults), so neither inherits the other's cache. torch runs one intra-op
thread (--torch-threads): with torch's default of one per core, the engine thread's
OpenMP workers spin against the event loop that runs the envs (and any other process),
which on a busy 2-core machine cost up to 10x per decode step.

  (a) manager   the RolloutManager: every episode advances on its own; generation
                and tool calls overlap.
  (b) baseline  the classic batch-synchronous multi-turn loop: generate one turn for a
                batch of episodes, wait for all of them, step all envs, wait for the
                slowest tool call, next turn.

Also: the `hf` engine's tokens/s at 32 concurrent requests vs one static batch of 32
through `model.generate` (the same model, prompts and lengths).

128 episodes per loop by default: 32 groups of 4 samples (the 20 tasks, then 12 of them
again with other seeds). Each loop runs --repeats times (default 3), as back-to-back
baseline/manager pairs, pair i with its own draw of latency streams (seeds 1000·i + k);
the ratio is the median of the pairs' ratios.

    .venv/bin/python bench/rollout.py [--episodes 128] [--concurrency 32] [--repeats 3] [--model DIR]
    .venv/bin/python bench/rollout.py --preset 0.5b --device cuda --dtype bfloat16   # on a GPU
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import envs
from agent_rl.engines import SamplingParams, make_engine
from agent_rl.models.tiny import init_tiny_model
from agent_rl.rollout import (
    AgentLoop,
    ChatRenderer,
    LoopBudget,
    RolloutConfig,
    RolloutManager,
    TaskRef,
)
from agent_rl.rollout.env_pool import EnvPool
from agent_rl.rollout.metrics import EngineBusyMeter
from envs.wrappers import DelayedEnv

ENV_ID = "code-stdio-v0"
ENV_KWARGS = {"max_turns": 4, "max_invalid_actions": 10}
TURN_TOKENS = 32
MEDIAN_S, SIGMA = 0.1, 1.0  # tool latency: log-normal (set by --latency-median / --latency-sigma)
SHARED_STREAM = False  # --shared-latency-stream: every env instance draws the same sequence


SAMPLING = SamplingParams(max_new_tokens=TURN_TOKENS, temperature=1.0)


def latency_wrapper(draw: int = 0):  # type: ignore[no-untyped-def]
    """Wraps each new env instance in a DelayedEnv with its own latency stream (seeds
    1, 2, … for draw 0; 1001, 1002, … for draw 1; …).

    Independent streams matter: with one seed for every instance, all envs of a batch
    slept exactly as long as each other, so the batch-synchronous loop never waited for
    a straggler — the heavy tail was hidden from exactly the loop it hurts.

    Several draws matter too: the baseline waits for the slowest of 32 heavy-tailed
    latencies at every turn, 8 times in a 64-episode run, and one draw's 8 maxima can sit
    far from their expectation (draw 0's average 0.66 s against an expected 0.90 s). Each
    baseline/manager pair of a run uses its own draw, both loops of a pair the same one."""
    first = 1 + 1000 * draw
    seeds = itertools.repeat(first) if SHARED_STREAM else itertools.count(first)

    def wrap(env):  # type: ignore[no-untyped-def]
        rng = np.random.default_rng(next(seeds))
        return DelayedEnv(env, lambda: float(rng.lognormal(mean=np.log(MEDIAN_S), sigma=SIGMA)))

    return wrap


def make_loop(engine, renderer: ChatRenderer) -> AgentLoop:  # type: ignore[no-untyped-def]
    sampling = SAMPLING
    budget = LoopBudget(max_turns=4, max_tokens_per_turn=TURN_TOKENS, length_ends_turn=True)
    return AgentLoop(engine, renderer, sampling, budget)


async def run_manager(engine, renderer, episodes: int, concurrency: int, draw: int = 0) -> dict[str, float]:  # type: ignore[no-untyped-def]
    loop = make_loop(engine, renderer)
    pool = EnvPool({ENV_ID: ENV_KWARGS}, per_env_concurrency=concurrency, wrap=latency_wrapper(draw))
    config = RolloutConfig(group_size=4, max_concurrency=concurrency, max_staleness=None)
    manager = RolloutManager(loop, pool, config)
    started = time.perf_counter()
    tokens = done = 0
    tasks = pool.num_tasks(ENV_ID)  # more episodes than tasks: the tasks again, with other seeds
    async for group in manager.run([TaskRef(ENV_ID, i % tasks, seed=i) for i in range(episodes // 4)]):
        done += len(group.trajectories)
        tokens += sum(t.num_model_tokens for t in group.trajectories)
    wall = time.perf_counter() - started
    busy = loop.busy_meter.busy_now()
    await pool.aclose()
    return {"trajectories_s": done / wall, "tokens_s": tokens / wall, "engine_busy": busy / wall, "wall_s": wall}


async def run_baseline(engine, renderer, episodes: int, batch: int, draw: int = 0) -> dict[str, float]:  # type: ignore[no-untyped-def]
    pool = EnvPool({ENV_ID: ENV_KWARGS}, per_env_concurrency=batch, wrap=latency_wrapper(draw))
    meter = EngineBusyMeter()
    sampling = SAMPLING
    tasks = pool.num_tasks(ENV_ID)
    started = time.perf_counter()
    tokens = done = 0

    async def generate(context: list[int]) -> list[int]:
        meter.enter()
        try:
            return (await engine.generate(context, sampling)).token_ids
        finally:
            meter.exit()

    for first in range(0, episodes, batch):
        size = min(batch, episodes - first)
        contexts = [pool.env(ENV_ID) for _ in range(size)]
        envs_ = [await c.__aenter__() for c in contexts]
        resets = await asyncio.gather(*(e.areset(seed=first + i, options={"task_index": (first + i) // 4 % tasks})
                                        for i, e in enumerate(envs_)))
        # The prompt exactly as AgentLoop renders it: with the tool specs the env has after reset.
        ids = [renderer.render_prompt(obs, [t.model_dump() for t in getattr(env, "tools", [])])
               for env, (obs, _) in zip(envs_, resets, strict=True)]
        active = list(range(size))
        for _ in range(4):
            turns = await asyncio.gather(*(generate(ids[i]) for i in active))  # wait for the whole batch
            for i, turn in zip(active, turns, strict=True):
                ids[i] += turn
                tokens += len(turn)
            steps = await asyncio.gather(*(envs_[i].astep(renderer.decode(t)) for i, t in zip(active, turns, strict=True)))
            still = []
            for i, turn, (obs, _, terminated, truncated, _) in zip(active, turns, steps, strict=True):
                if not (terminated or truncated):
                    ids[i] += renderer.delta(turn, obs).ids
                    still.append(i)
            active = still
            if not active:
                break
        done += size
        for c in contexts:
            await c.__aexit__(None, None, None)
    wall = time.perf_counter() - started
    busy = meter.busy_now()
    await pool.aclose()
    return {"trajectories_s": done / wall, "tokens_s": tokens / wall, "engine_busy": busy / wall, "wall_s": wall}


async def engine_vs_generate(engine, model_dir: Path, device: str, dtype: str, requests: int = 32,  # type: ignore[no-untyped-def]
                             new_tokens: int = 64) -> tuple[float, float]:
    import torch
    from transformers import AutoModelForCausalLM

    rng = np.random.default_rng(0)
    prompts = [list(map(int, rng.integers(10, 3000, size=int(rng.integers(16, 48))))) for _ in range(requests)]
    sampling = SamplingParams(max_new_tokens=new_tokens, temperature=1.0, ignore_eos=True, seed=0)
    await engine.generate(prompts[0], sampling)  # warm-up
    started = time.perf_counter()
    results = await asyncio.gather(*(engine.generate(p, sampling) for p in prompts))
    engine_tps = sum(len(r.token_ids) for r in results) / (time.perf_counter() - started)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, dtype)).to(device).eval()
    width = max(map(len, prompts))
    batch = torch.tensor([[0] * (width - len(p)) + p for p in prompts], device=device)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=device)
    with torch.no_grad():
        model.generate(batch[:2], attention_mask=mask[:2], max_new_tokens=4, do_sample=True)  # warm-up
        started = time.perf_counter()
        out = model.generate(batch, attention_mask=mask, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                             do_sample=True, pad_token_id=0)
        static_tps = (out.shape[1] - width) * requests / (time.perf_counter() - started)
    return engine_tps, static_tps


def _engine(args: argparse.Namespace, model_dir: Path):  # type: ignore[no-untyped-def]
    prefill_thread = {"auto": None, "on": True, "off": False}[args.prefill_thread]
    return make_engine("hf", model=str(model_dir), device=args.device, dtype=args.dtype,
                       prefix_cache_tokens=args.prefix_cache_tokens, prefill_thread=prefill_thread)


async def _measured(run, engine, *run_args: object) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Runs one loop on `engine` and adds the engine's own breakdown (scheduler thread)."""
    try:
        result = await run(engine, *run_args)
        detail = (await engine.health()).detail
    finally:
        await engine.aclose()
    steps = max(1, detail["steps"])
    return {**result, "prefill_s": detail["prefill_s"], "decode_s": detail["decode_s"],
            "prefills": detail["prefills"], "prefill_tokens": detail["prefill_tokens"],
            "steps": detail["steps"], "rows_per_step": detail["generated_tokens"] / steps,
            "step_ms": 1000 * detail["decode_s"] / steps, "prefix_hits": detail.get("prefix_hits", 0),
            "reused": detail.get("prefix_reused_tokens", 0), "relayouts": detail.get("relayouts", 0),
            "scheduler_busy": detail["busy_s"] / result["wall_s"]}


async def main(args: argparse.Namespace) -> None:
    from transformers import AutoTokenizer

    model_dir = Path(args.model) if args.model else init_tiny_model(Path(tempfile.mkdtemp()) / "tiny",
                                                                        preset=args.preset, seed=0)
    renderer = ChatRenderer(AutoTokenizer.from_pretrained(model_dir))
    envs.spec(ENV_ID)
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    pairs = []  # (baseline, manager), run back to back: a slow spell of the machine hits both
    for draw in range(args.repeats):
        baseline = await _measured(run_baseline, _engine(args, model_dir), renderer, args.episodes, args.concurrency,
                                   draw)
        manager = await _measured(run_manager, _engine(args, model_dir), renderer, args.episodes, args.concurrency,
                                  draw)
        pairs.append((baseline, manager))
    engine = _engine(args, model_dir)
    try:
        engine_tps, static_tps = await engine_vs_generate(engine, model_dir, args.device, args.dtype)
    finally:
        await engine.aclose()
    print(f"# {platform.node()} · {platform.machine()} · python {platform.python_version()} · model {model_dir}")
    print(f"# {args.episodes} episodes, concurrency/batch {args.concurrency}, {TURN_TOKENS}-token turns, "
          f"4 turns, tool latency log-normal(median {MEDIAN_S * 1000:.0f} ms, sigma {SIGMA}, "
          f"{'one stream for all envs' if SHARED_STREAM else 'independent per env'}), "
          f"prefix cache {args.prefix_cache_tokens or 'off'}, torch threads {args.torch_threads or 'default'}, "
          f"prefill thread {args.prefill_thread}, {args.repeats} pair(s)")
    print(f"{'loop':<10} {'traj/s':>8} {'tokens/s':>9} {'engine busy':>12} {'wall s':>7} │ {'sched busy':>10} "
          f"{'prefill s':>9} {'decode s':>8} {'steps':>6} {'rows/step':>9} {'ms/step':>7} {'prefills':>8} "
          f"{'prefilled':>9} {'reused':>7} {'hits':>5}  ratio")
    for baseline, manager in pairs:
        for name, m in (("baseline", baseline), ("manager", manager)):
            ratio = f"  {manager['trajectories_s'] / baseline['trajectories_s']:.2f}x" if name == "manager" else ""
            print(f"{name:<10} {m['trajectories_s']:>8.2f} {m['tokens_s']:>9.1f} {100 * m['engine_busy']:>11.0f}% "
                  f"{m['wall_s']:>7.1f} │ {100 * m['scheduler_busy']:>9.0f}% {m['prefill_s']:>9.2f} "
                  f"{m['decode_s']:>8.2f} {m['steps']:>6} {m['rows_per_step']:>9.1f} {m['step_ms']:>7.2f} "
                  f"{m['prefills']:>8} {m['prefill_tokens']:>9} {m['reused']:>7} {m['prefix_hits']:>5}{ratio}")
    ratios = [manager["trajectories_s"] / baseline["trajectories_s"] for baseline, manager in pairs]
    busy = statistics.median(manager["engine_busy"] for _, manager in pairs)
    spread = f" (pairs: {', '.join(f'{r:.2f}' for r in ratios)})" if len(ratios) > 1 else ""
    print(f"manager / baseline throughput: {statistics.median(ratios):.2f}x{' median' if len(ratios) > 1 else ''}"
          f"{spread}; manager engine busy {100 * busy:.0f}% (goals: >= 2.0x, >= 80%)")
    print(f"hf engine, 32 concurrent requests: {engine_tps:.0f} tokens/s; static batch of 32 via "
          f"model.generate: {static_tps:.0f} tokens/s; ratio {engine_tps / static_tps:.2f} (goal >= 0.8)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=128,
                        help="episodes per loop (default 128: four times the concurrency, so that the "
                             "ramp-up and the drain at the end — the first prompts, and the last episodes "
                             "waiting on tool calls with nothing left to decode, which no scheduler can "
                             "overlap — weigh a quarter of the run, not half as with 64)")
    parser.add_argument("--latency-median", type=float, default=MEDIAN_S, help="tool latency median, seconds")
    parser.add_argument("--latency-sigma", type=float, default=SIGMA, help="log-normal sigma of the tool latency")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3,
                        help="baseline/manager pairs, run back to back, pair i with latency draw i (see "
                             "latency_wrapper); the ratio reported is the median of the pairs' ratios (a "
                             "shared VM's speed drifts by tens of percent within a minute, and the two "
                             "loops feel it differently)")
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="torch intra-op threads for the whole process; 0: torch's default (one per "
                             "core). 1 by default: on a small CPU the engine thread's OpenMP workers spin "
                             "against the event loop and other processes (measured 0.07x the tokens/s)")
    parser.add_argument("--prefix-cache-tokens", type=int, default=65536, help="the hf engine's prefix cache; 0: off")
    parser.add_argument("--prefill-thread", choices=("auto", "on", "off"), default="auto",
                        help="the hf engine's prefill thread (auto: on a CPU with >= 2 cores), for both loops")
    parser.add_argument("--shared-latency-stream", action="store_true",
                        help="every env draws the same latency sequence (the setting of the first runs)")
    parser.add_argument("--model", default=None, help="a model directory (default: a fresh random-init model)")
    parser.add_argument("--preset", default="tiny", help="size of the fresh model: nano, tiny, small, 0.5b")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", help="float32, bfloat16 (GPU)")
    arguments = parser.parse_args()
    if arguments.repeats < 1:
        parser.error("--repeats must be at least 1")
    MEDIAN_S, SIGMA = arguments.latency_median, arguments.latency_sigma
    SHARED_STREAM = arguments.shared_latency_stream
    asyncio.run(main(arguments))
