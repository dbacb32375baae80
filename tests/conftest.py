"""Shared fixtures: real tool servers started with the real CLI on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tool_servers.local import LocalServer, start_local_server

REPO = Path(__file__).resolve().parent.parent
AGENT_RL = [sys.executable, "-m", "agent_rl.cli.main"]


@pytest.fixture(scope="module")
def code_server() -> Iterator[LocalServer]:
    server = start_local_server("code", "--max-sessions", "8", "--max-body-bytes", str(1 << 20))
    yield server
    server.stop()


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([*AGENT_RL, *args], check=False, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-init Qwen2-architecture model with a locally trained tokenizer and a
    tool-use chat template (`agent-rl model init`), built once per test session."""
    from agent_rl.models.tiny import init_tiny_model

    return init_tiny_model(tmp_path_factory.mktemp("tiny-model") / "model", seed=0)


@pytest.fixture(scope="module")
def model_server(tiny_model_dir: Path) -> Iterator[LocalServer]:
    """`agent-rl serve model` on the tiny model (served as "tiny"), on 127.0.0.1."""
    server = start_local_server("model", "--model", str(tiny_model_dir), "--served-model-name", "tiny",
                                timeout_s=120)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tokenizer(tiny_model_dir: Path):
    """The tiny model's tokenizer (with its tool-use chat template)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="session")
def renderer(tokenizer):  # type: ignore[no-untyped-def]  # a ChatRenderer
    from agent_rl.rollout import ChatRenderer

    return ChatRenderer(tokenizer)
