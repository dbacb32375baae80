"""The local process stack: cold `stack up` to all-healthy time, and the same evaluation
run in-process vs against the stack by URL.

  up       `agent-rl stack up` of the default definition (every registered tool server +
           the model server, on free ports), from nothing running to every service
           healthy; per-service time to healthy; then `stack down` and its time. The
           model directory is made once beforehand (`agent-rl model init` is timed
           separately: the first `stack up` on a machine pays it once).
  eval     scripted agents on code-v0, sql-v0 and search-v0 (`--limit` tasks each,
           `--concurrency` episodes at once): the embedded default (each run builds its
           own in-process tool server, ASGI transport) vs the stack's servers over HTTP.
           Rounds alternate the order; episodes/s of each and the ratio stack/in-process.

    .venv/bin/python bench/stack.py --ups 3 --limit 60 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent_rl.evaluation import evaluate
from agent_rl.stack import down, endpoints, load_config, up
from agent_rl.stack.state import InstanceState
from tool_servers.local import free_port

ENVS = {"code-v0": "code", "sql-v0": "sql", "search-v0": "search"}


def cold_up(state_dir: Path, model: Path) -> tuple[float, dict[str, float]]:
    config = load_config()
    for spec in config.services.values():
        spec.port = free_port() if spec.port is not None else None
    started = time.perf_counter()
    healthy_at: dict[str, float] = {}

    def seen(instance: InstanceState) -> None:
        if instance.status == "healthy":
            healthy_at.setdefault(instance.name, time.perf_counter() - started)

    up(config, state_dir, model=str(model), timeout_s=300, on_change=seen)
    total = time.perf_counter() - started
    return total, healthy_at


async def eval_round(urls: dict[str, str] | None, limit: int, concurrency: int) -> tuple[int, float]:
    episodes, started = 0, time.perf_counter()
    for env_id, server in ENVS.items():
        summary, records = await evaluate(env_id, "scripted", limit=limit, concurrency=concurrency,
                                          server_url=urls[server] if urls else None)
        assert summary.env_errors == 0 and summary.pass_rate == 1.0, summary
        episodes += len(records)
    return episodes, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ups", type=int, default=3, help="cold ups to time (median reported)")
    parser.add_argument("--limit", type=int, default=60, help="tasks per env in the eval comparison")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2, help="eval rounds of each mode (orders alternate)")
    args = parser.parse_args()
    print(f"# {platform.node()} · {platform.processor() or platform.machine()} · "
          f"{len(__import__('os').sched_getaffinity(0))} cores · Python {platform.python_version()} · "
          f"{time.strftime('%Y-%m-%d %H:%M')}")
    with tempfile.TemporaryDirectory(prefix="bench-stack-") as tmp:
        root = Path(tmp)
        from agent_rl.models.tiny import init_tiny_model

        started = time.perf_counter()
        model = init_tiny_model(root / "tiny", seed=0)
        print(f"model init (in-process, once): {time.perf_counter() - started:.1f} s")

        ups, downs, per_service = [], [], []
        for i in range(args.ups):
            state_dir = root / f"state-{i}"
            total, healthy = cold_up(state_dir, model)
            started = time.perf_counter()
            if i < args.ups - 1:
                down(state_dir)
                downs.append(time.perf_counter() - started)
            ups.append(total)
            per_service.append(healthy)
            print(f"up #{i + 1}: {total:.2f} s to all healthy · "
                  + " · ".join(f"{n} {t:.1f}" for n, t in sorted(healthy.items(), key=lambda kv: kv[1])))
        print(f"\ncold stack up → all healthy: median {statistics.median(ups):.2f} s "
              f"(min {min(ups):.2f}, max {max(ups):.2f}, n={len(ups)}); "
              f"stack down: median {statistics.median(downs):.2f} s" if downs else "")
        for name in sorted(per_service[0]):
            print(f"  {name:<8} healthy after median {statistics.median(p[name] for p in per_service):.2f} s")

        state_dir = root / f"state-{args.ups - 1}"
        try:
            running = endpoints(state_dir)
            urls = {server: running.tool_servers[server][0] for server in ENVS.values()}
            results: dict[str, list[tuple[int, float]]] = {"in-process": [], "stack (HTTP)": []}
            for r in range(args.rounds):
                order = ["in-process", "stack (HTTP)"] if r % 2 == 0 else ["stack (HTTP)", "in-process"]
                for mode in order:
                    episodes, seconds = asyncio.run(eval_round(None if mode == "in-process" else urls,
                                                               args.limit, args.concurrency))
                    results[mode].append((episodes, seconds))
                    print(f"round {r + 1} {mode:<13}: {episodes} episodes in {seconds:.2f} s "
                          f"= {episodes / seconds:.1f} episodes/s")
        finally:
            report = down(state_dir)
        rate = {mode: sum(e for e, _ in runs) / sum(s for _, s in runs) for mode, runs in results.items()}
        print(f"\nscripted eval ({', '.join(ENVS)}; {args.limit} tasks each, concurrency {args.concurrency}):")
        print("| mode | episodes/s | ratio to in-process |\n|---|---:|---:|")
        for mode, value in rate.items():
            print(f"| {mode} | {value:.1f} | {value / rate['in-process']:.2f} |")
        print(f"final down left {len(report.leftovers_killed)} processes to kill")


if __name__ == "__main__":
    main()
