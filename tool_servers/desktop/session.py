"""One desktop session: its display, the task it plays and what has happened so far."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from tool_servers.desktop.display import Display
from tool_servers.desktop.schemas import DesktopSessionParams


@dataclass(slots=True, eq=False)  # identity: sessions live in a set
class DesktopSession:
    params: DesktopSessionParams
    app: ModuleType
    goal: dict[str, Any]
    display: Display
    steps: int = 0
    finished: str = ""  # "done" or "fail" once the agent said so
    pointer: tuple[int, int] = (0, 0)
    extra: dict[str, Any] = field(default_factory=dict)
