"""The whole process stack on this machine: every tool server of the default definition
and the model server (the tiny model) on 127.0.0.1, used by URL — one scripted episode
per environment and one rollout of the tiny model — then one tool server is killed and
comes back healthy, and `stack down` leaves no process behind."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest
import yaml

import envs
from agent_rl.evaluation import evaluate
from agent_rl.stack import endpoints, load_config, status
from agent_rl.stack.state import pid_alive, read_plan, stack_processes
from tests.conftest import run_cli
from tool_servers.local import free_port

#: The env that proves each tool server; servers not listed use the first env registered for them.
ENV_FOR = {"code": "code-v0", "sql": "sql-v0", "search": "search-v0"}


def env_for(server: str) -> str | None:
    if server in ENV_FOR:
        return ENV_FOR[server]
    for spec in envs.list():
        factory = spec.load() if isinstance(spec.entry_point, str) else spec.entry_point
        if getattr(factory, "tool_server", None) == server:
            return spec.id
    return None


@pytest.mark.slow
def test_process_stack_end_to_end(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = load_config()
    for spec in config.services.values():  # the default definition, on ports free right now
        spec.port = free_port() if spec.port is not None else None
    definition = tmp_path / "stack.yaml"
    definition.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    state_dir = tmp_path / "state"
    started = time.monotonic()
    result = run_cli("stack", "up", "--config", str(definition), "--state-dir", str(state_dir),
                     "--model", str(tiny_model_dir), "--timeout", "240")
    stack_id = read_plan(state_dir.resolve()).stack_id if (state_dir / "plan.json").exists() else ""
    try:
        assert result.returncode == 0, result.stderr + result.stdout
        assert "model      healthy http://127.0.0.1:" in result.stderr  # progress lines
        up_s = time.monotonic() - started
        state, alive = status(state_dir)
        assert alive and state.phase == "running"
        running = endpoints(state_dir)
        assert {"code", "sql", "search"} <= set(running.tool_servers) and running.model_url

        # one scripted episode per environment, by URL, through the CLI's --stack
        env_ids = [e for server in running.tool_servers if (e := env_for(server))]
        args = [arg for e in env_ids for arg in ("--env", e)]
        result = run_cli("eval", "--stack", str(state_dir), *args, "--limit", "1", "--out", str(tmp_path / "ep.jsonl"))
        assert result.returncode == 0, result.stderr
        records = [json.loads(line) for line in (tmp_path / "ep.jsonl").read_text().splitlines()]
        assert sorted(r["env_id"] for r in records) == sorted(env_ids)
        assert all(r["status"] == "completed" and r["success"] for r in records), records

        # one rollout of the tiny model served by the stack, tools by URL
        result = run_cli("eval", "--stack", str(state_dir), "--model", "stack", "--env", "code-v0", "--limit", "1",
                         "--max-turns", "2", "--max-tokens-per-turn", "16", "--out", str(tmp_path / "rollout"))
        assert result.returncode == 0, result.stderr
        trajectories = [json.loads(line) for path in (tmp_path / "rollout").glob("*.jsonl")
                        for line in path.read_text().splitlines() if line.strip()]
        assert len(trajectories) == 1 and trajectories[0]["status"] != "env_error", trajectories

        # kill one tool server: the supervisor restarts it and it serves again
        sql = state.instance("sql")
        os.kill(sql.pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            after = status(state_dir)[0].instance("sql")
            if after.status == "healthy" and after.restarts == 1:
                break
            time.sleep(0.2)
        assert after.status == "healthy" and after.restarts == 1 and after.pid != sql.pid, after
        assert httpx.get(f"{after.url}/health", timeout=5).status_code == 200
        summary, _ = asyncio.run(evaluate("sql-v0", "scripted", limit=1, server_url=after.url))
        assert summary.pass_rate == 1.0 and summary.env_errors == 0
        result = run_cli("stack", "status", "--state-dir", str(state_dir))
        assert result.returncode == 0 and "sql" in result.stdout
        result = run_cli("stack", "logs", "sql", "--state-dir", str(state_dir), "-n", "100")
        assert result.stdout.count("start: ") >= 2  # both runs of sql, in one log
        print(f"stack up to all healthy: {up_s:.1f} s")
    finally:
        down = run_cli("stack", "down", "--state-dir", str(state_dir))
    assert down.returncode == 0, down.stderr
    final, alive = status(state_dir)
    assert not alive and not pid_alive(final.supervisor_pid)
    assert all(not pid_alive(i.pid) for i in final.instances)
    assert stack_id and stack_processes(stack_id) == []  # no process of the stack is left
