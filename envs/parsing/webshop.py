"""WebShop's text actions: `search[query]` and `click[value]`.

`search[...]` types the query into the page's search box and submits it; `click[...]`
clicks the link or button whose text is the value (case-insensitive), as WebShop's
`[button] value [button_]` observations show them.

>>> [(c.name, dict(c.arguments)) for c in WebShopParser().parse("search[dark chocolate bar]").tool_calls]
[('search', {'query': 'dark chocolate bar'})]
>>> WebShopParser().parse("click[Buy Now]").tool_calls[0].arguments
{'text': 'Buy Now'}
"""

from __future__ import annotations

import re

from envs.errors import ParseError
from envs.parsing.composite import ToolCallParser
from tool_servers.types import ToolCall

_ACTION = re.compile(r"(?<![\w])(search|click)\[(.*?)\](?!\S*\])", re.DOTALL)
TOOLS = {"search": ("search", "query"), "click": ("click_text", "text")}


class WebShopParser(ToolCallParser):
    """Each `search[…]` / `click[…]` is one call, in order."""

    name = "webshop"

    def extract_calls(self, visible: str) -> tuple[list[ToolCall], str]:
        calls: list[ToolCall] = []
        rest: list[str] = []
        pos = 0
        for match in _ACTION.finditer(visible):
            rest.append(visible[pos:match.start()])
            kind, value = match.group(1), match.group(2).strip()
            if not value:
                raise ParseError(f"{kind}[] is empty; write search[your query] or click[button text]")
            tool, argument = TOOLS[kind]
            calls.append(ToolCall(tool, {argument: value[:500]}))
            pos = match.end()
        rest.append(visible[pos:])
        return calls, "".join(rest)

    def format_instructions(self) -> str:
        return "Act with search[your query] on a page with a search box, or click[text of a [button]]."
