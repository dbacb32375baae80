"""The arithmetic environment (`arith-v0`): questions a model answers reliably only by
calling the `python` tool and copying its result — the built-in tool-use task that the
quick start and the SmolLM2 recipe train on."""

from envs.arith.env import ArithEnv
from envs.arith.tasks import ArithTask, generate_tasks

__all__ = ["ArithEnv", "ArithTask", "generate_tasks"]
