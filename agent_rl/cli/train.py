"""`agent-rl train CONFIG.yaml [key=value …]` and `agent-rl sft CONFIG.yaml [key=value …]`.

`train` runs the whole recipe of a config (SFT warm start when it has an `sft:`
section, held-out evaluation before and after when it has `eval:`, then RL);
`sft` runs only the warm start and saves the model. Both accept dotted overrides and
`--dry-run` (validate, print the resolved config, exit).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from agent_rl.cli._common import console


def _load(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from agent_rl.training import TrainConfig, load_config

    config = load_config(args.config, args.overrides, model=TrainConfig)
    if args.dry_run:
        console.print_json(config.model_dump_json())
    return config


def cmd_train(args: argparse.Namespace) -> int:
    from agent_rl.training import run_training

    config = _load(args)
    if args.dry_run:
        return 0
    started = time.perf_counter()
    summary = run_training(config, resume=args.resume, overwrite=args.overwrite)
    console.print(f"\n[bold]{config.run_dir}[/bold]: {summary.steps} steps in {time.perf_counter() - started:.0f} s")
    if summary.evals:
        console.print(summary.table(), highlight=False)
    if summary.first_rewards and summary.last_rewards:
        first = sum(summary.first_rewards) / len(summary.first_rewards)
        last = sum(summary.last_rewards) / len(summary.last_rewards)
        console.print(f"train reward: first {len(summary.first_rewards)} steps {first:.3f} → "
                      f"last {len(summary.last_rewards)} steps {last:.3f}")
    if summary.plot:
        console.print(f"reward curve: {summary.plot}")
    return 0


def cmd_sft(args: argparse.Namespace) -> int:
    from agent_rl.training import Trainer

    config = _load(args)
    if args.dry_run:
        return 0
    if config.sft is None:
        raise ValueError(f"{args.config} has no `sft:` section; add one (see configs/quickstart.yaml)")
    out = asyncio.run(Trainer(config).run_sft())
    console.print(f"SFT model saved to {out} (use it as model.path of a training config, or with agent-rl eval --model)")
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    for name, func, help_ in (("train", cmd_train, "train a policy with RL (and an optional SFT warm start)"),
                              ("sft", cmd_sft, "supervised warm start only: train on demonstrations, save the model")):
        p = commands.add_parser(name, help=help_)
        p.add_argument("config", help="a YAML training config (see configs/)")
        p.add_argument("overrides", nargs="*", metavar="key=value", help="dotted overrides, e.g. rollout.group_size=16")
        p.add_argument("--dry-run", action="store_true", help="validate, print the resolved config, exit")
        if name == "train":
            p.add_argument("--resume", action="store_true", help="continue from the run's latest checkpoint")
            p.add_argument("--overwrite", action="store_true",
                           help="start over in a run_dir that already holds a run (deletes its outputs)")
        p.set_defaults(func=func)
