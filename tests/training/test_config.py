"""Training configs: YAML + dotted overrides → a validated `TrainConfig`, with clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_rl.training import ConfigError, TrainConfig, apply_override, load_config
from tests.conftest import REPO, run_cli


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_overrides_reach_nested_sections_and_parse_yaml_scalars(tmp_path: Path) -> None:
    path = _write(tmp_path, "envs: [{id: arith-easy-v0}]\n")
    config = load_config(path, ["algo.loss.kl.coef=1e-3", "rollout.group_size=4", "envs.0.kwargs.digits=2",
                                "learner.optimizer.lr=3e-5", "sft.demos.kinds={reference: 1}", "eval.n=2"],
                         model=TrainConfig)
    assert config.algo.loss.kl.coef == pytest.approx(1e-3)
    assert config.rollout.group_size == 4 and config.envs[0].kwargs == {"digits": 2}
    assert config.learner.optimizer.lr == pytest.approx(3e-5)
    assert config.sft is not None and dict(config.sft.demos.kinds) == {"reference": 1}
    assert config.eval is not None and config.eval.n == 2
    assert "ref_logprobs" in config.algo.needs


def test_learner_scores_at_the_rollout_temperature(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, "envs: [{id: arith-easy-v0}]\nrollout: {temperature: 0.7}\n"),
                         model=TrainConfig)
    assert config.learner.temperature == pytest.approx(0.7)


@pytest.mark.parametrize(("text", "overrides", "match"), [
    ("envs: [{id: x}]\nrollout: {group_sise: 4}\n", [], r"rollout\.group_sise: Extra inputs"),
    ("envs: [{id: x}]\nalgo: {advantage: {name: grop}}\n", [], "Did you mean 'grpo'"),
    ("envs: []\n", [], "envs` is empty"),
    ("envs: [{id: x}\n", [], "not valid YAML"),
    ("- a\n- b\n", [], "mapping at the top level"),
    ("envs: [{id: x}]\n", ["rollout.group_size"], "not key=value"),
    ("envs: [{id: x}]\n", ["envs.3.id=y"], "has no item 3"),
    ("envs: [{id: x}]\nengine: {name: openai}\n", [], "needs `url`"),
    ("envs: [{id: x}]\nrollout: {context: chat}\n", [], "chat needs engine.name: openai"),
])
def test_bad_configs_fail_with_the_key_path(tmp_path: Path, text: str, overrides: list[str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_config(_write(tmp_path, text), overrides, model=TrainConfig)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml", model=TrainConfig)


def test_apply_override_refuses_to_descend_into_a_value() -> None:
    data = {"steps": 3}
    with pytest.raises(ConfigError, match="is a value, not a section"):
        apply_override(data, "steps.x=1")


@pytest.mark.parametrize("config", sorted((REPO / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_validate(config: Path) -> None:
    if config.name == "stack.yaml":
        pytest.skip("the stack definition is not a training config")
    result = run_cli("train", str(config), "--dry-run")
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)
    assert resolved["envs"], config


def test_cli_reports_bad_override_in_one_line() -> None:
    result = run_cli("train", str(REPO / "configs" / "quickstart.yaml"), "rollout.group_size=0", "--dry-run")
    assert result.returncode == 2
    assert "rollout.group_size" in result.stderr and "Traceback" not in result.stderr


def test_cli_takes_overrides_after_flags() -> None:
    result = run_cli("train", str(REPO / "configs" / "quickstart.yaml"), "--dry-run", "steps=7", "rollout.group_size=4")
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)
    assert resolved["steps"] == 7 and resolved["rollout"]["group_size"] == 4
    bad = run_cli("train", str(REPO / "configs" / "quickstart.yaml"), "--dry-run", "--bogus")
    assert bad.returncode == 2 and "unrecognized arguments: --bogus" in bad.stderr


@pytest.mark.parametrize(("setting", "threaded"), [("", True), ("engine: {prefill_thread: false}\n", False)])
async def test_the_engine_section_reaches_the_hf_engine(tmp_path: Path, tiny_model_dir: Path, setting: str,
                                                        threaded: bool) -> None:
    import os

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from agent_rl.training.trainer import Trainer

    config = load_config(_write(tmp_path, f"envs: [{{id: arith-easy-v0}}]\n{setting}"), model=TrainConfig)
    engine = Trainer(config, console=False)._make_engine(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                                                         AutoTokenizer.from_pretrained(tiny_model_dir))
    try:
        assert engine.prefill_thread is (threaded and (os.cpu_count() or 1) >= 2)  # type: ignore[attr-defined]
    finally:
        await engine.aclose()
