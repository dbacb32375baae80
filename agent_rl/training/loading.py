"""YAML configs with dotted `key=value` overrides, validated into pydantic models.

Why not a config framework: a dict, a dotted-path setter and pydantic give the same
safety (unknown keys fail with their path) with nothing to learn. Values of overrides
are parsed as YAML scalars, so `lr=1e-5` is a float, `kinds={reference: 1}` a mapping
and `path=null` None.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from agent_rl.errors import AgentRLError

__all__ = ["ConfigError", "apply_override", "load_config"]

M = TypeVar("M", bound=BaseModel)


class ConfigError(AgentRLError):
    """A config file or override that cannot be read or does not validate."""


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """Set `a.b.0.c=value` in nested dicts/lists (creating dicts on the way).

    >>> d = {"envs": [{"id": "x"}]}
    >>> apply_override(d, "envs.0.kwargs.digits=2"); apply_override(d, "algo.loss.kl.coef=1e-3")
    >>> d
    {'envs': [{'id': 'x', 'kwargs': {'digits': 2}}], 'algo': {'loss': {'kl': {'coef': 0.001}}}}
    """
    if "=" not in assignment:
        raise ConfigError(f"override {assignment!r} is not key=value (e.g. rollout.group_size=8)")
    key, raw = assignment.split("=", 1)
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(f"override {assignment!r} has an empty key segment")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {assignment!r}: the value is not valid YAML ({exc})") from exc
    if isinstance(value, str) and _looks_numeric(value):
        value = float(value)  # YAML 1.1 reads "1e-5" as a string
    node: Any = data
    for depth, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"override {key!r}: {'.'.join(parts[:depth])} has no item {part}")
            node = node[int(part)]
        else:
            node = node.setdefault(part, {})
            if not isinstance(node, (dict, list)):
                raise ConfigError(f"override {key!r}: {'.'.join(parts[: depth + 1])} is a value, not a section")
    last = parts[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise ConfigError(f"override {key!r}: no item {last} in that list")
        node[int(last)] = value
    else:
        node[last] = value


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip().lower() not in ("nan", "inf", "-inf", "infinity")


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = (), *, model: type[M]) -> M:
    """Read YAML at `path`, apply `overrides`, validate into `model`."""
    source = Path(path)
    if not source.is_file():
        raise ConfigError(f"config file {source} does not exist")
    try:
        data = yaml.safe_load(source.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must hold a mapping at the top level, got {type(data).__name__}")
    for assignment in overrides:
        apply_override(data, assignment)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
                             for e in exc.errors()[:5])
        raise ConfigError(f"{source}: {problems}") from exc
