"""Web env throughput and the browser's costs, in real headless Chromium.

Measured in one run:
  raw click     a Playwright click on an element of a MiniWoB++ page, nothing else (the floor);
  env step      `WebEnv.astep` with the scripted reference agent on the served MiniWoB++
                tasks: parse, the protocol (in-process ASGI), the Playwright action, the
                site's status check, bids, the accessibility tree, the observation text;
                steps/s and p50/p99 latency with 1 and 4 concurrent sessions (episodes of
                every task, round robin); latency is per step, steps/s and episodes/s are over
                the wall time of the whole run (resets, i.e. new sessions, included);
  context       opening a browser context + tab (the pool's unit of isolation), and a whole
                session (context, tab, task page loaded and started);
  memory        PSS of the browser's process tree, idle and with N live sessions: per context.

    .venv/bin/python bench/web.py --episodes 52 --sessions 1 4 --contexts 4
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from envs.web import WebEnv
from tool_servers import ToolClient, create_app
from tool_servers.browser import BrowserToolServer
from tool_servers.browser.sites.miniwob import TASKS


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def raw_click(server: BrowserToolServer, n: int) -> list[float]:
    """Playwright clicks on a plain button that does nothing: the cost floor of an action."""
    context, _ = await server.pool.new_context()
    try:
        page = await context.new_page()
        await page.set_content("<button onclick=\"this.dataset.n = (+this.dataset.n || 0) + 1\">b</button>")
        button = page.locator("button")
        times = []
        for _ in range(n):
            start = time.perf_counter()
            await button.click()
            times.append(time.perf_counter() - start)
        return times
    finally:
        await server.pool.release(context)


async def env_steps(client: ToolClient, sessions: int, episodes: int) -> tuple[list[float], float, int]:
    """Step latencies, wall time of the stepping, successes; `sessions` envs in parallel."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(episodes):
        queue.put_nowait(i)
    latencies: list[float] = []
    stepping = 0.0
    solved = 0

    async def worker() -> None:
        nonlocal stepping, solved
        env = WebEnv("miniwob", tool_client=client, max_turns=16)
        try:
            while not queue.empty():
                i = queue.get_nowait()
                await env.areset(seed=i, options={"task_index": i % len(TASKS)})
                for _ in range(env.max_turns):
                    action = env.scripted_next_action("reference")
                    start = time.perf_counter()
                    _obs, reward, terminated, truncated, _info = await env.astep(action)
                    latencies.append(time.perf_counter() - start)
                    if terminated or truncated:
                        solved += reward == 1.0
                        break
        finally:
            await env.aclose()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(sessions)))
    stepping = time.perf_counter() - start
    return latencies, stepping, solved


async def context_costs(server: BrowserToolServer, client: ToolClient, n: int) -> dict[str, float]:
    bare = []
    for _ in range(n):
        start = time.perf_counter()
        context, _ = await server.pool.new_context()
        await context.new_page()
        bare.append(time.perf_counter() - start)
        await server.pool.release(context)
    idle = server.pool.memory_kib()
    opened, full = [], []
    for i in range(n):
        start = time.perf_counter()
        opened.append(await client.create_session({"site": "miniwob", "task": TASKS[i % len(TASKS)], "seed": i}))
        full.append(time.perf_counter() - start)
    await asyncio.sleep(1.0)
    busy = server.pool.memory_kib()
    for session in opened:
        await client.delete_session(session)
    return {"context_p50_ms": 1000 * statistics.median(bare), "session_p50_ms": 1000 * statistics.median(full),
            "idle_mib": idle / 1024, "busy_mib": busy / 1024, "per_context_mib": (busy - idle) / 1024 / n}


async def main(args: argparse.Namespace) -> None:
    server = BrowserToolServer(max_contexts=max(max(args.sessions), args.contexts) + 1)
    client = ToolClient.in_process(create_app(server))
    print(f"# web bench: {platform.node()}, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, {len(TASKS)} MiniWoB++ tasks")
    try:
        await client.delete_session(await client.create_session({"site": "miniwob", "task": "click-test"}))  # warm up
        clicks = await raw_click(server, args.clicks)
        floor = statistics.median(clicks)
        print(f"raw Playwright click: p50 {1000 * floor:.1f} ms, p99 {1000 * pct(clicks, 0.99):.1f} ms")
        print("| sessions | steps | steps/s | episodes/s | step p50 ms | step p99 ms | p50 / raw click | solved |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for sessions in args.sessions:
            latencies, wall, solved = await env_steps(client, sessions, args.episodes)
            p50 = statistics.median(latencies)
            print(f"| {sessions} | {len(latencies)} | {len(latencies) / wall:.1f} | {args.episodes / wall:.2f} | "
                  f"{1000 * p50:.0f} | "
                  f"{1000 * pct(latencies, 0.99):.0f} | {p50 / floor:.1f}x | {solved}/{args.episodes} |")
        costs = await context_costs(server, client, args.contexts)
        print(f"context + tab: p50 {costs['context_p50_ms']:.0f} ms; whole session (task page loaded): "
              f"p50 {costs['session_p50_ms']:.0f} ms")
        print(f"browser PSS: idle {costs['idle_mib']:.0f} MiB, with {args.contexts} sessions "
              f"{costs['busy_mib']:.0f} MiB: {costs['per_context_mib']:.0f} MiB per context")
    finally:
        await client.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=52, help="episodes per concurrency setting")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 4], help="concurrent sessions")
    parser.add_argument("--contexts", type=int, default=4, help="sessions held open for the memory figure")
    parser.add_argument("--clicks", type=int, default=200, help="raw clicks for the floor")
    asyncio.run(main(parser.parse_args()))
