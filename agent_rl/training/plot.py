"""The reward curve of a run as a PNG (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

from agent_rl.training.metrics import read_metrics

__all__ = ["plot_reward_curve"]


def _smooth(values: list[float], window: int) -> list[float]:
    out, acc = [], []
    for v in values:
        acc.append(v)
        acc = acc[-window:]
        out.append(sum(acc) / len(acc))
    return out


def plot_reward_curve(run_dir: str | Path, out: str | Path | None = None, *, title: str = "") -> Path:
    """Plot train reward (raw and smoothed), tool calls per episode and held-out evals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [r for r in read_metrics(run_dir) if r.get("reward/mean") is not None]
    evals = [r for r in read_metrics(run_dir, phase="eval") if r.get("eval/pass_at_1") is not None]
    target = Path(out) if out else Path(run_dir) / "reward_curve.png"
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    if train:
        steps = [r["step"] for r in train]
        rewards = [r["reward/mean"] for r in train]
        ax.plot(steps, rewards, color="tab:blue", alpha=0.3, label="train reward (per step)")
        ax.plot(steps, _smooth(rewards, 5), color="tab:blue", label="train reward (5-step mean)")
        tools = [r.get("rollout/tool_calls_per_episode") for r in train]
        if any(t is not None for t in tools):
            ax.plot(steps, [t if t is not None else float("nan") for t in tools], color="tab:green",
                    linestyle="--", label="tool calls / episode")
    if evals:
        ax.plot([r["step"] for r in evals], [r["eval/pass_at_1"] for r in evals], "o", color="tab:red",
                label="held-out pass@1 (each evaluation)")
    ax.set_xlabel("training step")
    ax.set_ylabel("reward / rate")
    ax.set_title(title or f"agent-rl: {Path(run_dir).name}")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(target)
    plt.close(fig)
    return target
