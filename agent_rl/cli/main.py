"""`agent-rl`: the command line.

Each command group lives in its own module with an `add_parser(subparsers)` function;
add a module to `COMMANDS` to add a command. Errors that agent-rl raises on purpose
print as one line (`error: ...`) with exit code 2; only genuine bugs print a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from agent_rl.cli._common import err_console
from sandbox.errors import AgentRLError

COMMANDS = [
    "agent_rl.cli.envs",
    "agent_rl.cli.serve",
    "agent_rl.cli.evaluate",
    "agent_rl.cli.gui",
    "agent_rl.cli.sandbox",
    "agent_rl.cli.model",
    "agent_rl.cli.search",
    "agent_rl.cli.stack",
    "agent_rl.cli.train",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agent-rl", description="RL for LLM agents in tool-using environments.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        importlib.import_module(module).add_parser(commands)
    return parser


def one_line(exc: BaseException) -> str:
    """An error as one line: pydantic errors as `field: problem; …`, others' first line."""
    if isinstance(exc, ValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()[:3])
        return f"invalid {exc.title}: {problems}"
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror or type(exc).__name__}: {exc.filename}"
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        # `key=value` overrides may follow flags (`train CONFIG --resume steps=5`); argparse
        # only collects positionals before the first flag, so pick up the rest here.
        if hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
            args.overrides = [*args.overrides, *extra]
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except (AgentRLError, ValidationError, ValueError, OSError) as exc:
        err_console.print(f"[red]error:[/red] {one_line(exc)}", highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
