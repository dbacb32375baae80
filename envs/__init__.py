"""Gym-style text environments for tool-using LLM agents.

>>> import envs
>>> env = envs.make("code-v0")          # or gymnasium.make("code-v0")
>>> "code-humaneval-v0" in [s.id for s in envs.list()]
True

Third-party envs arrive through the `agent_rl.envs` entry-point group (see
docs/new-environment.md). Imports from `tool_servers` and `sandbox` only.
"""

from envs.base import TextEnv
from envs.errors import EnvConfigError, EnvError, EpisodeStateError, ParseError, UnknownEnvError
from envs.registry import (
         EnvSpec,
         list,
         load_plugins,
         make,
         register,
         spec,
         unregister,
)
from envs.tool_env import StepRewards, ToolEnv
from envs.types import Message, Turn

register("code-v0", "envs.code.env:CodeEnv", tasks="default",
         description="Python problems: HumanEval (164) + generated stdin/stdout problems; python tool; hidden tests")
register("code-humaneval-v0", "envs.code.env:CodeEnv", tasks="humaneval",
         description="HumanEval (164 problems, per-assert hidden tests) with a python tool")
register("code-stdio-v0", "envs.code.env:CodeEnv", tasks="stdio",
         description="Generated stdin/stdout problems with a python tool")
register("sql-v0", "envs.sql.env:SqlEnv", tasks="default", reward="spider",
         description="Text-to-SQL on 5 generated SQLite databases (337 questions, 3 variants each); "
                     "<sql>/<solution> tags; Spider test-suite execution match")
register("sql-hermes-v0", "envs.sql.env:SqlEnv", tasks="default", reward="spider", parser="hermes+solution",
         description="sql-v0 with Hermes <tool_call> list_tables / describe_table / execute_sql")
register("sql-skyrl-v0", "envs.sql.env:SqlEnv", tasks="default", reward="skyrl",
         description="sql-v0 scored like SkyRL-SQL: -1 bad format, 0 wrong, 1 correct (BIRD set match)")
register("search-v0", "envs.search.env:SearchEnv", tasks="default",
         description="Search QA (1-hop, bridge, comparison) over a generated fictional corpus; "
                     "Search-R1 <search>/<answer> tags; BM25; exact match")
register("search-hermes-v0", "envs.search.env:SearchEnv", tasks="default", action_format="hermes",
         description="search-v0 with Hermes <tool_call> search calls")
register("arith-v0", "envs.arith.env:ArithEnv", digits=3, ops="*",
         description="Arithmetic (3-digit products, 500 train / 500 test) answered by calling the "
                     "python tool and copying its result; exact-match reward")
register("arith-easy-v0", "envs.arith.env:ArithEnv", digits=2, ops="+", result_digits=3,
         description="arith-v0 with 2-digit sums of 3 digits (fixed-width copies: the quick start's task "
                     "for the tiny model)")
register("web-miniwob-v0", "envs.web.env:WebEnv", tasks="miniwob",
         description="26 MiniWoB++ click/typing tasks in headless Chromium; accessibility tree with bids; "
                     "BrowserGym actions; reward 1 if the task's raw reward > 0")
register("web-miniwob-hermes-v0", "envs.web.env:WebEnv", tasks="miniwob", action_format="hermes",
         description="web-miniwob-v0 with Hermes <tool_call> calls of click/fill/select/press/scroll")
register("web-shop-v0", "envs.web.env:WebEnv", tasks="minishop",
         description="MiniShop: 300 generated products, goals in WebShop's schema; accessibility tree, "
                     "BrowserGym actions; WebShop's reward")
register("web-shop-text-v0", "envs.web.env:WebEnv", tasks="minishop", action_format="webshop",
         description="MiniShop in WebShop's text mode: [SEP] observations, search[...] / click[...] actions")
register("gui-desktop-v0", "envs.gui.env:GuiEnv", tasks="desktop", observation="screenshot",
         description="5 Tk mini-apps (form, settings, calculator, listview, rename; 20 goals each) on an Xvfb display; "
                     "screenshot observations; pyautogui / OSWorld JSON actions; app-state checker")
register("gui-desktop-a11y-v0", "envs.gui.env:GuiEnv", tasks="desktop", observation="a11y",
         description="gui-desktop-v0 for text policies: OSWorld's linearised a11y tree instead of pixels")
register("gui-desktop-screenshot-a11y-v0", "envs.gui.env:GuiEnv", tasks="desktop", observation="screenshot_a11y",
         description="gui-desktop-v0 with OSWorld's screenshot + a11y tree observation")
register("gui-miniwob-v0", "envs.gui.miniwob:MiniWoBPixelEnv", tasks="miniwob", observation="screenshot",
         description="web-miniwob-v0's 26 MiniWoB++ tasks in pixel mode: 160x210 screenshots, pyautogui / "
                     "OSWorld JSON coordinate actions through the browser server; reward 1 if raw > 0")
register("gui-grounding-v0", "envs.gui.grounding.env:GroundingEnv", tasks="builtin",
         description="ScreenSpot-format grounding: instruction + screenshot, one click, reward 1 inside the "
                     "target's box; shipped set from Tk mini-apps and MiniWoB++ pages, or tasks=PATH")

__all__ = [
    "EnvConfigError", "EnvError", "EnvSpec", "EpisodeStateError", "Message", "ParseError",
    "StepRewards", "TextEnv", "ToolEnv", "Turn", "UnknownEnvError", "list", "load_plugins", "make",
    "register", "spec", "unregister",
]
