"""`python -m agent_rl.stack.healthcheck URL | --cmdline TEXT`: the containers' health check.

Exit 0 when `URL` answers 2xx (or, with `--cmdline`, when a process whose command line
contains TEXT runs), 1 otherwise. Standard library only, so a check costs an
interpreter start and nothing more — Docker runs it every few seconds in every
container, and slim images need no curl.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def http_ok(url: str, timeout_s: float = 5.0) -> bool:
    """GET `url`; True for a 2xx answer."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # health is local; ignore proxies
    try:
        with opener.open(url, timeout=timeout_s) as answer:
            return 200 <= answer.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def process_running(text: str) -> bool:
    """Whether some other process's command line (args joined by spaces) contains `text`."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] == "--cmdline":
        return 0 if process_running(args[1]) else 1
    if len(args) == 1 and args[0].startswith(("http://", "https://")):
        return 0 if http_ok(args[0]) else 1
    print("usage: python -m agent_rl.stack.healthcheck URL | --cmdline TEXT", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
