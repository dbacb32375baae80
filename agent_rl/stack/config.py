"""The stack definition: one pydantic model that both the process supervisor
(`agent-rl stack up`) and the docker-compose generator (`agent-rl stack compose`) read.

Why one definition: a compose file written by hand and a process launcher written by
hand drift apart within a week. Here a service is one entry — its kind, port, health
check, dependencies, environment — and everything else (argv, URLs handed to
dependents, compose blocks) is derived from it. Adding a tool server to the stack is
one line under `services:`.

The default definition is `agent_rl/stack/stack.yaml` (package data, so it ships with
the wheel); `--config FILE` takes a copy you edited.

>>> cfg = StackConfig.model_validate({"services": {"code": {"kind": "tool_server", "port": 9001}}})
>>> [i.name for i in cfg.instances("code")], cfg.instances("code")[0].url(cfg.host)
(['code'], 'http://127.0.0.1:9001')
"""

from __future__ import annotations

import graphlib
import importlib.resources
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent_rl.stack.errors import (
    DependencyError,
    PortClashError,
    StackConfigError,
    UnknownServiceError,
)
from sandbox.registry import did_you_mean

ServiceKind = Literal["tool_server", "model", "trainer", "command"]
TINY_MODEL = "tiny"
#: Where the images put the tiny model they build at image build time (`docker/Dockerfile`).
IMAGE_TINY_MODEL = "/opt/agent-rl/models/tiny"


class HealthCheck(BaseModel):
    """How the stack decides a service is up. `http`: GET `path` answers 2xx (every tool
    server and `agent-rl serve model`, vLLM and SGLang have `/health`); `process`: the
    main process is alive (the trainer, which serves nothing)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["http", "process"] = "http"
    path: str = Field(default="/health", pattern=r"^/")
    """The health route (http checks)."""
    interval_s: float = Field(default=5.0, gt=0)
    """Time between checks once the service is up (a crash is seen at once, by its exit;
    this catches a hung service). Before the first healthy answer the process stack
    checks every 0.25 s."""
    timeout_s: float = Field(default=3.0, gt=0)
    """One check's time limit."""
    start_period_s: float = Field(default=180.0, gt=0)
    """How long a starting service may take to become healthy before it counts as failed
    (the model server loads torch and the weights; a cold search index is built)."""
    retries: int = Field(default=3, ge=1)
    """Consecutive failed checks of a running service before it is restarted."""


class DockerOptions(BaseModel):
    """What only the compose file needs (the process stack ignores these)."""

    model_config = ConfigDict(extra="forbid")

    image: str = "base"
    """Key of `StackConfig.images`: which Dockerfile builds this service's image."""
    args: list[str] = Field(default_factory=list)
    """Extra CLI arguments inside the container, e.g. a cache dir on a named volume."""
    volumes: dict[str, str] = Field(default_factory=dict)
    """Named volume → mount path in the container."""
    cap_add: list[str] = Field(default_factory=list)
    security_opt: list[str] = Field(default_factory=list)
    shm_size: str | None = None


class ServiceSpec(BaseModel):
    """One service of the stack (see `docs/stack.md` for each field in use)."""

    model_config = ConfigDict(extra="forbid")

    kind: ServiceKind
    """tool_server: `agent-rl serve SERVER`; model: `agent-rl serve model --model MODEL`;
    trainer: `agent-rl train CONFIG`; command: any argv (`command`), e.g. `vllm serve`."""
    enabled: bool = True
    """Off: not started by `stack up` unless named with `--with`; in compose, behind a
    profile of the service's name (`docker compose --profile trainer up`)."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """TCP port (the first replica's; replica i listens on port + i). Needed unless the
    health check is `process`."""
    server: str | None = None
    """tool_server: the name in `tool_servers.TOOL_SERVERS` (default: the service name)."""
    model: str = TINY_MODEL
    """model: a model directory, or `tiny` — created with `agent-rl model init` in the
    state dir on first `stack up` (baked into the image for compose)."""
    config: str | None = None
    """trainer: the training config YAML."""
    command: list[str] | None = None
    """command: the argv; `{host}`, `{port}` and `{state_dir}` are filled in."""
    args: list[str] = Field(default_factory=list)
    """Extra arguments appended to the derived command."""
    depends_on: list[str] = Field(default_factory=list)
    """Services that must be healthy before this one starts (and whose URLs it gets as
    `AGENT_RL_<NAME>_URL`)."""
    environment: dict[str, str] = Field(default_factory=dict)
    health: HealthCheck = Field(default_factory=HealthCheck)
    replicas: int = Field(default=1, ge=1, le=64)
    """Independent copies on consecutive ports (sessions live in one replica: clients
    pin an env instance to one replica, see docs/stack.md)."""
    gpu: bool = False
    """Reserve a GPU in `docker-compose.gpu.yml`."""
    docker: DockerOptions = Field(default_factory=DockerOptions)

    @model_validator(mode="after")
    def _kind_fields(self) -> ServiceSpec:
        if self.kind == "command" and not self.command:
            raise ValueError("a `command` service needs `command: [argv...]`")
        if self.kind == "trainer" and not self.config:
            raise ValueError("a `trainer` service needs `config: PATH.yaml`")
        if self.port is None and self.health.kind == "http":
            raise ValueError("a service with an http health check needs a `port`")
        return self


class ImageSpec(BaseModel):
    """A Docker image built from this repository."""

    model_config = ConfigDict(extra="forbid")

    dockerfile: str
    tag: str


class RestartPolicy(BaseModel):
    """Back-off for crashed services: wait `initial_s`, doubling to `max_s`; a service
    healthy for `reset_after_s` starts again from `initial_s`."""

    model_config = ConfigDict(extra="forbid")

    initial_s: float = Field(default=0.5, gt=0)
    max_s: float = Field(default=30.0, gt=0)
    reset_after_s: float = Field(default=60.0, gt=0)


@dataclass(frozen=True, slots=True)
class Instance:
    """One process of a service (a service with `replicas: 3` has three)."""

    name: str  # "code", or "code-1", "code-2", … with replicas
    service: str
    port: int | None

    def url(self, host: str) -> str | None:
        return None if self.port is None else f"http://{host}:{self.port}"


class StackConfig(BaseModel):
    """The whole stack: services by name, images, the host the processes bind."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="agent-rl", pattern=r"^[a-z0-9][a-z0-9_-]*$")
    """The compose project name."""
    host: str = "127.0.0.1"
    """Interface the process stack binds (no auth on any service: keep it loopback)."""
    services: dict[str, ServiceSpec]
    images: dict[str, ImageSpec] = Field(default_factory=lambda: {
        "base": ImageSpec(dockerfile="docker/Dockerfile", tag="agent-rl:latest")})
    restart: RestartPolicy = Field(default_factory=RestartPolicy)

    @model_validator(mode="after")
    def _check(self) -> StackConfig:
        bad = [n for n in self.services if not n.replace("-", "").replace("_", "").isalnum() or not n[0].isalpha()]
        if bad:
            raise ValueError(f"service names must be letters, digits, '-' or '_' and start with a letter: {bad}")
        for name, spec in self.services.items():
            if spec.docker.image not in self.images:
                raise ValueError(f"service {name!r} uses image {spec.docker.image!r}; images: {sorted(self.images)}")
        return self

    # ---- lookups -----------------------------------------------------------------
    def service(self, name: str) -> ServiceSpec:
        """The spec of `name`, or UnknownServiceError with a hint."""
        try:
            return self.services[name]
        except KeyError:
            known = sorted(self.services)
            raise UnknownServiceError(f"unknown service {name!r}.{did_you_mean(name, known)} "
                                      f"Services: {', '.join(known)}") from None

    def instances(self, name: str) -> list[Instance]:
        spec = self.service(name)
        if spec.replicas == 1:
            return [Instance(name, name, spec.port)]
        return [Instance(f"{name}-{i + 1}", name, None if spec.port is None else spec.port + i)
                for i in range(spec.replicas)]

    def selected(self, with_: list[str] | None = None, only: list[str] | None = None) -> list[str]:
        """Enabled services plus `with_`, or exactly `only` (and what they depend on), in
        dependency order. Raises for unknown names, missing dependencies and cycles."""
        for name in [*(with_ or []), *(only or [])]:
            self.service(name)
        if only:
            chosen: set[str] = set()
            todo = list(only)
            while todo:
                name = todo.pop()
                if name not in chosen:
                    chosen.add(name)
                    todo.extend(self.service(name).depends_on)
        else:
            chosen = {n for n, s in self.services.items() if s.enabled} | set(with_ or [])
        return self.order(chosen)

    def order(self, names: set[str]) -> list[str]:
        """`names` in dependency order (dependencies first; ties by definition order)."""
        position = {name: i for i, name in enumerate(self.services)}
        graph: dict[str, list[str]] = {}
        for name in names:
            deps = self.service(name).depends_on
            for dep in deps:
                if dep not in self.services:
                    raise DependencyError(f"service {name!r} depends on {dep!r}, which is not a service."
                                          f"{did_you_mean(dep, sorted(self.services))}")
                if dep not in names:
                    raise DependencyError(f"service {name!r} depends on {dep!r}, which is disabled; "
                                          f"enable it or start with `--with {dep}`")
            graph[name] = deps
        sorter = graphlib.TopologicalSorter(graph)
        try:
            sorter.prepare()
        except graphlib.CycleError as exc:
            raise DependencyError(f"services depend on each other in a cycle: {' → '.join(exc.args[1])}") from None
        ordered: list[str] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready(), key=position.__getitem__)
            ordered.extend(ready)
            sorter.done(*ready)
        return ordered

    def check_ports(self, names: list[str]) -> None:
        """PortClashError when two instances of `names` would bind the same port."""
        owners: dict[int, str] = {}
        for name in names:
            for instance in self.instances(name):
                if instance.port is None:
                    continue
                if instance.port in owners:
                    raise PortClashError(f"port {instance.port} is used by both {owners[instance.port]!r} and "
                                         f"{instance.name!r}; give one of them another `port`")
                owners[instance.port] = instance.name


def unavailable_reason(spec: ServiceSpec, name: str) -> str | None:
    """Why this host cannot run the service (a tool server that is not registered or not
    importable, e.g. one still being written), or None. Such services are skipped by
    `stack up` with this message rather than failing the whole stack."""
    if spec.kind != "tool_server":
        return None
    from tool_servers.registry import TOOL_SERVERS, load_plugins

    load_plugins()
    server = spec.server or name
    if server not in TOOL_SERVERS:
        return f"tool server {server!r} is not registered (known: {', '.join(sorted(TOOL_SERVERS.names()))})"
    module = TOOL_SERVERS.get(server).partition(":")[0]
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError) as exc:
        return f"tool server {server!r}: cannot import {module} ({exc})"
    return None if found is not None else f"tool server {server!r}: module {module} is not installed"


def default_config_text() -> str:
    return importlib.resources.files("agent_rl.stack").joinpath("stack.yaml").read_text(encoding="utf-8")


def load_config(path: str | Path | None = None) -> StackConfig:
    """The stack definition from `path` (YAML), or the built-in default. Errors name the
    file and the field."""
    where = str(path) if path is not None else "the built-in stack definition"
    try:
        text = Path(path).read_text(encoding="utf-8") if path is not None else default_config_text()
    except OSError as exc:
        raise StackConfigError(f"cannot read stack definition {where}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise StackConfigError(f"{where} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise StackConfigError(f"{where} must be a mapping with `services:`, got {type(data).__name__}")
    try:
        config = StackConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(root)"
        raise StackConfigError(f"{where}: {field}: {err['msg']}") from None
    config.order(set(config.services))  # unknown dependencies and cycles fail at load
    config.check_ports(list(config.services))
    return config
