"""The stack definition: the default loads, services come in dependency order, and
every kind of bad definition is a typed error that names the problem."""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from agent_rl.stack import (
    DependencyError,
    PortClashError,
    PortInUseError,
    StackConfig,
    StackConfigError,
    StackNotRunningError,
    UnknownServiceError,
    build_plan,
    load_config,
    status,
)
from agent_rl.stack.control import check_ports_free, url_variable
from agent_rl.stack.healthcheck import main as healthcheck
from tests.conftest import run_cli


def config(**services: dict) -> StackConfig:
    return StackConfig.model_validate({"services": services})


def test_default_definition_has_every_registered_tool_server_and_an_optional_trainer() -> None:
    from tool_servers.registry import TOOL_SERVERS

    cfg = load_config()
    tool_servers = {s.server or n for n, s in cfg.services.items() if s.kind == "tool_server"}
    assert {"code", "sql", "search", "browser"} <= tool_servers
    assert set(TOOL_SERVERS.names()) <= tool_servers, "a registered tool server is missing from stack.yaml"
    assert cfg.selected() == ["model", "code", "sql", "search", "browser", "desktop"]  # trainer off by default
    assert cfg.selected(with_=["trainer"])[-1] == "trainer"  # after everything it depends on
    assert cfg.selected(only=["trainer"]) == ["model", "code", "sql", "search", "trainer"]
    assert all(s.health.path == "/health" for s in cfg.services.values() if s.health.kind == "http")


def test_dependency_order_follows_depends_on() -> None:
    cfg = config(c={"kind": "tool_server", "port": 3, "depends_on": ["b"]},
                 b={"kind": "tool_server", "port": 2, "depends_on": ["a"]},
                 a={"kind": "tool_server", "port": 1})
    assert cfg.selected() == ["a", "b", "c"]


@pytest.mark.parametrize(("text", "error", "needle"), [
    ("services: [", StackConfigError, "not valid YAML"),
    ("- a\n- b\n", StackConfigError, "must be a mapping"),
    ("services: {code: {kind: tool_server, port: 1, colour: red}}", StackConfigError, "services.code.colour"),
    ("services: {code: {kind: tool_server}}", StackConfigError, "needs a `port`"),
    ("services: {x: {kind: command, port: 1}}", StackConfigError, "needs `command:"),
    ("services: {t: {kind: trainer, health: {kind: process}}}", StackConfigError, "needs `config:"),
    ("services: {code: {kind: tool_server, port: 70000}}", StackConfigError, "less than or equal to 65535"),
    ("services: {a: {kind: tool_server, port: 1}, b: {kind: tool_server, port: 1}}", PortClashError,
     "port 1 is used by both 'a' and 'b'"),
    ("services: {a: {kind: tool_server, port: 1, replicas: 3}, b: {kind: tool_server, port: 3}}", PortClashError,
     "'a-3'"),
    ("services: {a: {kind: tool_server, port: 1, depends_on: [modle]}, model: {kind: model, port: 2}}",
     DependencyError, "Did you mean 'model'"),
    ("services: {a: {kind: tool_server, port: 1, depends_on: [b]}, b: {kind: tool_server, port: 2, depends_on: [a]}}",
     DependencyError, "cycle"),
    ("services: {code: {kind: tool_server, port: 1, docker: {image: gpu}}}", StackConfigError, "image 'gpu'"),
])
def test_bad_definitions_are_typed_errors(tmp_path: Path, text: str, error: type[Exception], needle: str) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(text)
    with pytest.raises(error, match=None) as caught:
        load_config(path)
    assert needle in str(caught.value)


def test_missing_file_and_unknown_or_disabled_services(tmp_path: Path) -> None:
    with pytest.raises(StackConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")
    cfg = load_config()
    with pytest.raises(UnknownServiceError, match="Did you mean 'search'"):
        cfg.selected(only=["serch"])
    with pytest.raises(UnknownServiceError, match="Services: "):
        cfg.service("gpu-box")
    cfg.services["model"].enabled = False
    with pytest.raises(DependencyError, match="--with model"):
        cfg.selected(with_=["trainer"])


def test_cli_reports_bad_definitions_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text("services: {a: {kind: tool_server, port: 1}, b: {kind: tool_server, port: 1}}")
    result = run_cli("stack", "up", "--config", str(path), "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: port 1 is used by both") and "Traceback" not in result.stderr
    result = run_cli("stack", "up", "--only", "serch", "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 2 and "Did you mean 'search'" in result.stderr


def test_plan_skips_tool_servers_this_host_cannot_run(tmp_path: Path) -> None:
    cfg = config(code={"kind": "tool_server", "port": 1},
                 holodeck={"kind": "tool_server", "port": 2},
                 agent={"kind": "command", "command": ["true"], "port": 3, "depends_on": ["holodeck", "code"]})
    plan = build_plan(cfg, tmp_path)
    by_name = {i.name: i for i in plan.instances}
    assert by_name["code"].skipped is None
    assert "tool server 'holodeck' is not registered" in (by_name["holodeck"].skipped or "")
    assert by_name["agent"].skipped == "needs holodeck, which is skipped"
    assert by_name["agent"].env[url_variable("code")] == "http://127.0.0.1:1"
    assert by_name["code"].argv[-5:] == ["code", "--host", "127.0.0.1", "--port", "1"]


def test_plan_makes_the_tiny_model_once_and_honours_model_override(tmp_path: Path) -> None:
    cfg = config(model={"kind": "model", "port": 5})
    model = build_plan(cfg, tmp_path).instances[0]
    assert model.prepare is not None and model.prepare[-4:] == ["model", "init", "--out", str(tmp_path.resolve() / "models" / "tiny")]
    assert model.argv[-2:] == ["--model", str(tmp_path.resolve() / "models" / "tiny")]
    override = build_plan(cfg, tmp_path, model=str(tmp_path / "m")).instances[0]
    assert override.prepare is None and override.argv[-1] == str((tmp_path / "m").resolve())


def test_port_in_use_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        plan = build_plan(config(code={"kind": "tool_server", "port": port}), tmp_path)
        with pytest.raises(PortInUseError, match=f"port {port} on 127.0.0.1 \\(service 'code'\\)"):
            check_ports_free(plan)


def test_status_of_no_stack(tmp_path: Path) -> None:
    with pytest.raises(StackNotRunningError, match="agent-rl stack up"):
        status(tmp_path)
    result = run_cli("stack", "status", "--state-dir", str(tmp_path))
    assert result.returncode == 2 and "no stack in" in result.stderr


def test_healthcheck_module() -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert healthcheck([f"{base}/health"]) == 0
        assert healthcheck([f"{base}/other"]) == 1
    finally:
        server.shutdown()
        server.server_close()
    assert healthcheck([f"{base}/health"]) == 1  # nothing listens any more
    probe = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "agent-rl-health-probe"])
    try:  # another process (the check skips its own, which is this test's)
        for _ in range(100):  # until the child has exec'd: before that its cmdline is ours
            with open(f"/proc/{probe.pid}/cmdline", "rb") as handle:
                if b"agent-rl-health-probe" in handle.read():
                    break
            time.sleep(0.05)
        assert healthcheck(["--cmdline", "agent-rl-health-probe"]) == 0
    finally:
        probe.kill()
        probe.wait()
    assert healthcheck(["--cmdline", "no-such-program-xyz"]) == 1
    assert healthcheck([]) == 2
