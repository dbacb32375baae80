"""Key names: pyautogui's / OSWorld's (`enter`, `ctrl`, `pagedown`, `a`) → X keysyms for xdotool.

A combination is names joined by "+" (`ctrl+a`, `shift+tab`); a lone "+" is the plus key.
Anything outside this table is refused (`BadKeyError`), so the agent's text never becomes
an xdotool option or an arbitrary keysym.

>>> to_keysyms("ctrl+a"), to_keysyms("Enter"), to_keysyms("+")
('ctrl+a', 'Return', 'plus')
"""

from __future__ import annotations

import string

from tool_servers.desktop.errors import BadKeyError

NAMED = {
    "enter": "Return", "return": "Return", "tab": "Tab", "backspace": "BackSpace", "delete": "Delete",
    "del": "Delete", "esc": "Escape", "escape": "Escape", "space": "space", "up": "Up", "down": "Down",
    "left": "Left", "right": "Right", "home": "Home", "end": "End", "pageup": "Prior", "pgup": "Prior",
    "pagedown": "Next", "pgdn": "Next", "insert": "Insert", "ctrl": "ctrl", "control": "ctrl",
    "ctrlleft": "ctrl", "ctrlright": "ctrl", "shift": "shift", "shiftleft": "shift", "shiftright": "shift",
    "alt": "alt", "altleft": "alt", "altright": "alt", "win": "super", "super": "super", "cmd": "super",
    "command": "super", "meta": "super", "capslock": "Caps_Lock",
    **{f"f{i}": f"F{i}" for i in range(1, 13)},
}
PUNCTUATION = {
    "+": "plus", "-": "minus", "*": "asterisk", "/": "slash", "=": "equal", ".": "period", ",": "comma",
    ";": "semicolon", ":": "colon", "'": "apostrophe", '"': "quotedbl", "!": "exclam", "?": "question",
    "@": "at", "#": "numbersign", "$": "dollar", "%": "percent", "&": "ampersand", "(": "parenleft",
    ")": "parenright", "[": "bracketleft", "]": "bracketright", "_": "underscore", " ": "space",
}


def key_to_keysym(name: str) -> str:
    if len(name) == 1 and name in string.ascii_letters + string.digits:
        return name
    if name in PUNCTUATION:
        return PUNCTUATION[name]
    keysym = NAMED.get(name.lower())
    if keysym is None:
        raise BadKeyError(f"unknown key {name!r}; use pyautogui names such as 'enter', 'tab', 'ctrl', "
                          "'backspace', 'up', 'f5', or a single letter, digit or punctuation mark",
                          details={"key": name})
    return keysym


def to_keysyms(combo: str) -> str:
    """An xdotool key argument for a combination (`ctrl+shift+t` → `ctrl+shift+t`)."""
    combo = combo.strip()
    if combo in ("+", ""):
        if not combo:
            raise BadKeyError("empty key combination; e.g. 'enter' or 'ctrl+a'")
        return "plus"
    names = combo[:-1].split("+") + ["+"] if combo.endswith("++") else combo.split("+")
    if any(not n for n in names):
        raise BadKeyError(f"malformed key combination {combo!r}; join key names with '+', e.g. 'ctrl+a'")
    return "+".join(key_to_keysym(n) for n in names)
