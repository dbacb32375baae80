"""`agent-rl eval`: run agents or a model on envs and print a results table.

Without `--model`: model-free agents (`scripted`, `wrong`, `random`) check an env and
its tool server end to end. With `--model PATH|URL`: a benchmark run through the
rollout manager — pass@1 / pass@k, trajectories and a report in `--out` (resumable).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from rich.table import Table

from agent_rl.cli._common import console, err_console, parse_kv


def cmd_eval(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be ≥ 1, got {args.limit}")
    args.server_urls = _server_urls(args)
    if args.model:
        return _eval_model(args)
    return _eval_agents(args)


def _tool_server_of(env_id: str) -> str | None:
    """The tool-server name an env uses (`ToolEnv.tool_server`), None for envs without one."""
    import envs

    factory = envs.spec(env_id).load()
    return getattr(factory, "tool_server", None) if isinstance(factory, type) else None


def _server_urls(args: argparse.Namespace) -> dict[str, str]:
    """env id → tool-server URL, from `--server-url` (every env), `--stack DIR` (each env
    gets the stack's server of its kind) and `--tool-server NAME=URL` (which win). Envs
    left out use an in-process server. With `--model stack`, sets the model URL and
    tokenizer from the stack too."""
    from sandbox.errors import AgentRLError

    servers: dict[str, str] = {}
    if args.stack is not None:
        from agent_rl.stack import endpoints

        if args.server_url:
            raise AgentRLError("pass --stack or --server-url, not both")
        running = endpoints(args.stack)
        servers.update({name: urls[0] for name, urls in running.tool_servers.items()})
        if args.model == "stack":
            if running.model_url is None:
                raise AgentRLError(f"the stack in {args.stack} runs no healthy model service")
            args.model = running.model_url
            args.tokenizer = args.tokenizer or running.model_dir
    elif args.model == "stack":
        raise AgentRLError("--model stack needs --stack DIR (the running stack's state dir, e.g. runs/stack)")
    for name, url in parse_kv(args.tool_server).items():
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise AgentRLError(f"--tool-server {name}=URL needs an http(s) URL, got {url!r}")
        servers[name] = url
    if args.server_url:
        return dict.fromkeys(args.env, args.server_url)
    urls: dict[str, str] = {}
    for env_id in args.env:
        name = _tool_server_of(env_id) if servers else None
        if name is None:
            continue
        if name not in servers:
            raise AgentRLError(f"env {env_id!r} needs tool server {name!r}, which is not given "
                               f"(have: {', '.join(sorted(servers)) or 'none'}); add --tool-server {name}=URL "
                               f"or run it in the stack")
        urls[env_id] = servers[name]
    return urls


def _progress():  # type: ignore[no-untyped-def]  # rich's Progress, imported lazily
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("{task.fields[rate]}"), console=err_console, transient=True)


def _eval_agents(args: argparse.Namespace) -> int:
    from agent_rl.agents import AGENTS
    from agent_rl.evaluation import evaluate

    args.agent = args.agent or ["scripted"]
    if args.out is not None and args.out.is_dir():
        raise ValueError(f"--out must be a file path for agent runs, {args.out} is a directory")
    for name in args.agent:
        AGENTS.get(name)  # unknown agent: fail before any work
    env_kwargs = parse_kv(args.env_arg)
    summaries = []
    with _progress() as progress:
        for env_id in args.env:
            for agent in args.agent:
                bar = progress.add_task(f"{env_id} × {agent}", total=None, rate="")
                summary, _ = asyncio.run(evaluate(
                    env_id, agent, n=args.n, limit=args.limit, concurrency=args.concurrency,
                    env_kwargs=env_kwargs, server_url=args.server_urls.get(env_id), out=args.out, seed=args.seed,
                    on_episode=lambda _r, bar=bar: progress.advance(bar)))
                summaries.append(summary)
    table = Table(title="Evaluation", caption="mean reward and pass rate exclude env errors (infrastructure failures)")
    for column in ("env", "agent", "tasks", "episodes", "mean reward", "pass rate", "env errors",
                   "turns/ep", "tool calls/ep", "time (s)"):
        left = column in ("env", "agent")
        table.add_column(column, justify="left" if left else "right", no_wrap=left)
    for s in summaries:
        table.add_row(s.env_id, s.agent, str(s.tasks), str(s.episodes), f"{s.mean_reward:.3f}",
                      f"{s.pass_rate:.3f}", str(s.env_errors), f"{s.mean_turns:.2f}",
                      f"{s.mean_tool_calls:.2f}", f"{s.duration_s:.1f}")
    console.print(table)
    if args.out:
        console.print(f"episodes written to {args.out}")
    return 0


def _eval_model(args: argparse.Namespace) -> int:
    from agent_rl.benchmark.runner import run_benchmark
    from agent_rl.engines import SamplingParams, make_engine
    from agent_rl.images import image_store_for
    from agent_rl.rollout import AgentLoop, ChatRenderer, LoopBudget

    is_url = args.model.startswith(("http://", "https://"))
    engine_name = args.engine or ("openai" if is_url else "hf")
    tokenizer_path = args.tokenizer or (None if is_url else args.model)
    if tokenizer_path is None:
        raise ValueError("--tokenizer PATH is needed with a model URL (prompts are rendered locally, as token ids)")
    if not is_url and not Path(args.model).is_dir():
        raise ValueError(f"--model {args.model!r} is neither a URL nor a model directory")
    out = args.out or Path("runs") / f"eval-{time.strftime('%Y%m%d-%H%M%S')}"
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out must be a directory for model runs, {out} is a file")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_path)
    engine_options = parse_kv(args.engine_arg)
    if engine_name == "hf":
        engine_options.setdefault("seed", args.seed)  # seeds the engine's generator, not each request
    engine = (make_engine(engine_name, base_url=args.model, **engine_options) if is_url
              else make_engine(engine_name, model=args.model, **engine_options))
    # No per-request seed: one seed for every request would draw the same random numbers
    # for each of a task's n samples (identical samples, pass@k = pass@1).
    sampling = SamplingParams(max_new_tokens=args.max_tokens_per_turn, temperature=args.temperature)
    budget = LoopBudget(max_turns=args.max_turns, max_total_tokens=args.max_total_tokens,
                        max_tokens_per_turn=args.max_tokens_per_turn)
    loop = AgentLoop(engine, ChatRenderer(tokenizer), sampling, budget, context=args.context,
                     image_store=image_store_for(out / "trajectories.jsonl"))  # screenshots: once, by hash
    env_specs = {env_id: parse_kv(args.env_arg) for env_id in args.env}
    for env_id, url in args.server_urls.items():
        env_specs[env_id]["server_url"] = url

    async def run():  # type: ignore[no-untyped-def]
        try:
            with _progress() as progress:
                bar = progress.add_task(f"{args.model} on {', '.join(args.env)}", total=None, rate="")
                started = time.perf_counter()
                return await run_benchmark(
                    loop, env_specs, model=args.model, n=args.n, limit=args.limit, concurrency=args.concurrency,
                    out_dir=out, seed=args.seed,
                    on_total=lambda total: progress.update(bar, total=total),
                    on_group=lambda group: progress.update(
                        bar, advance=1, rate=f"{sum(t.num_model_tokens for t in group.trajectories)} tok · "
                                             f"{time.perf_counter() - started:.0f} s"))
        finally:
            await engine.aclose()

    report = asyncio.run(run())
    _print_report(report)
    console.print(f"trajectories and report in {out}/ (rerun the same command to resume)")
    return 0


def _print_report(report) -> None:  # type: ignore[no-untyped-def]
    ks = sorted({k for e in report.envs for k in e.pass_at})
    table = Table(title=f"Benchmark: {report.model} ({report.n} samples per task)",
                  caption="env errors are excluded from every rate")
    for column in ["env", "tasks", "episodes", *(f"pass@{k}" for k in ks), "mean reward", "turns/ep",
                   "tool calls/ep", "env errors"]:
        table.add_column(column, justify="left" if column == "env" else "right", no_wrap=column == "env")
    for e in report.envs:
        table.add_row(e.env_id, str(e.tasks), str(e.episodes), *(f"{e.pass_at[k]:.3f}" for k in ks),
                      f"{e.mean_reward:.3f}", f"{e.mean_turns:.2f}", f"{e.mean_tool_calls:.2f}", str(e.env_errors))
    console.print(table)
    metrics = report.metrics
    console.print(f"throughput: {metrics.get('perf/tokens_per_s', 0):.1f} sampled tokens/s, engine busy "
                  f"{100 * metrics.get('perf/engine_busy', 0):.0f}% of the time")


def add_parser(commands: argparse._SubParsersAction) -> None:
    ev = commands.add_parser("eval", help="run agents or a model on envs and print a results table")
    ev.add_argument("--env", action="append", required=True, help="env id (repeatable)")
    ev.add_argument("--agent", action="append", default=None,
                    help="model-free agent (repeatable): scripted, wrong, random; default scripted")
    ev.add_argument("--model", default=None,
                    help="a model directory (in-process engine), a server URL, or `stack` (with --stack)")
    ev.add_argument("--engine", default=None, choices=["hf", "openai", "sglang"],
                    help="engine for --model (default: hf for a directory, openai for a URL)")
    ev.add_argument("--engine-arg", action="append", default=[], metavar="KEY=VALUE",
                    help="engine option (repeatable), e.g. device=cuda dtype=bfloat16")
    ev.add_argument("--tokenizer", default=None, help="tokenizer directory (default: the model directory)")
    ev.add_argument("--n", type=int, default=1, help="samples per task (pass@k up to k = n)")
    ev.add_argument("--limit", type=int, default=None, help="only the first LIMIT tasks of each env")
    ev.add_argument("--concurrency", type=int, default=4, help="episodes running at once (default 4)")
    ev.add_argument("--seed", type=int, default=0, help="base seed; episode seeds derive from it (default 0)")
    ev.add_argument("--temperature", type=float, default=1.0, help="sampling temperature for --model (0: greedy)")
    ev.add_argument("--max-turns", type=int, default=8, help="model turns per episode (default 8)")
    ev.add_argument("--max-tokens-per-turn", type=int, default=512, help="default 512")
    ev.add_argument("--max-total-tokens", type=int, default=4096, help="prompt + response (default 4096)")
    ev.add_argument("--context", choices=("incremental", "rerender", "chat"), default="incremental",
                    help="how the context grows (default incremental); 'chat' lets an OpenAI-compatible server "
                         "render the conversation, images included (vision-language models behind vLLM)")
    ev.add_argument("--server-url", default=None, help="use a running tool server instead of an in-process one")
    ev.add_argument("--stack", type=Path, default=None, metavar="DIR",
                    help="use a running `agent-rl stack` (its state dir, e.g. runs/stack): each env gets the "
                         "stack's tool server by URL; `--model stack` uses its model server")
    ev.add_argument("--tool-server", action="append", default=[], metavar="NAME=URL",
                    help="tool server NAME (code, sql, search, …) at URL, for every env that uses it (repeatable)")
    ev.add_argument("--env-arg", action="append", default=[], metavar="KEY=VALUE",
                    help="env constructor override (repeatable); values are YAML: 3, true, [a, b]")
    ev.add_argument("--out", type=Path, default=None,
                    help="agents: append episodes to this JSONL file; --model: output directory")
    ev.set_defaults(func=cmd_eval)
