"""What the model reads after each step: the action's result and the page, cut to a
token budget.

The budget is counted in approximate tokens (4 characters each, the usual rule of thumb
for English and markup); the tree is cut at a line boundary and the cut is marked, so
the model knows there is more (and can scroll, or act on what it sees).

>>> text = "\\n".join(f"[{i}] button 'b{i}'" for i in range(100))
>>> print(truncate(text, 20).splitlines()[-1])
[... 95 more lines truncated to fit the 20-token observation budget ...]
"""

from __future__ import annotations

CHARS_PER_TOKEN = 4


def approx_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def truncate(text: str, max_tokens: int) -> str:
    """`text` cut to about `max_tokens` tokens at a line boundary, with the cut marked."""
    budget = max_tokens * CHARS_PER_TOKEN
    if len(text) <= budget:
        return text
    lines = text.splitlines()
    kept: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > budget:
            break
        kept.append(line)
        used += len(line) + 1
    if not kept:  # one long line (WebShop's text view): cut inside it
        kept, rest = [text[:budget]], "characters"
        dropped = len(text) - budget
    else:
        dropped, rest = len(lines) - len(kept), "lines"
    kept.append(f"[... {dropped} more {rest} truncated to fit the {max_tokens}-token observation budget ...]")
    return "\n".join(kept)


def render_page(data: dict, mode: str, max_tokens: int) -> str:
    """The page part of an observation, from a browser tool result's `data`."""
    body = truncate(str(data.get("observation", "")), max_tokens)
    if mode == "webshop":
        return f"Observation:\n{body}"
    heading = "Accessibility tree" if mode == "axtree" else "Page text"
    return f"# Current page: {data.get('url', '')}\n# {heading}\n{body}"
