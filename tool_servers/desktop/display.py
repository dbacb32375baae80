"""One desktop session's processes: an Xvfb display, the app in it, and the input/screen calls.

Both processes start in their own process group (`start_new_session`) with a parent-death
signal, so `close()` kills each whole group and a server that dies takes them along.
`close()` is idempotent and also runs as soon as a crash is noticed, so a dead display
leaves nothing behind even before its session is deleted.

Input goes through `xdotool` (one short process per action, `DISPLAY` set for it);
screenshots are read with `mss` (XGetImage over the display's socket) in a thread and
encoded as PNG.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ctypes
import json
import logging
import os
import select
import shutil
import signal
import sys
import tempfile
import time
from typing import Any

from tool_servers.desktop.apps import MAIN
from tool_servers.desktop.config import DesktopServerConfig
from tool_servers.desktop.errors import DesktopCrashedError, DesktopUnavailableError

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1


def _child_setup() -> None:  # pragma: no cover  # runs in the forked child
    """Die with the server: ask the kernel for SIGKILL when the parent goes."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Display:
    """Xvfb + one mini-app. Build with `await Display.start(...)`."""

    def __init__(self, config: DesktopServerConfig, workdir: str) -> None:
        self.config = config
        self.workdir = workdir
        self.socket_path = os.path.join(workdir, "app.sock")
        self.xvfb: asyncio.subprocess.Process | None = None
        self.app: asyncio.subprocess.Process | None = None
        self.number: int | None = None
        self.closed = False

    @property
    def name(self) -> str:
        return f":{self.number}"

    @property
    def env(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DISPLAY": self.name, "HOME": self.workdir,
                "LANG": "C.UTF-8"}

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in (self.xvfb, self.app) if p is not None]

    @classmethod
    async def start(cls, config: DesktopServerConfig, app: str, init: dict[str, Any]) -> Display:
        display = cls(config, tempfile.mkdtemp(prefix="agent-rl-desktop-"))
        try:
            async with asyncio.timeout(config.start_timeout_s):
                await display._start_xvfb()
                await display._start_app(app, init)
        except TimeoutError:
            await display.close()
            raise DesktopUnavailableError(f"the display or the {app!r} app did not come up within "
                                          f"{config.start_timeout_s:g} s (start_timeout_s)") from None
        except BaseException:
            await display.close()
            raise
        return display

    async def _start_xvfb(self) -> None:
        read_fd, write_fd = os.pipe()
        try:
            self.xvfb = await asyncio.create_subprocess_exec(
                self.config.xvfb_path, "-displayfd", str(write_fd), "-screen", "0",
                f"{self.config.width}x{self.config.height}x24", "-nolisten", "tcp", "-noreset",
                pass_fds=(write_fd,), start_new_session=True, preexec_fn=_child_setup,
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL, cwd=self.workdir)
        except OSError as exc:
            os.close(read_fd)
            raise DesktopUnavailableError(f"cannot run Xvfb ({self.config.xvfb_path}): {exc}; "
                                          "install it with `apt-get install xvfb` (or `make setup`)") from exc
        finally:
            os.close(write_fd)
        try:
            text = await asyncio.to_thread(_read_line, read_fd, self.config.start_timeout_s)
        finally:
            os.close(read_fd)
        if not text.strip().isdigit():
            raise DesktopUnavailableError(f"Xvfb did not report a display number (got {text!r})")
        self.number = int(text)

    async def _start_app(self, app: str, init: dict[str, Any]) -> None:
        python = self.config.python or sys.executable
        self.app = await asyncio.create_subprocess_exec(
            python, str(MAIN), app, self.socket_path, json.dumps(init), str(self.config.width),
            str(self.config.height), env=self.env, start_new_session=True, preexec_fn=_child_setup,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, cwd=self.workdir)
        while True:
            if self.app.returncode is not None:
                err = (await self.app.stderr.read()).decode(errors="replace")[-500:] if self.app.stderr else ""
                raise DesktopUnavailableError(f"the {app!r} app exited at start-up: {err.strip()}")
            if os.path.exists(self.socket_path):
                with contextlib.suppress(OSError, DesktopCrashedError):
                    if (await self.request({"cmd": "ping"})).get("ok"):
                        return
            await asyncio.sleep(0.02)

    # ---- liveness ---------------------------------------------------------------------
    def dead_part(self) -> str | None:
        """Which process has died ("Xvfb" / "app"), or None while both run."""
        if self.xvfb is None or self.xvfb.returncode is not None:
            return "Xvfb"
        if self.app is None or self.app.returncode is not None:
            return "app"
        return None

    async def ensure_alive(self) -> None:
        part = "session closed" if self.closed else self.dead_part()
        if part is not None:
            await self.close()
            raise DesktopCrashedError(f"the session's {part} is gone; its processes were cleaned up — "
                                      "start a new session")

    # ---- app channel ------------------------------------------------------------------
    async def request(self, payload: dict[str, Any], timeout_s: float = 5.0) -> dict[str, Any]:
        """One JSON request to the app (see `apps/_runtime.py`)."""
        try:
            async with asyncio.timeout(timeout_s):
                reader, writer = await asyncio.open_unix_connection(self.socket_path)
                try:
                    writer.write(json.dumps(payload).encode() + b"\n")
                    await writer.drain()
                    line = await reader.readline()
                finally:
                    writer.close()
        except (OSError, TimeoutError) as exc:
            raise DesktopCrashedError(f"the app does not answer ({type(exc).__name__}: {exc})") from exc
        try:
            reply = json.loads(line)
        except ValueError as exc:
            raise DesktopCrashedError(f"the app sent a broken reply: {line[:200]!r}") from exc
        if not isinstance(reply, dict):
            raise DesktopCrashedError(f"the app sent a broken reply: {line[:200]!r}")
        return reply

    # ---- input and screen -------------------------------------------------------------
    async def xdotool(self, *args: str) -> None:
        await self.ensure_alive()
        proc = await asyncio.create_subprocess_exec(
            self.config.xdotool_path, *args, env=self.env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        try:
            async with asyncio.timeout(10):
                _, err = await proc.communicate()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise DesktopCrashedError("xdotool hung for 10 s; the display is unresponsive") from None
        if proc.returncode != 0:
            await self.ensure_alive()  # a dead display explains it
            raise DesktopCrashedError(f"xdotool {args[0]} failed: {err.decode(errors='replace').strip()[:300]}")

    async def screenshot_png(self) -> bytes:
        await self.ensure_alive()
        try:
            return await asyncio.to_thread(_grab_png, self.name, self.config.png_level)
        except Exception as exc:  # mss raises its own ScreenShotError, or OSError
            await self.ensure_alive()
            raise DesktopCrashedError(f"could not read the screen: {exc}") from exc

    async def screenshot_b64(self) -> str:
        return base64.b64encode(await self.screenshot_png()).decode()

    # ---- teardown ---------------------------------------------------------------------
    async def close(self) -> None:
        """Kill the app's and Xvfb's process groups, reap them, remove the workdir. Idempotent."""
        self.closed = True
        for proc in (self.app, self.xvfb):
            if proc is None:
                continue
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await proc.wait()
        await asyncio.to_thread(shutil.rmtree, self.workdir, True)


def _read_line(fd: int, timeout_s: float) -> str:
    deadline, data = time.monotonic() + timeout_s, b""
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 64)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def _grab_png(display: str, level: int) -> bytes:
    import mss
    import mss.tools

    with mss.MSS(display=display) as grabber:
        shot = grabber.grab(grabber.monitors[0])
        png = mss.tools.to_png(shot.rgb, shot.size, level=level)
    assert png is not None
    return png


def mss_available() -> bool:
    try:
        import mss  # noqa: F401
    except ImportError:
        return False
    return True
