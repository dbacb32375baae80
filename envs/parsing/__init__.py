"""Action parsers: the model's text in, a `ParsedAction` (or a `ParseError`) out.

Parsers are registered by name and combined with "+":

>>> parser = make_parser("hermes+answer")
>>> parser.parse("<think>easy</think><answer>4</answer>").final_answer
'4'
>>> from tool_servers.types import ToolCall
>>> [call.name for call in parser.parse(render_tool_call(ToolCall("ls"))).tool_calls]
['ls']

Built in: "hermes" (`<tool_call>{json}</tool_call>`), "answer" (`<answer>…</answer>`),
"fenced" (the last ```python block), "search" (Search-R1's `<search>query</search>`,
a call of the `search` tool), "sql" and "solution" (SkyRL-SQL's `<sql>` calls of
`execute_sql` and `<solution>` answers), "browsergym" (`click("12")`, `fill("7", "text")`)
and "webshop" (`search[query]`, `click[value]`). Reasoning in `<think>…</think>` is always split
off first and never parsed. The rules for combinations are in `composite.py`.

To add a parser, subclass `ToolCallParser` or `AnswerParser` (so it combines with the
others), give it a `name`, a no-argument constructor and `format_instructions`, and
`PARSERS.register("name", YourParser)`.
"""

from __future__ import annotations

from envs.errors import EnvConfigError
from envs.parsing.answer import AnswerTagParser
from envs.parsing.base import ActionParser, ParsedAction
from envs.parsing.browsergym import BrowserGymParser
from envs.parsing.composite import AnswerParser, CompositeParser, ToolCallParser
from envs.parsing.fenced import FencedCodeParser
from envs.parsing.gui import GuiParser
from envs.parsing.hermes import HermesParser, render_tool_call
from envs.parsing.reasoning import split_reasoning
from envs.parsing.search import SearchTagParser, render_search
from envs.parsing.sql import SolutionTagParser, SqlTagParser
from envs.parsing.webshop import WebShopParser
from sandbox.registry import Registry

__all__ = [
    "PARSERS",
    "ActionParser",
    "AnswerParser",
    "CompositeParser",
    "ParsedAction",
    "ToolCallParser",
    "make_parser",
    "render_search",
    "render_tool_call",
    "split_reasoning",
]

PARSERS: Registry[type[ActionParser]] = Registry("parser")
PARSERS.register("hermes", HermesParser)
PARSERS.register("answer", AnswerTagParser)
PARSERS.register("fenced", FencedCodeParser)
PARSERS.register("search", SearchTagParser)  # Search-R1: <search>query</search>
PARSERS.register("sql", SqlTagParser)  # SkyRL-SQL: <sql>query</sql> runs execute_sql
PARSERS.register("solution", SolutionTagParser)  # SkyRL-SQL: <solution>final query</solution>
PARSERS.register("browsergym", BrowserGymParser)  # BrowserGym: click("12"), fill("7", "text")
PARSERS.register("webshop", WebShopParser)  # WebShop: search[query], click[value]
PARSERS.register("gui", GuiParser)  # OSWorld computer_13 JSON actions and pyautogui calls


def make_parser(spec: str) -> ActionParser:
    """Build the parser a spec names: one name ("hermes") or several joined by "+".

    Raises:
        UnknownNameError: a name is not registered (with a "Did you mean" hint).
        EnvConfigError: the spec is empty or names a parser twice.
    """
    names = [name.strip() for name in spec.split("+")]
    if not all(names):
        raise EnvConfigError(
            f"parser spec {spec!r} has an empty name; join registered names with '+', "
            f"e.g. 'hermes+answer'. Known: {', '.join(PARSERS.names())}"
        )
    if len(set(names)) != len(names):
        raise EnvConfigError(f"parser spec {spec!r} names a parser twice; list each once")
    parsers = [PARSERS.get(name)() for name in names]
    if len(parsers) == 1:
        return parsers[0]
    try:
        return CompositeParser(parsers)
    except TypeError as error:
        raise EnvConfigError(f"parser spec {spec!r}: {error}") from None
