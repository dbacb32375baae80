"""`agent-rl eval` pointed at running servers: `--tool-server NAME=URL`, `--stack DIR`,
`--model stack`, and the one-line errors for each misuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli
from tool_servers.local import LocalServer


def test_tool_server_by_url(code_server: LocalServer, tmp_path: Path) -> None:
    out = tmp_path / "episodes.jsonl"
    result = run_cli("eval", "--env", "code-v0", "--tool-server", f"code={code_server.url}", "--limit", "1",
                     "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "1.000" in result.stdout and out.read_text().count("\n") == 1


@pytest.mark.parametrize(("args", "needle"), [
    (["--model", "stack"], "--model stack needs --stack DIR"),
    (["--tool-server", "code=localhost:1"], "needs an http(s) URL"),
    (["--tool-server", "sql=http://127.0.0.1:1"], "env 'code-v0' needs tool server 'code'"),
    (["--stack", "{tmp}", "--server-url", "http://127.0.0.1:1"], "not both"),
    (["--stack", "{tmp}"], "no stack in"),
])
def test_misuse_is_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    result = run_cli("eval", "--env", "code-v0", *[a.format(tmp=tmp_path) for a in args])
    assert result.returncode == 2 and needle in result.stderr and "Traceback" not in result.stderr, result.stderr
