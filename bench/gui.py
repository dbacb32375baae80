"""Desktop server costs on real Xvfb displays with the real Tk mini-apps and xdotool.

Measured in one run, through the in-process server (ASGI transport, as the env uses it):
  floor     the same display, no protocol: a bare `xdotool click` + an `mss` grab encoded
            as PNG — what an action and a screenshot cost by themselves (the baseline;
            half the pairs before the episodes, half after, so a load change on a shared
            machine shows in both);
  step      one tool call = an action (the scripted reference agent's next click, typing or
            key on the current screen) + the observation it answers with (settle pause,
            a11y tree from the app, PNG screenshot): p50/p99 with 1 and 2 concurrent
            sessions (the default `max_displays` of a 2-core machine), episodes of every
            mini-app round robin; steps/s over the wall time of the whole run (session
            starts included);
  start     opening a session: Xvfb up, the app's window mapped and answering (p50/p99);
  memory    RSS and PSS of each session's processes (Xvfb + the app), one live session per
            app, opened one after another; PSS splits shared pages (Tk, Python, libX11) with
            every other process mapping them, so it drops when other displays run.

    .venv/bin/python bench/gui.py            # 20 episodes per setting
    .venv/bin/python bench/gui.py --quick    # 5 episodes per setting, a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from envs.gui.solvers import SOLVERS
from tool_servers import ToolClient, create_app
from tool_servers.desktop import DesktopToolServer
from tool_servers.desktop.apps import APPS, app_module, goal_for
from tool_servers.types import ToolCall


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process, from /proc/PID/smaps_rollup."""
    fields: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            name, _, rest = line.partition(":")
            if name in ("Rss", "Pss"):
                fields[name] = int(rest.split()[0])
    return fields["Rss"], fields["Pss"]


def session_of(server: DesktopToolServer, app: str, seed: int) -> Any:
    return next(s for s in server.live if s.params.app == app and s.params.seed == seed)


async def floor(server: DesktopToolServer, client: ToolClient, n: int) -> list[float]:
    """A bare xdotool click on empty space + a PNG screenshot, on a live session's display."""
    sid = await client.create_session({"app": "form", "seed": 999})
    display = session_of(server, "form", 999).display
    try:
        times = []
        for _ in range(n):
            start = time.perf_counter()
            await display.xdotool("mousemove", "630", "470", "click", "1")
            await display.screenshot_png()
            times.append(time.perf_counter() - start)
        return times
    finally:
        await client.delete_session(sid)


async def episodes(client: ToolClient, sessions: int, count: int) -> dict[str, Any]:
    """`count` scripted episodes over `sessions` workers; per-step and per-start latencies."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    steps: list[float] = []
    starts: list[float] = []
    solved = 0

    async def worker() -> None:
        nonlocal solved
        while not queue.empty():
            i = queue.get_nowait()
            app, seed = APPS[i % len(APPS)], 100 + i
            target = goal_for(app, seed)["target"]
            start = time.perf_counter()
            sid = await client.create_session({"app": app, "seed": seed, "observation": "screenshot"})
            starts.append(time.perf_counter() - start)
            try:
                data = (await client.call(sid, ToolCall("observe", {}))).data
                for _ in range(40):
                    name, args = SOLVERS[app](target, data["elements"])
                    start = time.perf_counter()
                    data = (await client.call(sid, ToolCall(name, args))).data
                    steps.append(time.perf_counter() - start)
                    if name == "done":
                        break
                solved += (await client.evaluate(sid, {})).reward == 1.0
            finally:
                await client.delete_session(sid)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(sessions)))
    return {"steps": steps, "starts": starts, "wall": time.perf_counter() - start, "solved": solved}


async def memory(server: DesktopToolServer, client: ToolClient) -> list[tuple[str, int, int, int]]:
    """(app, Xvfb RSS, app RSS, PSS of both) in KiB, one session per app, one at a time."""
    rows = []
    for app in APPS:
        sid = await client.create_session({"app": app, "seed": 0, "observation": "screenshot"})
        try:
            await client.call(sid, ToolCall("observe", {}))  # drawn and grabbed once, as in use
            display = session_of(server, app, 0).display
            (xvfb_rss, xvfb_pss), (app_rss, app_pss) = memory_kib(display.xvfb.pid), memory_kib(display.app.pid)
            rows.append((app, xvfb_rss, app_rss, xvfb_pss + app_pss))
        finally:
            await client.delete_session(sid)
    return rows


async def main(args: argparse.Namespace) -> None:
    server = DesktopToolServer(max_displays=max(args.sessions), display_wait_s=60.0)
    client = ToolClient.in_process(create_app(server))
    load = os.getloadavg()
    print(f"# gui bench: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{len(APPS)} mini-apps, 640x480; load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    try:
        await client.delete_session(await client.create_session({"app": "form"}))  # warm up (imports, fonts)
        base = await floor(server, client, args.clicks // 2)
        runs = {sessions: await episodes(client, sessions, args.episodes) for sessions in args.sessions}
        base += await floor(server, client, args.clicks - args.clicks // 2)
        base_p50 = statistics.median(base)
        print(f"floor (xdotool click + mss PNG grab): p50 {1000 * base_p50:.1f} ms, p99 {1000 * pct(base, 0.99):.1f} ms")
        print("| sessions | episodes | steps | steps/s | step p50 | step p99 | p50 / floor "
              "| start p50 | start p99 | solved |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for sessions, run in runs.items():
            steps, starts = run["steps"], run["starts"]
            p50 = statistics.median(steps)
            print(f"| {sessions} | {args.episodes} | {len(steps)} | {len(steps) / run['wall']:.1f} | "
                  f"{1000 * p50:.0f} ms | {1000 * pct(steps, 0.99):.0f} ms | {p50 / base_p50:.1f}x | "
                  f"{1000 * statistics.median(starts):.0f} ms | {1000 * pct(starts, 0.99):.0f} ms | "
                  f"{run['solved']}/{args.episodes} |")
        print("| app | Xvfb RSS | app RSS | session RSS | session PSS |")
        print("|---|---:|---:|---:|---:|")
        for app, xvfb_rss, app_rss, pss in await memory(server, client):
            print(f"| {app} ({app_module(app).TITLE}) | {xvfb_rss / 1024:.1f} MiB | {app_rss / 1024:.1f} MiB | "
                  f"{(xvfb_rss + app_rss) / 1024:.1f} MiB | {pss / 1024:.1f} MiB |")
    finally:
        await client.aclose()
    load = os.getloadavg()
    print(f"load average at end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=20, help="scripted episodes per concurrency setting")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2], help="concurrent sessions")
    parser.add_argument("--clicks", type=int, default=100, help="bare click + grab pairs for the floor")
    parser.add_argument("--quick", action="store_true", help="5 episodes and 20 floor pairs: a smoke run")
    parsed = parser.parse_args()
    if parsed.quick:
        parsed.episodes, parsed.clicks = 5, 20
    asyncio.run(main(parsed))
