"""`agent-rl stack up | down | status | logs | compose`: the local stack.

`up` runs every tool server and the model server (and, with `--with trainer`, the
trainer) as supervised local processes on 127.0.0.1 — no Docker needed; `compose`
prints the docker-compose file generated from the same definition. See docs/stack.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.table import Table

from agent_rl.cli._common import console, err_console

_STYLE = {"healthy": "green", "failed": "red", "crashed": "red", "unhealthy": "yellow", "backoff": "yellow",
          "skipped": "dim", "stopped": "dim"}


def _config(args: argparse.Namespace):  # type: ignore[no-untyped-def]  # -> StackConfig (lazy import)
    from agent_rl.stack import load_config

    return load_config(args.config)


def cmd_up(args: argparse.Namespace) -> int:
    from agent_rl.stack import up
    from agent_rl.stack.state import InstanceState

    config = _config(args)
    started = time.monotonic()
    err_console.print(f"starting the stack from {args.config or 'the built-in definition'} "
                      f"(state and logs in {args.state_dir}/)")

    def progress(instance: InstanceState) -> None:
        style = _STYLE.get(instance.status, "cyan")
        detail = f" {instance.url}" if instance.status == "healthy" and instance.url else ""
        note = f" — {instance.message}" if instance.message else ""
        err_console.print(f"  {time.monotonic() - started:6.1f} s  {instance.name:<10} "
                          f"[{style}]{instance.status}[/{style}]{detail}{note}", highlight=False)

    state = up(config, args.state_dir, config_source=str(args.config or "built-in"), with_=args.with_ or None,
               only=args.only or None, model=args.model, wait=not args.no_wait, timeout_s=args.timeout,
               on_change=progress)
    if args.no_wait:
        err_console.print(f"supervisor started (pid {state.supervisor_pid}); `agent-rl stack status` to follow")
        return 0
    healthy = sum(1 for i in state.instances if i.status == "healthy")
    err_console.print(f"[green]stack up[/green]: {healthy} services healthy in {time.monotonic() - started:.1f} s; "
                      f"`agent-rl eval --stack {args.state_dir} ...` to use it, `agent-rl stack down` to stop")
    _print_table(state, alive=True)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from agent_rl.stack import down

    report = down(args.state_dir, timeout_s=args.timeout)
    extra = f"; killed {len(report.leftovers_killed)} leftover processes" if report.leftovers_killed else ""
    console.print(f"stack down: stopped {len(report.stopped)} services{extra}")
    return 0


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(time.time() - seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def _print_table(state, alive: bool) -> None:  # type: ignore[no-untyped-def]  # StackState
    phase = state.phase if alive else f"{state.phase} (supervisor not running)"
    table = Table(title=f"stack {state.stack_id}: {phase}")
    for column in ("service", "kind", "status", "url", "pid", "restarts", "up for", "note"):
        table.add_column(column, justify="right" if column in ("pid", "restarts") else "left",
                         no_wrap=column != "note")
    for i in state.instances:
        style = _STYLE.get(i.status, "cyan")
        table.add_row(i.name, i.kind, f"[{style}]{i.status}[/{style}]", "" if i.status == "skipped" else i.url or "", str(i.pid or ""),
                      str(i.restarts), _uptime(i.healthy_since) if i.status == "healthy" else "", i.message)
    console.print(table)


def cmd_status(args: argparse.Namespace) -> int:
    from agent_rl.stack import status

    state, alive = status(args.state_dir)
    if args.json:
        print(json.dumps({"alive": alive, **state.model_dump()}, indent=1))
    else:
        _print_table(state, alive)
    return 0 if alive else 3


def cmd_logs(args: argparse.Namespace) -> int:
    from agent_rl.stack.state import read_log_tail, read_plan

    plan = read_plan(args.state_dir.resolve())
    names = [i.name for i in plan.instances if not i.skipped]
    for name in args.service:
        if name not in names and name != "supervisor":
            from agent_rl.stack.errors import UnknownServiceError
            from sandbox.registry import did_you_mean

            raise UnknownServiceError(f"no service {name!r} in this stack.{did_you_mean(name, names)} "
                                      f"Services: {', '.join(names)}, supervisor")
    chosen = args.service or names
    paths = {n: (args.state_dir / "supervisor.log" if n == "supervisor" else args.state_dir / "logs" / f"{n}.log")
             for n in chosen}
    width = max(len(n) for n in chosen)
    for name, path in paths.items():
        for line in read_log_tail(path, args.lines):
            print(f"{name:<{width}} | {line}")
    if not args.follow:
        return 0
    offsets = {name: path.stat().st_size if path.exists() else 0 for name, path in paths.items()}
    try:
        while True:  # poll: new lines of every log, prefixed by service
            for name, path in paths.items():
                if not path.exists():
                    continue
                with path.open("rb") as handle:
                    handle.seek(offsets[name])
                    data = handle.read()
                    offsets[name] = handle.tell()
                for line in data.decode(errors="replace").splitlines():
                    print(f"{name:<{width}} | {line}", flush=True)
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0


def cmd_compose(args: argparse.Namespace) -> int:
    from agent_rl.stack import render_compose

    sys.stdout.write(render_compose(_config(args), gpu=args.gpu))
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    from agent_rl.stack.control import DEFAULT_STATE_DIR

    stack = commands.add_parser("stack", help="the local stack: tool servers + model server (+ trainer)")
    sub = stack.add_subparsers(dest="stack_command", required=True)

    def common(parser: argparse.ArgumentParser, config: bool = False) -> None:
        parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                            help=f"pids, ports, logs of the running stack (default {DEFAULT_STATE_DIR})")
        if config:
            parser.add_argument("--config", type=Path, default=None,
                                help="stack definition YAML (default: the built-in agent_rl/stack/stack.yaml)")

    up = sub.add_parser("up", help="start the services as local processes; wait until all are healthy")
    common(up, config=True)
    up.add_argument("--with", dest="with_", action="append", default=[], metavar="SERVICE",
                    help="also start a service that is off by default (repeatable), e.g. trainer")
    up.add_argument("--only", action="append", default=[], metavar="SERVICE",
                    help="start only these services and what they depend on (repeatable)")
    up.add_argument("--model", default=None, metavar="DIR",
                    help="model directory for the model service (default: a tiny model made on first up)")
    up.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for all healthy (default 600)")
    up.add_argument("--no-wait", action="store_true", help="return once the supervisor runs")
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="stop every service and the supervisor; leave no process behind")
    common(down)
    down.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for a clean stop (default 60)")
    down.set_defaults(func=cmd_down)

    st = sub.add_parser("status", help="the services as a table (exit 3 when the stack is not running)")
    common(st)
    st.add_argument("--json", action="store_true", help="machine-readable state")
    st.set_defaults(func=cmd_status)

    logs = sub.add_parser("logs", help="the services' logs, prefixed by service")
    common(logs)
    logs.add_argument("service", nargs="*", help="services to show (default all; `supervisor` for its own)")
    logs.add_argument("-n", "--lines", type=int, default=50, help="lines from the end of each log (default 50)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines (Ctrl-C to stop)")
    logs.set_defaults(func=cmd_logs)

    compose = sub.add_parser("compose", help="print the docker-compose file generated from the stack definition")
    common(compose, config=True)
    compose.add_argument("--gpu", action="store_true", help="the GPU override (docker-compose.gpu.yml) instead")
    compose.set_defaults(func=cmd_compose)
