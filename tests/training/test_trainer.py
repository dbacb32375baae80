"""The trainer end to end on the nano model and the arithmetic env: SFT warm start,
evaluation, asynchronous GRPO steps, metrics, checkpoints, plot — and resume after a
kill -9 without losing what was written."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from agent_rl.learner import CheckpointError, latest_checkpoint, load_checkpoint
from agent_rl.training import TrainConfig, run_training
from agent_rl.training.metrics import read_metrics
from agent_rl.trajectory_io import read_trajectories
from tests.conftest import AGENT_RL, REPO

SMALL = {
    "seed": 0, "steps": 2,
    "model": {"init_preset": "nano"},
    "envs": [{"id": "arith-easy-v0", "kwargs": {"max_turns": 2, "tool_schemas_in_prompt": False, "num_tasks": 40}}],
    "rollout": {"group_size": 4, "groups_per_step": 2, "max_concurrency": 8, "max_turns": 2,
                "max_tokens_per_turn": 24, "max_total_tokens": 512},
    "learner": {"optimizer": {"lr": 1e-3}},
    "sft": {"demos": {"episodes": 16, "kinds": {"reference": 0.5, "wrong": 0.5}}, "epochs": 1, "batch_size": 8},
    "eval": {"env_kwargs": {"split": "test"}, "num_tasks": 4},
    "checkpoint_every": 1, "tensorboard": True,
}


def _config(run_dir: Path, **changes) -> TrainConfig:  # type: ignore[no-untyped-def]
    return TrainConfig.model_validate({**SMALL, "run_dir": str(run_dir), **changes})


def test_train_writes_metrics_checkpoints_plot_and_resumes(tmp_path: Path) -> None:
    run = tmp_path / "run"
    summary = run_training(_config(run), console=False)
    assert summary.steps == 2 and list(summary.evals) == ["base", "after-sft", "step-2"]
    steps = read_metrics(run)
    assert [r["step"] for r in steps] == [1, 2]
    for key in ("reward/mean", "rollout/pass_rate", "rollout/tool_calls_per_episode", "loss/total",
                "learner/grad_norm", "learner/tokens_per_s", "rollout/staleness_mean", "rollout/env_time_frac",
                "perf/tokens_per_s", "time/weight_sync_s"):
        assert key in steps[0], key
    assert read_metrics(run, phase="sft") and read_metrics(run, phase="eval")
    assert (run / "reward_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any((run / "tensorboard").iterdir())
    assert len(list(read_trajectories(run / "demos.jsonl"))) == 16
    trained = list(read_trajectories(run / "trajectories.jsonl"))
    assert len(trained) >= 2 * 2 * 4  # every trained group (and maybe groups still in flight) is on disk
    assert {v for t in trained for v in t.policy_version if v >= 0} <= {0, 1, 2}
    ckpt = latest_checkpoint(run)
    assert ckpt is not None and load_checkpoint(ckpt).trainer_state["step"] == 2
    assert json.loads((run / "summary.json").read_text())["steps"] == 2

    with pytest.raises(FileExistsError, match="--resume to continue"):
        run_training(_config(run, steps=3), console=False)
    resumed = run_training(_config(run, steps=3), resume=True, console=False)
    assert resumed.steps == 3
    assert [r["step"] for r in read_metrics(run)] == [1, 2, 3]
    assert len(read_metrics(run, phase="sft")) == len(read_metrics(tmp_path / "run", phase="sft"))  # no second SFT
    assert load_checkpoint(latest_checkpoint(run)).trainer_state["version"] == 3  # type: ignore[arg-type]


@pytest.mark.slow
def test_kill_9_mid_run_loses_nothing_written_and_resume_continues(tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = tmp_path / "config.json.yaml"
    config.write_text(json.dumps({**SMALL, "run_dir": str(run), "steps": 50, "eval": None, "sft": None,
                                  "plot": False, "tensorboard": False}))
    proc = subprocess.Popen([*AGENT_RL, "train", str(config)], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            found = latest_checkpoint(run)
            try:
                if found is not None and load_checkpoint(found).trainer_state["step"] >= 2:
                    break
            except CheckpointError:  # pruned between the lookup and the read: look again
                pass
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.5)
        else:
            pytest.fail("no checkpoint within 240 s")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    written = list(read_trajectories(run / "trajectories.jsonl"))  # a torn last line is tolerated
    assert len(written) >= 16
    step = load_checkpoint(latest_checkpoint(run)).trainer_state["step"]  # type: ignore[arg-type]
    result = subprocess.run([*AGENT_RL, "train", str(config), f"steps={step + 1}", "--resume"], check=False, cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "resuming from" in result.stdout
    steps = [r["step"] for r in read_metrics(run)]
    assert steps == sorted(set(steps)) and steps[-1] == step + 1  # rows after the checkpoint were redone, not doubled
    assert len(list(read_trajectories(run / "trajectories.jsonl"))) > len(written)


def test_overwrite_clears_the_old_run_screenshots_included(tmp_path: Path) -> None:
    from agent_rl.training.trainer import Trainer

    run = tmp_path / "run"
    for name in ("trajectories.jsonl", "demos.jsonl"):
        (run / f"{name}.images" / "ab").mkdir(parents=True)
        (run / f"{name}.images" / "ab" / "old.png").write_bytes(b"\x89PNG")
        (run / name).write_text("old\n")
    (run / "notes.txt").write_text("the user's own file\n")
    with pytest.raises(FileExistsError, match="--overwrite to start over"):
        Trainer(_config(run))._prepare_run_dir()
    Trainer(_config(run), overwrite=True)._prepare_run_dir()
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]  # only what the trainer writes is removed
