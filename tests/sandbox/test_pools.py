"""Warm pools on real backends: the forking worker pool and the persistent session.

Run against every backend with long-lived processes (bwrap, process). Statuses, state
(none between fork calls; kept within a session), recovery from crashed and hung
workers, and the isolation the backend gives is kept.
"""

from __future__ import annotations

import asyncio
import os
import textwrap
from collections.abc import AsyncIterator

import pytest

from sandbox import Backend, ExecStatus, ForkingPool, Guarantee, Limits, PythonSession, SandboxSpec
from tests.sandbox.conftest import REPO, build, leftovers, spec

pytestmark = pytest.mark.timeout(120)

LEAVE_STATE = textwrap.dedent("""
    import json, os, subprocess
    json.MARK = "leaked"
    os.environ["MARK"] = "leaked"
    open("file", "w").write("leaked")
    open(os.path.join(os.environ["HOME"], "home-file"), "w").write("leaked")
    if PRIVATE_SHM:
        open("/dev/shm/shm-file", "w").write("leaked")
    subprocess.Popen(["sleep", "30"], start_new_session=True)
    print("left")
""")
CHECK_STATE = textwrap.dedent("""
    import json, os
    seen = [getattr(json, "MARK", None), os.environ.get("MARK"), os.listdir("."),
            os.path.exists(os.path.join(os.environ["HOME"], "home-file")),
            os.path.exists("/dev/shm/shm-file")]
    sleepers = []
    for pid in filter(str.isdigit, os.listdir("/proc")):  # sleepers of this sandbox's own uid
        try:
            mine = f"Uid:\t{os.getuid()}\t" in open(f"/proc/{pid}/status").read()
            if mine and open(f"/proc/{pid}/cmdline", "rb").read().startswith(b"sleep"):
                sleepers.append(pid)
        except OSError:
            pass
    print(seen, bool(sleepers))
""")


@pytest.fixture(params=["bwrap", "process"])
async def pool_backend(request: pytest.FixtureRequest, base_dir: str) -> AsyncIterator[Backend]:
    backend = build(request.param, base_dir)
    if not backend.probe().available:
        pytest.skip(f"{request.param} is unavailable here: {backend.probe().reason}")
    try:
        yield backend
    finally:
        await backend.aclose()


@pytest.fixture
async def pool(pool_backend: Backend) -> AsyncIterator[ForkingPool]:
    async with ForkingPool(pool_backend, size=2) as forking:
        yield forking


# -- forking pool --------------------------------------------------------------------------


async def test_fork_call_results(pool: ForkingPool) -> None:
    ok = await pool.run_python("import sys\nprint(sys.stdin.read()[::-1], open('data.txt').read())",
                               spec=SandboxSpec(files={"data.txt": "file"}), stdin="olleh")
    assert (ok.status, ok.exit_code, ok.stdout) == (ExecStatus.OK, 0, "hello file\n")
    raised = await pool.run_python("def f():\n    raise ValueError('boom')\nf()")
    assert raised.status is ExecStatus.ERROR and raised.exit_code == 1
    assert 'File "main.py", line 2, in f' in raised.stderr and "raise ValueError" in raised.stderr
    assert (await pool.run_python("import sys\nsys.exit(3)")).exit_code == 3
    main_guard = await pool.run_python("if __name__ == '__main__':\n    print('main')")
    assert main_guard.stdout == "main\n"


async def test_fork_call_limits(pool: ForkingPool) -> None:
    timeout = await pool.run_python("import time\nwhile True:\n    time.sleep(1)", spec=spec(wall_time_s=0.5))
    assert timeout.status is ExecStatus.TIMEOUT and timeout.duration_s < 2
    cpu = await pool.run_python("while True:\n    pass", spec=spec(cpu_time_s=1))
    assert cpu.status in (ExecStatus.CPU_LIMIT, ExecStatus.TIMEOUT)
    oom = await pool.run_python("x = bytearray(2 << 30)", spec=spec(memory_mb=256))
    assert oom.status is ExecStatus.OOM
    flood = await pool.run_python("while True:\n    print('x' * 1000)", spec=spec(output_bytes=5000))
    assert flood.status is ExecStatus.OUTPUT_LIMIT and len(flood.stdout) == 5000 and flood.stdout_truncated
    assert (await pool.run_python("print('still fine')")).ok


async def test_no_state_leaks_between_fork_calls(pool: ForkingPool) -> None:
    private_shm = pool.probe().guarantees[Guarantee.FILESYSTEM_ISOLATION]  # else /dev/shm is the host's
    assert (await pool.run_python(f"PRIVATE_SHM = {private_shm}\n{LEAVE_STATE}")).stdout == "left\n"
    for _ in range(2):  # whichever worker takes the next calls
        result = await pool.run_python(CHECK_STATE)
        assert result.stdout.startswith("[None, None, [], False, False]"), result
        assert not result.stdout.strip().endswith("True"), "a background process survived its call"
    randoms = {(await pool.run_python("import random\nprint(random.random())")).stdout for _ in range(3)}
    assert len(randoms) == 3, "each child must be reseeded"


async def test_crashed_worker_recovers_without_losing_queued_calls(pool_backend: Backend) -> None:
    async with ForkingPool(pool_backend, size=1) as pool:
        killer = pool.run_python("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)")
        queued = [pool.run_python(f"print({index})") for index in range(3)]
        results = await asyncio.gather(killer, *queued)
        assert results[0].status in (ExecStatus.ERROR, ExecStatus.KILLED)
        assert [r.stdout for r in results[1:]] == ["0\n", "1\n", "2\n"]
        assert pool.started_workers == 2


async def test_fork_child_cannot_reach_its_worker(pool: ForkingPool) -> None:
    code = "import os\ntry:\n    os.listdir(f'/proc/{os.getppid()}/fd')\n    print('open')\nexcept OSError:\n    print('closed')"
    assert (await pool.run_python(code)).stdout == "closed\n"


async def test_concurrent_fork_calls(pool: ForkingPool) -> None:
    results = await asyncio.gather(*(pool.run_python(f"print({i} * 2)") for i in range(16)))
    assert [r.stdout for r in results] == [f"{i * 2}\n" for i in range(16)]


async def test_pool_keeps_the_backend_isolation(pool_backend: Backend) -> None:
    if not pool_backend.probe().guarantees[Guarantee.FILESYSTEM_ISOLATION]:
        pytest.skip(f"{pool_backend.name} does not hide host files")
    task_file = os.path.join(REPO, "envs", "code", "data", "stdio_tasks.jsonl")
    async with ForkingPool(pool_backend, size=1) as pool, PythonSession(pool_backend) as session:
        code = f"try:\n    open({task_file!r}).read()\n    print('read')\nexcept OSError:\n    print('hidden')"
        assert (await pool.run_python(code)).stdout == "hidden\n"
        assert (await session.run(code)).stdout == "hidden\n"
    assert leftovers(pool_backend) == []


# -- persistent session --------------------------------------------------------------------


async def test_session_keeps_state_and_shows_values(pool_backend: Backend) -> None:
    async with PythonSession(pool_backend) as session:
        assert (await session.run("x = 6\ndef times(y):\n    return x * y")).stdout == ""
        assert (await session.run("times(7)")).stdout == "42\n"
        assert (await session.run("print(input().upper())", stdin="abc\n")).stdout == "ABC\n"
        assert (await session.run("import sys\nsys.stdin.buffer.read()", stdin=b"raw")).stdout == "b'raw'\n"
        error = await session.run("def g():\n    return 1 / 0\ng()")
        assert error.status is ExecStatus.ERROR and error.exit_code == 1 and "ZeroDivisionError" in error.stderr
        assert "return 1 / 0" in error.stderr and "_worker" not in error.stderr
        assert (await session.run("raise SystemExit(4)")).exit_code == 4
        assert (await session.run("x")).stdout == "6\n"
        await session.reset()
        assert (await session.run("'x' in globals()")).stdout == "False\n"


async def test_session_limits_keep_the_session(pool_backend: Backend) -> None:
    limits = Limits(memory_mb=256, output_bytes=2000)
    async with PythonSession(pool_backend, limits=limits) as session:
        await session.run("kept = 'yes'")
        timeout = await session.run("import time\nwhile True:\n    time.sleep(0.01)", timeout_s=0.3)
        assert timeout.status is ExecStatus.TIMEOUT
        assert (await session.run("while True:\n    print('x' * 100)")).status is ExecStatus.OUTPUT_LIMIT
        assert (await session.run("big = bytearray(1 << 30)")).status is ExecStatus.OOM
        assert (await session.run("kept")).stdout == "'yes'\n" and session.restarts == 0


async def test_session_total_memory_is_limited(pool_backend: Backend) -> None:
    from tests.sandbox.test_security_resources import MULTI_PROCESS_MEMORY

    async with PythonSession(pool_backend, limits=Limits(memory_mb=256)) as session:
        result = await session.run(MULTI_PROCESS_MEMORY.replace("time.sleep(4)", "time.sleep(1)"), timeout_s=5)
        assert result.status is ExecStatus.OOM, result
        assert (await session.run("print('next call works')")).stdout == "next call works\n"


async def test_session_recovers_from_crash_and_hang(pool_backend: Backend) -> None:
    async with PythonSession(pool_backend) as session:
        await session.run("state = 1")
        crashed = await session.run("import os\nos._exit(3)")
        assert crashed.status is ExecStatus.ERROR and crashed.exit_code == 3 and "session ended" in crashed.stderr
        assert (await session.run("'state' in globals()")).stdout == "False\n" and session.restarts == 1
        hang = "import signal, time\nsignal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])\ntime.sleep(30)"
        hung = await session.run(hang, timeout_s=0.5)
        assert hung.status is ExecStatus.TIMEOUT and session.restarts == 1
        assert (await session.run("print('fresh')")).stdout == "fresh\n" and session.restarts == 2


async def test_two_sessions_share_nothing(pool_backend: Backend) -> None:
    async with PythonSession(pool_backend) as first, PythonSession(pool_backend) as second:
        await first.run("secret = 1\nopen('note', 'w').write('x')")
        assert (await second.run("'secret' in globals()")).stdout == "False\n"
        assert (await second.run("import os\nos.path.exists('note')")).stdout == "False\n"


async def test_a_call_cancelled_while_the_session_starts_leaves_no_process(pool_backend: Backend) -> None:
    """An episode abandoned on its first tool call cancels the call while the session's
    process is still starting: that process is killed and its slot given back."""
    free = pool_backend._slots.worker_queue.qsize()  # type: ignore[attr-defined]
    session = PythonSession(pool_backend)
    call = asyncio.create_task(session.run("print(1)"))
    for _ in range(5000):  # until the process is spawned, before it has said hello
        if pool_backend._workers:  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0.0005)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert all(w.returncode is not None for w in pool_backend._workers)  # type: ignore[attr-defined]
    assert pool_backend._slots.worker_queue.qsize() == free  # type: ignore[attr-defined]
    assert leftovers(pool_backend) == []
    await session.aclose()
