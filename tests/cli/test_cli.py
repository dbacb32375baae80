"""The `agent-rl` CLI as users run it (subprocesses, real output)."""

from __future__ import annotations

from tests.conftest import run_cli


def test_envs_list_shows_builtin_envs() -> None:
    result = run_cli("envs", "list")
    assert result.returncode == 0, result.stderr
    assert "code-v0" in result.stdout and "code-stdio-v0" in result.stdout


def test_envs_show_prints_tools_and_first_observation() -> None:
    result = run_cli("envs", "show", "code-stdio-v0")
    assert result.returncode == 0, result.stderr
    assert "tools: python" in result.stdout and "first observation" in result.stdout


def test_eval_scripted_and_wrong_table(tmp_path) -> None:
    out = tmp_path / "episodes.jsonl"
    result = run_cli("eval", "--env", "code-stdio-v0", "--agent", "scripted", "--agent", "wrong", "--out", str(out))
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if "code-stdio-v0" in line]
    assert len(rows) == 2
    assert "scripted" in rows[0] and "1.000" in rows[0]
    assert "wrong" in rows[1] and "0.000" in rows[1]
    assert len(out.read_text().splitlines()) >= 2 * 20


def test_unknown_env_is_one_line_and_exit_2() -> None:
    result = run_cli("eval", "--env", "code-v9", "--agent", "scripted")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: unknown environment 'code-v9'")
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_unknown_agent_and_bad_args_exit_2() -> None:
    result = run_cli("eval", "--env", "code-v0", "--agent", "scripted-v2")
    assert result.returncode == 2 and "Did you mean 'scripted'" in result.stderr
    result = run_cli("eval", "--env", "code-v0", "--env-arg", "max_turns")
    assert result.returncode == 2 and "KEY=VALUE" in result.stderr
    result = run_cli("envs", "show", "nope-v0")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_scripted_agent_without_references_is_one_line() -> None:
    from tests.conftest import REPO

    path = REPO / "tests" / "code" / "data" / "livecodebench_sample.jsonl"
    assert_one_line_error(run_cli("eval", "--env", "code-v0", "--env-arg", f"tasks={path}", "--agent", "scripted"),
                          "no reference solution")


def test_serve_misconfigurations_are_one_line() -> None:
    assert_one_line_error(run_cli("serve", "code", "--option", "backend=nope"), "unknown sandbox backend")
    assert_one_line_error(run_cli("serve", "code", "--option", "bogus=1"), "bogus")
    assert_one_line_error(run_cli("serve", "nope"), "unknown tool server")
    assert_one_line_error(run_cli("serve", "code", "--max-sessions", "0"), "max_sessions")


def test_eval_argument_errors_are_one_line(tmp_path) -> None:
    assert_one_line_error(run_cli("eval", "--env", "code-v0", "--limit", "0"), "--limit")
    assert_one_line_error(run_cli("eval", "--env", "code-v0", "--out", str(tmp_path)), "directory")
    assert_one_line_error(run_cli("eval", "--env", "code-v0", "--env-arg", "tasks=["), "YAML")


def test_random_agent_is_reproducible(tmp_path) -> None:
    import json

    outputs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.jsonl"
        result = run_cli("eval", "--env", "code-stdio-v0", "--agent", "random", "--limit", "2", "--out", str(out))
        assert result.returncode == 0, result.stderr
        outputs.append(sorted((r["task_id"], json.dumps(r["messages"])) for r in map(json.loads, out.read_text().splitlines())))
    assert outputs[0] == outputs[1]


def test_eval_a_model_end_to_end_and_resume(tiny_model_dir, tmp_path) -> None:
    out = tmp_path / "run"
    args = ("eval", "--env", "code-stdio-v0", "--model", str(tiny_model_dir), "--limit", "3", "--n", "2",
            "--max-tokens-per-turn", "32", "--max-turns", "2", "--out", str(out))
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    assert "pass@1" in first.stdout and "pass@2" in first.stdout
    lines = (out / "trajectories.jsonl").read_text().splitlines()
    assert len(lines) == 6 and (out / "report.md").exists() and (out / "report.json").exists()
    second = run_cli(*args)  # resume: every task is finished, nothing runs again
    assert second.returncode == 0, second.stderr
    assert (out / "trajectories.jsonl").read_text().splitlines() == lines
    # The n samples of a task are independent draws (a shared per-request seed once made them identical).
    from agent_rl.trajectory_io import read_trajectories

    by_task: dict[str, list[list[int]]] = {}
    for t in read_trajectories(out / "trajectories.jsonl"):
        by_task.setdefault(t.task_id, []).append(t.response_ids)
    assert any(samples[0] != samples[1] for samples in by_task.values())


def test_eval_model_argument_errors_are_one_line(tmp_path) -> None:
    assert_one_line_error(run_cli("eval", "--env", "code-v0", "--model", str(tmp_path / "missing")),
                          "neither a URL nor a model directory")
    assert_one_line_error(run_cli("eval", "--env", "code-v0", "--model", "http://127.0.0.1:9"), "--tokenizer")
