"""Bring the process stack up and down, and read where its services are.

`up()` checks everything it can before anything runs (the definition, the ports, a
stack already running), writes the plan, starts the detached supervisor and follows
its state file until every service is healthy — reporting each change through a
callback, which is the CLI's progress output. `down()` stops the supervisor and then
makes sure, by pid, process group and the stack's environment marker, that nothing
of the stack is left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agent_rl.stack.config import TINY_MODEL, ServiceSpec, StackConfig, unavailable_reason
from agent_rl.stack.errors import (
    PortInUseError,
    StackNotRunningError,
    StackRunningError,
    StackStartError,
)
from agent_rl.stack.state import (
    STACK_ID_VAR,
    SUPERVISOR_MODULE,
    InstancePlan,
    InstanceState,
    Plan,
    StackState,
    kill_group,
    pid_alive,
    plan_path,
    read_log_tail,
    read_plan,
    read_state,
    stack_processes,
    supervisor_alive,
    write_json_atomic,
)

DEFAULT_STATE_DIR = Path("runs/stack")
#: How this interpreter runs the CLI (the stack's services use the same venv).
PROGRAM = [sys.executable, "-m", "agent_rl.cli.main"]


def url_variable(service: str) -> str:
    """`AGENT_RL_<SERVICE>_URL`: how a service learns where its dependencies listen
    (comma-separated when the dependency has replicas)."""
    return f"AGENT_RL_{service.upper().replace('-', '_')}_URL"


def service_argv(name: str, spec: ServiceSpec, *, program: list[str], host: str, port: int | None,
                 model: str | None, state_dir: str) -> list[str]:
    """The command of one instance; shared by the process stack and compose (which
    passes `program=["agent-rl"]`, `host="0.0.0.0"`)."""
    where = ["--host", host, "--port", str(port)] if port is not None else []
    if spec.kind == "tool_server":
        return [*program, "serve", spec.server or name, *where, *spec.args]
    if spec.kind == "model":
        return [*program, "serve", "model", *where, "--model", str(model), *spec.args]
    if spec.kind == "trainer":
        return [*program, "train", str(spec.config), *spec.args]
    assert spec.command is not None  # checked by ServiceSpec
    fill = {"host": host, "port": "" if port is None else str(port), "state_dir": state_dir}
    return [part.format(**fill) for part in spec.command] + list(spec.args)


def build_plan(config: StackConfig, state_dir: Path, *, config_source: str = "the built-in stack definition",
               with_: list[str] | None = None, only: list[str] | None = None,
               model: str | None = None) -> Plan:
    """Resolve the definition into exact processes for this host. `model` overrides the
    model service's model directory."""
    names = config.selected(with_=with_, only=only)
    config.check_ports(names)
    state_dir = state_dir.resolve()
    stack_id = uuid.uuid4().hex[:12]
    urls = {name: [u for i in config.instances(name) if (u := i.url(config.host))] for name in names}
    model_dir: str | None = None
    instances: list[InstancePlan] = []
    for name in names:
        spec = config.service(name)
        env = {**spec.environment, STACK_ID_VAR: stack_id, "AGENT_RL_STACK_DIR": str(state_dir),
               "PYTHONUNBUFFERED": "1"}
        env.update({url_variable(dep): ",".join(urls[dep]) for dep in spec.depends_on if urls[dep]})
        prepare, creates, this_model = None, None, None
        if spec.kind == "model":
            this_model = model or spec.model
            if this_model == TINY_MODEL:
                this_model = str(state_dir / "models" / "tiny")
                prepare = [*PROGRAM, "model", "init", "--out", this_model]
                creates = str(Path(this_model) / "config.json")
            this_model = str(Path(this_model).resolve())
            model_dir = model_dir or this_model
        skipped = unavailable_reason(spec, name)
        deps = [i.name for dep in spec.depends_on for i in config.instances(dep)]
        for instance in config.instances(name):
            instances.append(InstancePlan(
                name=instance.name, service=name, kind=spec.kind,
                server=(spec.server or name) if spec.kind == "tool_server" else None,
                port=instance.port, url=instance.url(config.host),
                argv=service_argv(name, spec, program=PROGRAM, host=config.host, port=instance.port,
                                  model=this_model, state_dir=str(state_dir)),
                env=env, health=spec.health, depends_on=deps, prepare=prepare, prepare_creates=creates,
                skipped=skipped))
    skipped_names = {i.name for i in instances if i.skipped}
    for instance in instances:  # a dependency that is skipped cannot be waited for
        if not instance.skipped and (missing := skipped_names.intersection(instance.depends_on)):
            instance.skipped = f"needs {', '.join(sorted(missing))}, which is skipped"
    return Plan(stack_id=stack_id, host=config.host, state_dir=str(state_dir), config_source=config_source,
                restart=config.restart, instances=instances, model_dir=model_dir)


def check_ports_free(plan: Plan) -> None:
    """PortInUseError naming the first port some other process listens on."""
    for instance in plan.instances:
        if instance.skipped or instance.port is None:
            continue
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            try:
                sock.bind((plan.host, instance.port))
            except OSError:
                raise PortInUseError(f"port {instance.port} on {plan.host} (service {instance.name!r}) is already "
                                     f"in use; stop what holds it or set another `port` in the stack "
                                     f"definition") from None


Progress = Callable[[InstanceState], None]


def up(config: StackConfig, state_dir: Path = DEFAULT_STATE_DIR, *, config_source: str = "the built-in stack "
       "definition", with_: list[str] | None = None, only: list[str] | None = None, model: str | None = None,
       wait: bool = True, timeout_s: float = 300.0, on_change: Progress | None = None) -> StackState:
    """Start the stack's supervisor and (with `wait`) return once every service is
    healthy. On failure the stack is brought down and StackStartError says which
    service failed, with the end of its log."""
    state_dir = state_dir.resolve()
    if supervisor_alive(read_state(state_dir)):
        raise StackRunningError(f"a stack is already running from {state_dir}; `agent-rl stack down` first, or "
                                f"use another --state-dir")
    plan = build_plan(config, state_dir, config_source=config_source, with_=with_, only=only, model=model)
    check_ports_free(plan)
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "logs").mkdir(exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        (state_dir / "state.json").unlink()
    write_json_atomic(plan_path(state_dir), plan)
    with (state_dir / "supervisor.log").open("ab") as out:
        process = subprocess.Popen([sys.executable, "-m", SUPERVISOR_MODULE, str(state_dir)], stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    if not wait:
        return _first_state(state_dir, process)
    try:
        return _wait_healthy(state_dir, process, timeout_s, on_change)
    except BaseException:
        with contextlib.suppress(StackNotRunningError):
            down(state_dir)
        raise


def _first_state(state_dir: Path, process: subprocess.Popen[bytes]) -> StackState:
    deadline = time.monotonic() + 30
    while (state := read_state(state_dir)) is None or state.supervisor_pid != process.pid:
        if process.poll() is not None or time.monotonic() > deadline:
            tail = "\n".join(read_log_tail(state_dir / "supervisor.log", 15))
            raise StackStartError(f"the stack supervisor exited with {process.returncode}:\n{tail}")
        time.sleep(0.05)
    return state


def _wait_healthy(state_dir: Path, process: subprocess.Popen[bytes], timeout_s: float,
                  on_change: Progress | None) -> StackState:
    state = _first_state(state_dir, process)
    seen: dict[str, tuple[str, str]] = {}
    deadline = time.monotonic() + timeout_s
    while True:
        state = read_state(state_dir) or state
        for instance in state.instances:
            key = (instance.status, instance.message)
            if seen.get(instance.name) != key:
                seen[instance.name] = key
                if on_change is not None:
                    on_change(instance)
        active = [i for i in state.instances if i.status != "skipped"]
        if failed := [i for i in active if i.status == "failed"]:
            tail = "\n".join(read_log_tail(Path(failed[0].log), 15))
            raise StackStartError(f"service {failed[0].name!r} failed: {failed[0].message}\n{tail}")
        if all(i.status == "healthy" for i in active):
            return state
        if process.poll() is not None:
            tail = "\n".join(read_log_tail(state_dir / "supervisor.log", 15))
            raise StackStartError(f"the stack supervisor exited with {process.returncode}:\n{tail}")
        if time.monotonic() > deadline:
            waiting = ", ".join(f"{i.name} ({i.status})" for i in active if i.status != "healthy")
            raise StackStartError(f"not healthy within {timeout_s:.0f} s: {waiting}; see {state_dir}/logs/")
        time.sleep(0.1)


@dataclass
class DownReport:
    stopped: list[str] = field(default_factory=list)
    leftovers_killed: list[int] = field(default_factory=list)
    supervisor_killed: bool = False


def down(state_dir: Path = DEFAULT_STATE_DIR, *, timeout_s: float = 60.0) -> DownReport:
    """Stop the supervisor (it stops its services in reverse dependency order), then
    kill anything of the stack still alive: each instance's process group, and any
    process carrying the stack's id in its environment."""
    state_dir = state_dir.resolve()
    plan = read_plan(state_dir)
    state = read_state(state_dir)
    report = DownReport()
    if state is not None and supervisor_alive(state):
        os.kill(state.supervisor_pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while supervisor_alive(state) and time.monotonic() < deadline:
            _reap(state.supervisor_pid)
            time.sleep(0.05)
        if supervisor_alive(state):
            os.kill(state.supervisor_pid, signal.SIGKILL)
            report.supervisor_killed = True
        _reap(state.supervisor_pid)
    state = read_state(state_dir) or state
    if state is not None:
        report.stopped = [i.name for i in state.instances if i.status != "skipped"]
        for instance in state.instances:
            kill_group(instance.pid)
    for _ in range(50):  # services' own children (uvicorn workers, sandboxes) die with them
        leftovers = stack_processes(plan.stack_id)
        if not leftovers:
            break
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            report.leftovers_killed.append(pid)
        time.sleep(0.1)
    if state is not None and state.phase != "stopped":
        state.phase = "stopped"
        for instance in state.instances:
            if instance.status not in ("skipped", "failed"):
                instance.status, instance.pid = "stopped", None
        write_json_atomic(state_dir / "state.json", state)
    return report


def _reap(pid: int) -> None:
    """Collect the supervisor's exit status when this process started it (tests, bench)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def status(state_dir: Path = DEFAULT_STATE_DIR) -> tuple[StackState, bool]:
    """The last state and whether its supervisor is alive."""
    state_dir = state_dir.resolve()
    read_plan(state_dir)  # no plan: StackNotRunningError with the hint
    state = read_state(state_dir)
    if state is None:
        raise StackNotRunningError(f"the stack in {state_dir} has not written its state yet (or never started); "
                                   f"see {state_dir}/supervisor.log")
    return state, supervisor_alive(state)


@dataclass(frozen=True)
class Endpoints:
    """Where a running stack's services listen, for `agent-rl eval --stack DIR`."""

    tool_servers: dict[str, list[str]]  # registry name → healthy replica URLs
    model_url: str | None
    model_dir: str | None


def endpoints(state_dir: Path = DEFAULT_STATE_DIR) -> Endpoints:
    """The URLs of a running stack's healthy services (StackNotRunningError otherwise)."""
    state, alive = status(state_dir)
    if not alive:
        raise StackNotRunningError(f"the stack in {state_dir.resolve()} is not running (phase {state.phase}); "
                                   f"start it with `agent-rl stack up --state-dir {state_dir}`")
    plan = read_plan(state_dir.resolve())
    healthy = {i.name for i in state.instances if i.status == "healthy"}
    tools: dict[str, list[str]] = {}
    model_url = None
    for instance in plan.instances:
        if instance.name not in healthy or instance.url is None:
            continue
        if instance.kind == "tool_server" and instance.server:
            tools.setdefault(instance.server, []).append(instance.url)
        elif (instance.kind == "model" or instance.service == "model") and model_url is None:  # or vLLM as `command`
            model_url = instance.url
    return Endpoints(tools, model_url, plan.model_dir)


def is_stack_process(pid: int, stack_id: str) -> bool:
    """Whether `pid` is alive and belongs to the stack `stack_id` (tests, bench)."""
    return pid_alive(pid) and pid in stack_processes(stack_id)
