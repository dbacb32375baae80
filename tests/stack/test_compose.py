"""docker-compose.yml is generated from the stack definition, valid under the Compose
specification's JSON schema, and complete (health checks, restart policies, volumes,
GPU reservations). No Docker engine runs here, so the schema is the check we can make;
the images are not built in these tests (see docs/stack.md)."""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from agent_rl.stack import StackConfig, compose_document, load_config, render_compose
from agent_rl.stack.compose import gpu_document
from tests.conftest import REPO, run_cli


@pytest.fixture(scope="module")
def compose_schema() -> dict[str, Any]:
    """The Compose specification's schema as vendored (with its licence) by check-jsonschema."""
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads(vendor.joinpath("compose-spec.json").read_text(encoding="utf-8"))


def validate(document: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(document)]


@pytest.mark.parametrize(("filename", "gpu"), [("docker-compose.yml", False), ("docker-compose.gpu.yml", True)])
def test_committed_compose_files_are_up_to_date(filename: str, gpu: bool) -> None:
    committed = (REPO / filename).read_text(encoding="utf-8")
    assert committed == render_compose(load_config(), gpu=gpu), (
        f"{filename} is out of date with agent_rl/stack/stack.yaml; regenerate it with "
        f"`agent-rl stack compose{' --gpu' if gpu else ''} > {filename}`")


@pytest.mark.parametrize("filename", ["docker-compose.yml", "docker-compose.gpu.yml"])
def test_compose_files_validate_against_the_compose_schema(filename: str, compose_schema: dict[str, Any]) -> None:
    document = yaml.safe_load((REPO / filename).read_text(encoding="utf-8"))
    assert validate(document, compose_schema) == []


def test_the_schema_check_is_live(compose_schema: dict[str, Any]) -> None:
    """A broken document fails, so a passing one means something."""
    document = compose_document(load_config())
    document["services"]["code"]["healthcheck"]["intervall"] = "5s"
    document["services"]["sql"]["restart"] = 3
    problems = validate(document, compose_schema)
    assert any("intervall" in p for p in problems) and any(p.startswith("services/sql/restart") for p in problems)


def test_every_service_of_the_definition_is_in_compose_with_health_restart_and_order() -> None:
    config = load_config()
    services = compose_document(config)["services"]
    assert set(services) == set(config.services)  # no replicas in the default definition
    for name, service in services.items():
        spec = config.service(name)
        assert service["healthcheck"]["test"][:4] == ["CMD", "python", "-m", "agent_rl.stack.healthcheck"], name
        assert service["restart"] == "unless-stopped" and service["init"] is True
        if spec.port is not None:
            assert service["ports"] == [f"127.0.0.1:{spec.port}:{spec.port}"]  # loopback only: no auth
            assert service["healthcheck"]["test"][-1] == f"http://127.0.0.1:{spec.port}/health"
            assert f"{spec.port}" in service["command"]
        assert service.get("depends_on", {}) == {d: {"condition": "service_healthy"} for d in spec.depends_on}
        assert ("profiles" in service) == (not spec.enabled)
    assert services["trainer"]["profiles"] == ["trainer"]
    assert services["trainer"]["environment"]["AGENT_RL_MODEL_URL"] == "http://model:8100"
    assert services["browser"]["build"]["dockerfile"] == "docker/Dockerfile.browser"
    for path in {s["build"]["dockerfile"] for s in services.values()}:
        assert (REPO / path).is_file(), path


def test_sandbox_needs_and_named_volumes() -> None:
    document = compose_document(load_config())
    code = document["services"]["code"]
    assert "seccomp=unconfined" in code["security_opt"] and "apparmor=unconfined" in code["security_opt"]
    assert "cap_add" not in code and "privileged" not in code  # no capability beyond Docker's defaults
    assert all("docker.sock" not in v for s in document["services"].values() for v in s.get("volumes", []))
    assert set(document["volumes"]) == {"checkpoints", "databases", "indexes", "trajectories"}
    assert "checkpoints:/var/lib/agent-rl/checkpoints" in document["services"]["model"]["volumes"]
    assert "checkpoints:/var/lib/agent-rl/checkpoints" in document["services"]["trainer"]["volumes"]


def test_gpu_override_reserves_gpus_for_model_and_trainer() -> None:
    services = gpu_document(load_config())["services"]
    assert set(services) == {"model", "trainer"}
    for service in services.values():
        assert service["deploy"]["resources"]["reservations"]["devices"] == [
            {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert services["model"]["command"][-4:] == ["--device", "cuda", "--dtype", "bfloat16"]


def test_replicas_become_services_on_consecutive_ports(compose_schema: dict[str, Any]) -> None:
    config = StackConfig.model_validate({"services": {
        "search": {"kind": "tool_server", "port": 9000, "replicas": 3},
        "trainer": {"kind": "trainer", "config": "t.yaml", "health": {"kind": "process"}, "depends_on": ["search"]}}})
    document = compose_document(config)
    assert [s for s in document["services"]] == ["search-1", "search-2", "search-3", "trainer"]
    assert document["services"]["search-3"]["ports"] == ["127.0.0.1:9002:9002"]
    trainer = document["services"]["trainer"]
    assert trainer["environment"]["AGENT_RL_SEARCH_URL"] == "http://search-1:9000,http://search-2:9001,http://search-3:9002"
    assert trainer["healthcheck"]["test"][-2:] == ["--cmdline", "agent-rl train"]
    assert validate(document, compose_schema) == []


def test_cli_prints_the_committed_file(tmp_path: Path) -> None:
    result = run_cli("stack", "compose")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (REPO / "docker-compose.yml").read_text(encoding="utf-8")


@pytest.mark.parametrize("dockerfile", ["docker/Dockerfile", "docker/Dockerfile.browser"])
def test_dockerfiles_copy_only_what_exists(dockerfile: str) -> None:
    """Images are not built here (no engine); at least every COPY source must exist and
    the image must install the sandbox's packages."""
    text = (REPO / dockerfile).read_text(encoding="utf-8")
    copies = [line.split()[1:-1] for line in text.splitlines() if line.startswith("COPY ")]
    assert copies
    for sources in copies:
        for source in sources:
            assert (REPO / source).exists(), f"{dockerfile}: COPY {source} does not exist"
    assert "bubblewrap" in text and "util-linux" in text
    assert text.splitlines()[0] == "# syntax=docker/dockerfile:1"
