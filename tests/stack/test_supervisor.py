"""The supervisor with small stand-in services (plain Python commands, so these run in
seconds): dependency order, URLs handed to dependents, process health checks, a
crash-looping service marked failed, and nothing left behind after `down`."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import pytest

from agent_rl.stack import StackConfig, StackRunningError, StackStartError, down, status, up
from agent_rl.stack.state import pid_alive, read_plan, stack_processes
from tool_servers.local import free_port

PY = sys.executable
#: A web server with /health that also starts a grandchild (to prove groups are cleaned up).
WEB = ("import http.server, os, subprocess, sys\n"
       "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
       "class H(http.server.BaseHTTPRequestHandler):\n"
       "    def do_GET(self):\n"
       "        self.send_response(200); self.end_headers()\n"
       "    def log_message(self, *a): pass\n"
       "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n")


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def stand_in_stack(tmp_path: Path, **extra: dict) -> StackConfig:
    (tmp_path / "web.py").write_text(WEB)
    web_port = free_port()
    while not port_free(web_port + 1):
        web_port = free_port()
    return StackConfig.model_validate({
        "restart": {"initial_s": 0.1, "max_s": 0.2},
        "services": {
            "worker": {"kind": "command", "depends_on": ["web"], "health": {"kind": "process"},
                       "command": [PY, "-c", ("import os, time; open(os.environ['AGENT_RL_STACK_DIR'] + '/seen', 'w')"
                                   ".write(os.environ['AGENT_RL_WEB_URL']); time.sleep(600)")]},
            "web": {"kind": "command", "port": web_port, "replicas": 2, "command": [PY, str(tmp_path / "web.py"), "{port}"]},
            **extra}})


def test_dependency_order_urls_and_clean_down(tmp_path: Path) -> None:
    cfg = stand_in_stack(tmp_path)
    seen: list[tuple[str, str]] = []
    state_dir = tmp_path / "state"
    state = up(cfg, state_dir, timeout_s=60, on_change=lambda i: seen.append((i.name, i.status)))
    try:
        assert [(i.name, i.status) for i in state.instances] == [
            ("web-1", "healthy"), ("web-2", "healthy"), ("worker", "healthy")]  # replicas, dependency order
        assert max(seen.index(("web-1", "healthy")), seen.index(("web-2", "healthy"))) < seen.index(
            ("worker", "starting"))  # dependencies first
        port = cfg.services["web"].port
        assert (state_dir / "seen").read_text() == f"http://127.0.0.1:{port},http://127.0.0.1:{port + 1}"
        with pytest.raises(StackRunningError, match="already running"):
            up(cfg, state_dir)
        stack_id = read_plan(state_dir.resolve()).stack_id
        assert len(stack_processes(stack_id)) >= 5  # two webs, their grandchildren, worker
    finally:
        report = down(state_dir)
    assert stack_processes(stack_id) == [] and report.leftovers_killed == []
    final, alive = status(state_dir)
    assert not alive and final.phase == "stopped" and not pid_alive(final.supervisor_pid)
    assert all(i.status == "stopped" for i in final.instances)


def test_a_service_that_never_gets_healthy_fails_up_and_leaves_nothing(tmp_path: Path) -> None:
    cfg = stand_in_stack(tmp_path, broken={"kind": "command", "port": free_port(),
                                           "command": [PY, "-c", "print('bad config'); raise SystemExit(3)"]})
    started = time.monotonic()
    with pytest.raises(StackStartError, match=r"service 'broken' failed: exited with 3; never healthy in 3 starts") as err:
        up(cfg, tmp_path / "state", timeout_s=60)
    assert "bad config" in str(err.value)  # the end of its log comes with the error
    assert time.monotonic() - started < 30
    assert stack_processes(read_plan((tmp_path / "state").resolve()).stack_id) == []


def test_down_cleans_up_after_a_killed_supervisor(tmp_path: Path) -> None:
    """SIGKILL leaves the supervisor no chance to stop anything: its services die with it
    (PR_SET_PDEATHSIG), and `down` still finds and kills whatever of the stack is left."""
    import os
    import signal

    state_dir = tmp_path / "state"
    state = up(stand_in_stack(tmp_path), state_dir, timeout_s=60)
    stack_id = read_plan(state_dir.resolve()).stack_id
    os.kill(state.supervisor_pid, signal.SIGKILL)
    os.waitpid(state.supervisor_pid, 0)  # this test started it; collect it
    assert not status(state_dir)[1]
    down(state_dir)
    assert stack_processes(stack_id) == []
    assert all(not pid_alive(i.pid) for i in state.instances)
