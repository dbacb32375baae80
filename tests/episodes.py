"""Playing a scripted episode through an env: the loop the env tests share."""

from __future__ import annotations

from typing import Any


async def play_scripted(env: Any, kind: str, **reset: object) -> tuple[float, dict]:
    """Reset with `reset`, then take the env's scripted `kind` action each turn until the
    episode ends; returns (summed reward, last info)."""
    await env.areset(**reset)
    total, info = 0.0, {}
    for _ in range(env.max_turns):
        _obs, reward, terminated, truncated, info = await env.astep(env.scripted_next_action(kind))
        total += reward
        if terminated or truncated:
            break
    return total, info
