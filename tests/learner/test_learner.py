"""The learner on the tiny real model: updates move the loss, micro-batching is exact,
tool tokens get no gradient, checkpoints resume bit for bit, weights reach the engine."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from agent_rl.algos import AdvantageInputs, AlgoConfig, build_batch, compute_advantages
from agent_rl.engines import SamplingParams
from agent_rl.learner import (
    CheckpointError,
    Learner,
    LearnerConfig,
    LearnerError,
    latest_checkpoint,
    load_checkpoint,
    plan_micro_batches,
    push_weights,
    restore_rng,
    save_checkpoint,
)
from agent_rl.rewards import RewardComposer
from tests.algos.factories import make_group, make_row


def _groups(seed: int = 0):  # type: ignore[no-untyped-def]
    """Two groups of multi-turn episodes (model tokens + tool-output tokens) with mixed rewards."""
    g = torch.Generator().manual_seed(seed)
    groups = []
    for p in range(2):
        rows = []
        for i in range(4):
            turns = [(int(torch.randint(2, 6, (1,), generator=g)), int(torch.randint(1, 4, (1,), generator=g)), 0.0, 1)
                     for _ in range(1 + (i % 2))]
            rows.append(make_row(f"p{p}e{i}", reward=float(i % 2), turns=turns, group_id=f"g{p}",
                                 first_token=100 + 13 * i + 50 * p, prompt=(5, 6, 8 + p)))
        groups.append(make_group(f"g{p}", rows))
    return groups


def _scored(learner: Learner, groups, algo: AlgoConfig):  # type: ignore[no-untyped-def]
    batch = learner.add_signals(build_batch(groups, pad_token_id=0))
    batch = asyncio.run(RewardComposer.from_config(algo.rewards).score(batch))
    adv = compute_advantages(AdvantageInputs.from_batch(batch), algo.advantage)
    return batch.with_advantages(adv.advantages_BT, adv.returns_BT)


def _model(path: Path) -> torch.nn.Module:
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)


def _params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_plan_covers_every_row_once_within_budget() -> None:
    lengths = [int(x) for x in torch.randint(1, 60, (40,), generator=torch.Generator().manual_seed(1))]
    plan = plan_micro_batches(lengths, max_tokens=100)
    assert sorted(i for rows in plan for i in rows) == list(range(40))
    for rows in plan:
        assert len(rows) == 1 or len(rows) * max(lengths[i] for i in rows) <= 100


def test_update_moves_the_policy_toward_rewarded_tokens(tiny_model_dir: Path) -> None:
    algo = AlgoConfig()
    learner = Learner(_model(tiny_model_dir), algo, LearnerConfig(optimizer={"lr": 1e-3}, ppo_epochs=1))
    groups = _groups()
    batch = _scored(learner, groups, algo)
    before = learner._score_all(learner.model, batch)[0]
    for _ in range(5):
        metrics = learner.update(batch)
    after = learner._score_all(learner.model, batch)[0]
    adv, mask = batch.advantages_BT, batch.loss_mask_BT
    gain = ((after - before) * adv)[mask].sum()
    assert gain > 0, "logprobs of positive-advantage tokens must rise relative to negative ones"
    assert metrics["learner/grad_norm"] > 0 and metrics["learner/step"] == 5
    assert metrics["learner/trained_tokens"] == batch.num_loss_tokens


def test_micro_batching_gives_the_full_batch_gradient(tiny_model_dir: Path) -> None:
    algo = AlgoConfig()
    grads = []
    for budget in (1, 10_000):  # one row per micro-batch vs everything at once
        learner = Learner(_model(tiny_model_dir), algo, LearnerConfig(micro_batch_tokens=budget,
                                                                      optimizer={"max_grad_norm": None}))
        batch = _scored(learner, _groups(), algo)
        learner.optimizer.step = lambda *a, **k: None  # type: ignore[method-assign]  # keep the weights: compare grads
        learner.update(batch)
        grads.append(torch.cat([p.grad.flatten() for p in learner.model.parameters() if p.grad is not None]))
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-6)


def test_tool_tokens_get_no_gradient(tiny_model_dir: Path) -> None:
    """Gradient w.r.t. the input embeddings is zero at every position after which only
    masked (tool / prompt) tokens are predicted: the loss never reads their logprobs."""
    algo = AlgoConfig()
    learner = Learner(_model(tiny_model_dir), algo)
    batch = _scored(learner, _groups(), algo)
    from agent_rl.algos import LossInputs, compute_loss
    from agent_rl.learner.scoring import score_rows

    scores = score_rows(learner.model, batch, list(range(batch.num_rows)))
    scores.logprobs_BT.retain_grad()
    compute_loss(LossInputs.from_batch(batch, scores.logprobs_BT), algo.loss).loss.backward()
    grad = scores.logprobs_BT.grad
    assert grad is not None
    assert torch.all(grad[~batch.loss_mask_BT] == 0)
    assert torch.any(grad[batch.loss_mask_BT] != 0)


def test_checkpoint_resume_reproduces_the_next_step_bit_for_bit(tiny_model_dir: Path, tmp_path: Path) -> None:
    algo = AlgoConfig()
    config = LearnerConfig(optimizer={"lr": 1e-3, "warmup_steps": 2, "schedule": "cosine"})
    first = Learner(_model(tiny_model_dir), algo, config, total_steps=10)
    batches = [_scored(first, _groups(seed), algo) for seed in range(3)]
    first.update(batches[0])
    first.update(batches[1])
    path = save_checkpoint(tmp_path, 2, model=first.model, learner_state=first.state_dict(),
                           trainer_state={"version": 2})
    first.update(batches[2])
    expected = _params(first.model)

    loaded = load_checkpoint(latest_checkpoint(tmp_path) or path)
    assert loaded.trainer_state == {"step": 2, "version": 2}
    second = Learner(AutoModelForCausalLM.from_pretrained(loaded.model_dir, dtype=torch.float32), algo, config,
                     total_steps=10)
    second.load_state_dict(loaded.learner_state)
    restore_rng(loaded.rng)
    second.update(batches[2])
    got = _params(second.model)
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.equal(expected[key], got[key]), key


def test_checkpoints_are_atomic_and_pruned(tiny_model_dir: Path, tmp_path: Path) -> None:
    model = _model(tiny_model_dir)
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, step, model=model, learner_state={"step": step}, trainer_state={}, keep=2)
    root = tmp_path / "checkpoints"
    assert sorted(p.name for p in root.glob("step-*")) == ["step-000002", "step-000003"]
    assert (root / "latest").read_text().strip() == "step-000003"
    # A crash mid-save leaves a partial directory and maybe a stale pointer: both ignored.
    (root / "step-000004.partial-999").mkdir()
    (root / "latest").write_text("step-000009\n")
    assert latest_checkpoint(tmp_path) == root / "step-000003"
    os.remove(root / "step-000003" / "learner.pt")
    with pytest.raises(CheckpointError, match="missing learner.pt"):
        load_checkpoint(root / "step-000003")
    assert json.loads((root / "step-000002" / "state.json").read_text())["step"] == 2
    # A crash mid-prune leaves a renamed, half-deleted folder: never a checkpoint, swept next save.
    doomed = root / "step-000001.deleting-999"
    doomed.mkdir()
    (doomed / "state.json").write_text('{"step": 1}')
    os.remove(root / "latest")
    assert latest_checkpoint(tmp_path) == root / "step-000003"
    save_checkpoint(tmp_path, 5, model=model, learner_state={"step": 5}, trainer_state={}, keep=2)
    assert sorted(p.name for p in root.iterdir() if p.name != "latest") == ["step-000003", "step-000005"]


def test_missing_signal_sources_are_clear_errors(tiny_model_dir: Path) -> None:
    algo = AlgoConfig.model_validate({"rewards": [{"name": "env_outcome"}, {"name": "implicit_prm"}]})
    with pytest.raises(LearnerError, match="prm_model"):
        Learner(_model(tiny_model_dir), algo)
    with pytest.raises(LearnerError, match="no model directory"):
        Learner(_model(tiny_model_dir), AlgoConfig.model_validate({"loss": {"kl": {"coef": 0.1}}}),
                LearnerConfig(reference_model="/nonexistent"))
    learner = Learner(_model(tiny_model_dir), AlgoConfig())
    with pytest.raises(LearnerError, match="no advantages"):
        learner.update(build_batch(_groups(), pad_token_id=0))


def test_kl_reference_and_value_head_signals(tiny_model_dir: Path) -> None:
    algo = AlgoConfig.model_validate({"advantage": {"name": "gae"}, "loss": {"kl": {"coef": 0.05}}})
    learner = Learner(_model(tiny_model_dir), algo, LearnerConfig(optimizer={"lr": 1e-3}))
    batch = _scored(learner, _groups(), algo)
    assert {"ref_logprobs", "values"} <= set(batch.extras)
    assert torch.equal(batch.extras["ref_logprobs"][batch.loss_mask_BT],
                       learner._score_all(learner.model, batch)[0][batch.loss_mask_BT])  # π_ref = initial policy
    metrics = learner.update(batch)
    assert any(k.startswith("kl") for k in metrics)
    moved = learner._score_all(learner.model, batch)[0]
    assert not torch.equal(moved, batch.extras["ref_logprobs"])  # the reference stayed frozen, the policy moved
    state = learner.state_dict()
    assert state["value_head"] is not None


def test_push_weights_reaches_the_hf_engine(tiny_model_dir: Path) -> None:
    from agent_rl.engines.hf import HFEngine

    learner = Learner(_model(tiny_model_dir), AlgoConfig(), LearnerConfig(optimizer={"lr": 5e-2}))
    batch = _scored(learner, _groups(), AlgoConfig())

    async def main() -> None:
        engine = HFEngine(_model(tiny_model_dir), tokenizer=str(tiny_model_dir))
        try:
            prompt = [5, 6, 7, 8]
            greedy = SamplingParams(max_new_tokens=8, temperature=0.0)
            before = await engine.generate(prompt, greedy)
            for _ in range(3):
                learner.update(batch)
            assert await push_weights(engine, learner.model, 1) == 1
            after = await engine.generate(prompt, greedy)
            assert after.weight_version == 1 and before.weight_version == 0
            with torch.no_grad():
                expected = learner.model.generate(torch.tensor([prompt]), max_new_tokens=8, do_sample=False)[0, 4:]
            assert after.token_ids == expected.tolist()[: len(after.token_ids)]
        finally:
            await engine.aclose()

    asyncio.run(main())
