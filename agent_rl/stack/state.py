"""What the process stack writes to its state directory, and the process helpers that
read it back.

Layout of a state dir (default `runs/stack/`)::

    plan.json        what to run: argv, env, ports, health checks (written by `stack up`)
    state.json       what runs: pids, status, restarts (rewritten by the supervisor)
    supervisor.log   the supervisor's own log
    logs/NAME.log    each service's stdout and stderr, appended across restarts
    models/tiny/     the tiny model `agent-rl model init` made for the model service

Why files and not a socket: `stack status` and `stack down` must work when the
supervisor is wedged or dead, and a JSON file written atomically (write, then rename)
is always readable.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent_rl.stack.config import HealthCheck, RestartPolicy
from agent_rl.stack.errors import StackNotRunningError

InstanceStatus = Literal["pending", "preparing", "starting", "healthy", "unhealthy", "crashed", "backoff",
                         "stopping", "stopped", "skipped", "failed"]
StackPhase = Literal["starting", "running", "stopping", "stopped", "failed"]
#: Marker put in every service's environment; `stack down` finds stragglers by it.
STACK_ID_VAR = "AGENT_RL_STACK_ID"
SUPERVISOR_MODULE = "agent_rl.stack.supervisor"


class InstancePlan(BaseModel):
    """One process to run, fully resolved (the supervisor interprets nothing)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    service: str
    kind: str
    server: str | None = None
    """The tool server's registry name (tool_server instances)."""
    port: int | None
    url: str | None
    argv: list[str]
    env: dict[str, str] = Field(default_factory=dict)
    health: HealthCheck
    depends_on: list[str] = Field(default_factory=list)
    """Instance names that must be healthy first."""
    prepare: list[str] | None = None
    """A one-off command run before the first start when `prepare_creates` is missing."""
    prepare_creates: str | None = None
    skipped: str | None = None
    """Why this instance is not run on this host (then nothing else matters)."""


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stack_id: str
    host: str
    state_dir: str
    config_source: str
    restart: RestartPolicy
    instances: list[InstancePlan]
    model_dir: str | None = None
    """The model the model service serves (the tokenizer for `eval --model stack`)."""
    max_start_failures: int = 3
    """Starts that fail before the first healthy one, after which an instance is `failed`."""


class InstanceState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    service: str
    kind: str
    url: str | None = None
    status: InstanceStatus = "pending"
    pid: int | None = None
    restarts: int = 0
    started_at: float | None = None
    healthy_since: float | None = None
    last_exit: int | None = None
    message: str = ""
    log: str = ""


class StackState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stack_id: str
    supervisor_pid: int
    phase: StackPhase = "starting"
    started_at: float = Field(default_factory=time.time)
    updated_at: float = Field(default_factory=time.time)
    instances: list[InstanceState]

    def instance(self, name: str) -> InstanceState:
        for item in self.instances:
            if item.name == name:
                return item
        raise KeyError(name)


def plan_path(state_dir: Path) -> Path:
    return state_dir / "plan.json"


def state_path(state_dir: Path) -> Path:
    return state_dir / "state.json"


def write_json_atomic(path: Path, model: BaseModel) -> None:
    """Write then rename, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(model.model_dump_json(indent=1), encoding="utf-8")
    os.replace(tmp, path)


def read_plan(state_dir: Path) -> Plan:
    try:
        return Plan.model_validate_json(plan_path(state_dir).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StackNotRunningError(f"no stack in {state_dir} (start one with `agent-rl stack up`)") from None


def read_state(state_dir: Path) -> StackState | None:
    """The last state the supervisor wrote, or None before its first write."""
    try:
        return StackState.model_validate_json(state_path(state_dir).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:  # written by an older version; treat as absent
        return None


def pid_alive(pid: int | None) -> bool:
    """Whether `pid` is a live (not zombie) process."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[-1].split()
    except OSError:
        return False
    return bool(fields) and fields[0] not in ("Z", "X")


def supervisor_alive(state: StackState | None) -> bool:
    """The state's supervisor is alive and really is our supervisor (not a reused pid)."""
    if state is None or not pid_alive(state.supervisor_pid):
        return False
    try:
        cmdline = Path(f"/proc/{state.supervisor_pid}/cmdline").read_bytes()
    except OSError:
        return False
    return SUPERVISOR_MODULE.encode() in cmdline


def kill_group(pgid: int | None, sig: int = signal.SIGKILL) -> bool:
    """Signal a whole process group (each service leads its own); False if none is left."""
    if not pgid:
        return False
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def stack_processes(stack_id: str) -> list[int]:
    """Pids of live processes carrying this stack's id in their environment — what a
    clean `stack down` must leave none of (services, their workers, their children)."""
    needle = f"{STACK_ID_VAR}={stack_id}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0") and pid_alive(int(entry)):
            found.append(int(entry))
    return found


def read_log_tail(path: Path, lines: int) -> list[str]:
    """The last `lines` lines of a log file (reads at most the last 256 KiB)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - (256 << 10)))
            data = handle.read()
    except FileNotFoundError:
        return []
    return data.decode(errors="replace").splitlines()[-lines:] if lines > 0 else []


def dump(state: StackState) -> str:
    return json.dumps(state.model_dump(), indent=1)
