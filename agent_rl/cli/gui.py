"""`agent-rl gui grounding`: render a ScreenSpot-format grounding set from the Tk mini-apps
(desktop server, needs Xvfb) and MiniWoB++ pages (browser server, pixel mode)."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from agent_rl.cli._common import console


def cmd_gui_grounding(args: argparse.Namespace) -> int:
    from envs.gui.grounding.generate import generate

    started = time.perf_counter()
    samples = asyncio.run(generate(args.out, sources=args.source or ["desktop"], apps=args.app or None,
                                   per_app=args.per_app, per_screen=args.per_screen, seed=args.seed,
                                   miniwob_tasks=args.miniwob_task or None))
    images = {s.image_path for s in samples}
    size_kib = sum(p.stat().st_size for p in Path(args.out).rglob("*") if p.is_file()) / 1024
    console.print(f"wrote {len(samples)} samples on {len(images)} screens to {args.out} "
                  f"({size_kib:,.0f} KiB) in {time.perf_counter() - started:.1f} s; "
                  f"evaluate with: agent-rl eval --env gui-grounding-v0 --env-arg tasks={args.out} --agent scripted")
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    gui = commands.add_parser("gui", help="GUI data: grounding sets")
    sub = gui.add_subparsers(dest="gui_command", required=True)
    grounding = sub.add_parser("grounding", help="render a ScreenSpot-format grounding set (JSON + PNGs)")
    grounding.add_argument("--out", type=Path, required=True, help="output folder (screenspot_agentrl.json, images/)")
    grounding.add_argument("--source", action="append", choices=["desktop", "miniwob"],
                           help="where screens come from (repeatable; default: desktop)")
    grounding.add_argument("--app", action="append", metavar="NAME", help="mini-app to render (repeatable; default: all)")
    grounding.add_argument("--miniwob-task", action="append", metavar="NAME",
                           help="MiniWoB++ task to render (repeatable; default: a built-in list)")
    grounding.add_argument("--per-app", type=int, default=3, help="screens per mini-app / MiniWoB++ task (default 3)")
    grounding.add_argument("--per-screen", type=int, default=6, help="samples per screen at most (default 6)")
    grounding.add_argument("--seed", type=int, default=0, help="which elements of a screen become samples")
    grounding.set_defaults(func=cmd_gui_grounding)
