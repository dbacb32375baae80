"""GUI grounding in ScreenSpot's format: an instruction and a screenshot in, one click out,
reward 1 when the click lands in the target's box.

- `dataset`: the `GroundingSample` record, `click_in_box`, `load_screenspot` (ScreenSpot
  v1 / v2 / Pro-style files from a path) and `write_screenspot`;
- `generate`: a set rendered from the Tk mini-apps (desktop server) and MiniWoB++ pages
  (browser server), boxes from Tk and the DOM (`agent-rl gui grounding --out DIR`);
- `env`: `GroundingEnv` (`gui-grounding-v0`), single-step, no tool server at run time.
"""

from envs.gui.grounding.dataset import (
    GroundingSample,
    click_in_box,
    load_screenspot,
    to_xyxy,
    write_screenspot,
)
from envs.gui.grounding.env import BUILTIN_DIR, GroundingEnv, parse_point

__all__ = ["BUILTIN_DIR", "GroundingEnv", "GroundingSample", "click_in_box", "load_screenspot", "parse_point",
           "to_xyxy", "write_screenspot"]
