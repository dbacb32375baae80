"""Starting Chromium so that it stays off the network, and finding its processes.

Playwright drives Debian's Chromium through `executable_path` (nothing is downloaded:
`playwright install` is never run). The flags turn off everything Chromium does on its
own behind a page's back — background networking, component and extension updates,
sync, safe-browsing pings, translation — and map every host name to "not found", so that
even a request that escaped the context's request router could not resolve a host.
`launch()` gives the browser a fresh temporary user-data directory, removed at close.

Each launch carries a unique, inert `--agent-rl-browser=TOKEN` switch so that the
browser's processes can be found in /proc (memory accounting, and the crash test that
kills it) without guessing by name.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from tool_servers.browser.errors import BrowserConfigError

#: Flags that keep the browser from talking to anything but the pages we route to it.
OFFLINE_FLAGS: tuple[str, ...] = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-pings",
    "--metrics-recording-only",
    ("--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,"
     "AutofillServerCommunication,CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions"),
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--disable-dev-shm-usage",
)

MARKER_SWITCH = "--agent-rl-browser"


@dataclass(frozen=True, slots=True)
class LaunchPlan:
    """Everything `chromium.launch` is given, plus the marker that finds the process."""

    executable_path: str
    args: tuple[str, ...]
    token: str


def find_chromium(path: str) -> str:
    """The Chromium binary at `path` (or on PATH by that name); a one-line fix otherwise."""
    resolved = path if os.path.isabs(path) else shutil.which(path)
    if not resolved or not os.access(resolved, os.X_OK):
        raise BrowserConfigError(
            f"no Chromium executable at {path!r}: install Debian's package (`apt-get install chromium`, "
            "done by `make setup`) or pass --option executable_path=/path/to/chromium")
    return resolved


def plan_launch(executable_path: str, *, no_sandbox: bool | None = None) -> LaunchPlan:
    """Flags for one launch. Chromium's own sandbox cannot start as root, so root runs
    get `--no-sandbox` (pages are our own local sites; see docs/environments/web.md)."""
    token = secrets.token_hex(8)
    args = list(OFFLINE_FLAGS) + [f"{MARKER_SWITCH}={token}"]
    if no_sandbox if no_sandbox is not None else os.geteuid() == 0:
        args.append("--no-sandbox")
    return LaunchPlan(find_chromium(executable_path), tuple(args), token)


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")


def _ppid(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return -1
    return int(stat.rsplit(")", 1)[1].split()[1])


def browser_pid(token: str) -> int | None:
    """The main browser process of the launch marked with `token`, if alive."""
    needle = f"{MARKER_SWITCH}={token}"
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            args = _cmdline(int(entry))
            if needle in args and not any(a.startswith("--type=") for a in args):
                return int(entry)
    return None


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants (renderers, GPU and utility processes)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            children.setdefault(_ppid(int(entry)), []).append(int(entry))
    tree, stack = [], [root]
    while stack:
        pid = stack.pop()
        tree.append(pid)
        stack.extend(children.get(pid, []))
    return tree


def tree_memory_kib(root: int) -> int:
    """Proportional set size (PSS, KiB) of a process tree: shared pages are split between
    the processes that map them, so the sum is what the tree really costs."""
    total = 0
    for pid in process_tree(root):
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
                break
    return total
