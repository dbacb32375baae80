"""Entry point of a mini-app process: `python _main.py APP SOCKET INIT_JSON WIDTH HEIGHT`.

Run as a script (not `-m`), so the app process imports only the stdlib, tkinter and the
app's own module — starting it costs Tk's start-up, not the project's imports.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tkinter as tk

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _runtime import Host


def main() -> None:
    name, socket_path, init_json, width, height = sys.argv[1:6]
    module = importlib.import_module(name)
    root = tk.Tk(className=module.TITLE.replace(" ", ""))
    root.title(module.TITLE)
    root.geometry(f"{width}x{height}+0+0")
    root.option_add("*insertOffTime", 0)  # no blinking cursor: same state, same pixels
    root.option_add("*Font", "TkDefaultFont 11")
    app = module.App(root, json.loads(init_json))
    Host(root, app, socket_path)
    root.mainloop()


if __name__ == "__main__":
    main()
