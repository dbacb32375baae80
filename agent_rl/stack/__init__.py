"""The local stack: every tool server, the model server and the trainer, from one
definition (`stack.yaml`), run as supervised local processes (`agent-rl stack up`) or
as docker-compose services (`agent-rl stack compose`). See docs/stack.md.
"""

from agent_rl.stack.compose import compose_document, render_compose
from agent_rl.stack.config import HealthCheck, ServiceSpec, StackConfig, load_config
from agent_rl.stack.control import (
    DEFAULT_STATE_DIR,
    Endpoints,
    build_plan,
    down,
    endpoints,
    status,
    up,
)
from agent_rl.stack.errors import (
    DependencyError,
    PortClashError,
    PortInUseError,
    StackConfigError,
    StackError,
    StackNotRunningError,
    StackRunningError,
    StackStartError,
    UnknownServiceError,
)

__all__ = [
    "DEFAULT_STATE_DIR", "DependencyError", "Endpoints", "HealthCheck", "PortClashError", "PortInUseError",
    "ServiceSpec", "StackConfig", "StackConfigError", "StackError", "StackNotRunningError", "StackRunningError",
    "StackStartError", "UnknownServiceError", "build_plan", "compose_document", "down", "endpoints",
    "load_config", "render_compose", "status", "up",
]
