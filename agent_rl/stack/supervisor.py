"""The process supervisor behind `agent-rl stack up`: `python -m agent_rl.stack.supervisor DIR`.

It runs detached (its own session) and executes `DIR/plan.json`:

- each instance starts once everything it depends on is healthy (dependency order);
- each runs in its own process group (`start_new_session`), so stopping it — or
  cleaning up after a crash — signals the whole group: uvicorn, its workers, and the
  sandbox helpers below them. Children also get `PR_SET_PDEATHSIG`, so even a
  supervisor killed with SIGKILL takes its services with it;
- health: GET the check's path until it answers 2xx (or, for `process` checks, the
  process stays up); a running service that fails `retries` checks in a row is killed
  and restarted, like a Kubernetes liveness probe;
- a crash is restarted after a back-off that doubles up to `restart.max_s`; an
  instance that never got healthy in `max_start_failures` starts is marked `failed`
  and left alone (a bad config should not spin forever);
- SIGTERM/SIGINT stop everything in reverse dependency order (SIGTERM to each group,
  SIGKILL after a grace period) and exit.

Status goes to `DIR/state.json` on every change; logs to `DIR/logs/NAME.log`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
import time
from pathlib import Path

import httpx

from agent_rl.stack.state import (
    InstancePlan,
    InstanceState,
    Plan,
    StackState,
    kill_group,
    read_plan,
    state_path,
    write_json_atomic,
)

log = logging.getLogger("agent_rl.stack.supervisor")

STOP_GRACE_S = 10.0
_PR_SET_PDEATHSIG = 1


def _die_with_supervisor() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class Runner:
    """Keeps one instance running: start, health-check, restart with back-off, stop."""

    def __init__(self, supervisor: Supervisor, plan: InstancePlan) -> None:
        self.sup = supervisor
        self.plan = plan
        self.state = supervisor.state.instance(plan.name)
        self.healthy = asyncio.Event()  # set once the instance has been healthy (dependents wait)
        self.process: asyncio.subprocess.Process | None = None
        self.log_path = supervisor.state_dir / "logs" / f"{plan.name}.log"
        self.state.log = str(self.log_path)

    def set(self, status: str, message: str = "", **fields: object) -> None:
        self.state.status = status  # type: ignore[assignment]  # one of InstanceStatus, by construction
        self.state.message = message
        for key, value in fields.items():
            setattr(self.state, key, value)
        if message:
            log.info("%s: %s (%s)", self.plan.name, status, message)
        self.sup.save()

    async def _spawn(self, argv: list[str]) -> asyncio.subprocess.Process:
        with self.log_path.open("ab") as out:
            out.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} start: {' '.join(argv)}\n".encode())
            out.flush()
            return await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, **self.plan.env}, start_new_session=True, preexec_fn=_die_with_supervisor)

    async def _prepare(self) -> bool:
        """Run the one-off preparation (e.g. `agent-rl model init`) if its output is missing."""
        if not self.plan.prepare or (self.plan.prepare_creates and Path(self.plan.prepare_creates).exists()):
            return True
        self.set("preparing", " ".join(self.plan.prepare[-4:]))
        self.process = await self._spawn(self.plan.prepare)
        self.state.pid = self.process.pid
        code = await self.process.wait()
        kill_group(self.process.pid)
        self.process = None
        if code != 0:
            self.set("failed", f"preparation exited with {code}; see {self.log_path}", last_exit=code, pid=None)
            return False
        return True

    async def run(self) -> None:
        for dep in self.plan.depends_on:
            await self.sup.runners[dep].healthy.wait()
        if not await self._prepare():
            return
        delay, start_failures = self.sup.plan.restart.initial_s, 0
        while not self.sup.stopping.is_set():
            self.set("starting", restarts=self.state.restarts)
            self.process = await self._spawn(self.plan.argv)
            started = time.monotonic()
            self.state.pid, self.state.started_at, self.state.healthy_since = self.process.pid, time.time(), None
            self.sup.save()
            reason = await self._watch(self.process)
            if self.sup.stopping.is_set():
                return  # `Supervisor.run` stops the process gracefully
            code = self.process.returncode
            kill_group(self.process.pid)  # whatever the leader left behind in its group
            with contextlib.suppress(ProcessLookupError):
                if code is None:
                    await self.process.wait()
                    code = self.process.returncode
            was_healthy = self.state.healthy_since is not None
            self.process = None
            start_failures = 0 if was_healthy else start_failures + 1
            if start_failures >= self.sup.plan.max_start_failures:
                self.set("failed", f"{reason}; never healthy in {start_failures} starts — see {self.log_path}",
                         last_exit=code, pid=None)
                return
            if was_healthy and time.monotonic() - started > self.sup.plan.restart.reset_after_s:
                delay = self.sup.plan.restart.initial_s
            self.state.restarts += 1
            self.set("backoff", f"{reason}; restarting in {delay:.1f} s", last_exit=code, pid=None)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.sup.stopping.wait(), delay)
            delay = min(delay * 2, self.sup.plan.restart.max_s)

    async def _watch(self, process: asyncio.subprocess.Process) -> str:
        """Until the process exits or must be restarted; returns why it stopped."""
        health = self.plan.health
        exited = asyncio.ensure_future(process.wait())
        deadline = time.monotonic() + health.start_period_s
        failures = 0
        try:
            while True:
                interval = health.interval_s if self.state.healthy_since else min(0.25, health.interval_s)
                done, _ = await asyncio.wait({exited}, timeout=interval)
                if done:
                    return f"exited with {process.returncode}"
                if self.sup.stopping.is_set():
                    return "stopping"
                ok = await self._check(process)
                if ok:
                    failures = 0
                    if self.state.healthy_since is None:
                        self.healthy.set()
                        self.set("healthy", "", healthy_since=time.time())
                    elif self.state.status != "healthy":
                        self.set("healthy")
                    continue
                if self.state.healthy_since is None:
                    if time.monotonic() > deadline:
                        self._kill(process)
                        return f"not healthy within {health.start_period_s:.0f} s"
                    continue
                failures += 1
                self.set("unhealthy", f"{failures} failed health checks")
                if failures >= health.retries:
                    self._kill(process)
                    return f"unhealthy ({failures} failed checks)"
        finally:
            exited.cancel()

    async def _check(self, process: asyncio.subprocess.Process) -> bool:
        if self.plan.health.kind == "process" or self.plan.url is None:
            return process.returncode is None
        try:
            answer = await self.sup.http.get(self.plan.url + self.plan.health.path,
                                             timeout=self.plan.health.timeout_s)
        except httpx.HTTPError:
            return False
        return 200 <= answer.status_code < 300

    def _kill(self, process: asyncio.subprocess.Process) -> None:
        kill_group(process.pid, signal.SIGKILL)

    async def stop(self) -> None:
        """SIGTERM the group, SIGKILL it after the grace period; idempotent."""
        process = self.process
        if process is not None and process.returncode is None:
            self.set("stopping")
            kill_group(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_GRACE_S)
            except TimeoutError:
                log.warning("%s ignored SIGTERM for %.0f s; killing it", self.plan.name, STOP_GRACE_S)
            kill_group(process.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                await process.wait()
        if self.state.status not in ("skipped", "failed"):
            self.set("stopped", pid=None)


class Supervisor:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.state_dir = Path(plan.state_dir)
        (self.state_dir / "logs").mkdir(parents=True, exist_ok=True)
        self.state = StackState(stack_id=plan.stack_id, supervisor_pid=os.getpid(), instances=[
            InstanceState(name=i.name, service=i.service, kind=i.kind, url=i.url,
                          status="skipped" if i.skipped else "pending", message=i.skipped or "")
            for i in plan.instances])
        self.stopping = asyncio.Event()
        self.http = httpx.AsyncClient(trust_env=False)
        self.runners = {i.name: Runner(self, i) for i in plan.instances if not i.skipped}

    def save(self) -> None:
        running = [i for i in self.state.instances if i.status not in ("skipped",)]
        if self.state.phase == "starting" and all(i.status == "healthy" for i in running):
            self.state.phase = "running"
        if any(i.status == "failed" for i in running) and self.state.phase == "starting":
            self.state.phase = "failed"
        self.state.updated_at = time.time()
        write_json_atomic(state_path(self.state_dir), self.state)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        self.save()
        tasks = [asyncio.create_task(r.run(), name=name) for name, r in self.runners.items()]
        await self.stopping.wait()
        self.state.phase = "stopping"
        self.save()
        for task in tasks:  # runners waiting on dependencies or in back-off just end
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for name in reversed(list(self.runners)):  # dependents first
            await self.runners[name].stop()
        await self.http.aclose()
        self.state.phase = "stopped"
        self.save()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m agent_rl.stack.supervisor STATE_DIR", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per health check
    plan = read_plan(Path(args[0]))
    log.info("supervising %d instances from %s", len(plan.instances), plan.config_source)
    asyncio.run(Supervisor(plan).run())
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
