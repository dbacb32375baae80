"""The web environment: act in a real (headless) browser on local task sites.

Observations: the goal, then after every action its one-line result and the page —
BrowserGym's accessibility tree with element ids (`[12] button 'Submit'`), cut to
`max_obs_tokens` with the cut marked; or the page text; or WebShop's `[SEP]` text.
Actions (`action_format`): BrowserGym calls (`click("12")`, `fill("7", "text")`,
`select_option`, `press`, `scroll`, `go_back`, `goto`), Hermes `<tool_call>`s of the same
tools, or WebShop's `search[...]` / `click[...]`.

The episode ends when the task says so — MiniWoB++'s page ends its episode, a shop
purchase — and is then scored server-side: MiniWoB++ 1 if the raw reward > 0 (raw and
time-discounted values as parts), MiniShop by WebShop's formula (each term a part).
Without an end it is truncated at `max_turns` (outcome 0). Step rewards (optional):
`invalid_action_reward` for unparsable actions, `missing_element_reward` for actions on
an element id that is not on the page.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from envs.base import StepResult
from envs.errors import EnvConfigError
from envs.parsing import render_tool_call
from envs.tool_env import StepRewards, ToolEnv
from envs.types import Message, Turn, system, tool_message, user
from envs.web.miniwob_solvers import SOLVERS, Action, PageView, wrong_action
from envs.web.observation import render_page
from envs.web.shop_solver import shop_action
from envs.web.tasks import WebTask, load_tasks
from tool_servers import ToolClient
from tool_servers.schemas import ToolSpec
from tool_servers.types import ToolCall, ToolResult

ActionFormat = Literal["browsergym", "hermes", "webshop"]
ObservationMode = Literal["axtree", "text", "webshop"]
PARSERS = {"browsergym": "browsergym", "hermes": "hermes", "webshop": "webshop"}
BROWSER_TOOLS = ("click", "fill", "select", "press", "scroll", "go_back", "goto")
WEBSHOP_TOOLS = ("search", "click_text")

SYSTEM_PROMPT = """\
You are an agent acting in a web browser to accomplish a goal. After each action you see \
its result and the current page{page_hint}. {format_hint} Do one action per turn. The \
episode ends by itself when the task is done."""
PAGE_HINTS = {"axtree": " as an accessibility tree, where each element you can act on has an id in [brackets]",
              "text": " as text", "webshop": " as text, with clickable elements written as [button] label [button_]"}
FORMAT_HINTS = {
    "browsergym": ('Act with one BrowserGym action: click("12"), fill("7", "text"), select_option("9", "option"), '
                   'press("Enter"), scroll(0, 300), go_back(), goto("http://shop.test/").'),
    "hermes": ('Act by calling one of the tools, e.g. <tool_call>{"name": "click", "arguments": {"bid": "12"}}'
               "</tool_call>."),
    "webshop": "Act with search[your query] on a page with a search box, or click[label of a [button]].",
}


def render_action(action: Action, action_format: str) -> str:
    """The text of a tool call in the env's action format (scripted agents use it)."""
    name, args = action
    if action_format == "hermes":
        return render_tool_call(ToolCall(name, args))
    if action_format == "webshop":
        kind = {"search": "search", "click_text": "click"}[name]
        return f"{kind}[{args.get('query', args.get('text'))}]"
    quote = lambda value: json.dumps(value, ensure_ascii=False)  # a Python string literal too
    if name == "scroll":
        amount = args["amount"] * (-1 if args["direction"] in ("up", "left") else 1)
        return f"scroll({amount if args['direction'] in ('left', 'right') else 0}, " \
               f"{amount if args['direction'] in ('up', 'down') else 0})"
    if name == "select":
        return f"select_option({quote(args['bid'])}, {quote(args['option'])})"
    if name == "press":
        return f"press({quote(args['bid'])}, {quote(args['key'])})" if args.get("bid") else f"press({quote(args['key'])})"
    if name == "observe":
        return "noop()"
    values = [args[key] for key in ("bid", "text", "url") if key in args]
    return f"{name}({', '.join(quote(v) for v in values)})"


class WebEnv(ToolEnv[WebTask]):
    """Web tasks in a headless browser; see the module docstring.

    Args:
        tasks: "miniwob" (the served MiniWoB++ subset), "minishop" (generated goals),
            "webshop:DIR" (WebShop's goals; the server must serve the same catalogue: pass
            `server_options={"shop_data": DIR}`), a list of MiniWoB++ names or `WebTask`s.
        limit: keep the first `limit` tasks.
        action_format: "browsergym", "hermes" or "webshop".
        observation: "axtree", "text" or "webshop" (default: "webshop" for the WebShop
            format, else "axtree").
        max_obs_tokens: budget of the page part of each observation.
        invalid_action_reward / missing_element_reward: step rewards (e.g. -0.1).
        screenshot: ask the server for a PNG with every observation (in `last_data`).
        **kwargs: `ToolEnv` options (max_turns, server_url, tool_client, server_options, ...).
    """

    tool_server = "browser"

    def __init__(self, tasks: str | Sequence[WebTask] | Sequence[str] = "miniwob", *, limit: int | None = None,
                 action_format: ActionFormat = "browsergym", observation: ObservationMode | None = None,
                 max_obs_tokens: int = 3000, invalid_action_reward: float = 0.0,
                 missing_element_reward: float = 0.0, screenshot: bool = False, max_turns: int = 20,
                 max_tool_calls_per_turn: int = 1, **kwargs: Any) -> None:
        if action_format not in PARSERS:
            raise EnvConfigError(f"action_format must be one of {', '.join(PARSERS)}, got {action_format!r}")
        observation = observation or ("webshop" if action_format == "webshop" else "axtree")
        if observation not in PAGE_HINTS:
            raise EnvConfigError(f"observation must be one of {', '.join(PAGE_HINTS)}, got {observation!r}")
        if action_format == "webshop" and observation != "webshop":
            raise EnvConfigError("action_format='webshop' clicks by label: use observation='webshop'")
        if not isinstance(max_obs_tokens, int) or max_obs_tokens < 50:
            raise EnvConfigError(f"max_obs_tokens must be an integer ≥ 50, got {max_obs_tokens!r}")
        options = dict(kwargs.pop("server_options", None) or {})
        shop_products, shop_seed = options.get("shop_products", 300), options.get("shop_seed", 0)
        if isinstance(tasks, str) and tasks.startswith("webshop:"):
            options.setdefault("shop_data", tasks.removeprefix("webshop:"))
        kwargs.setdefault("step_rewards", StepRewards(invalid_action=invalid_action_reward))
        self.action_format, self.observation = action_format, observation
        self.max_obs_tokens, self.missing_element_reward, self.screenshot = max_obs_tokens, missing_element_reward, screenshot
        super().__init__(load_tasks(tasks, limit=limit, shop_products=shop_products, shop_seed=shop_seed),
                         parser=PARSERS[action_format], max_turns=max_turns,
                         max_tool_calls_per_turn=max_tool_calls_per_turn, server_options=options, **kwargs)
        self.last_data: dict[str, Any] = {}
        self._history: list[Action] = []

    # ---- ToolEnv hooks ----------------------------------------------------------------
    def task_id(self, task: WebTask) -> str:
        return task.task_id

    def initial_messages(self, task: WebTask, tools: list[ToolSpec]) -> list[Message]:
        return [system(SYSTEM_PROMPT.format(page_hint=PAGE_HINTS[self.observation],
                                            format_hint=FORMAT_HINTS[self.action_format]))]

    def session_params(self, task: WebTask) -> dict[str, Any]:
        params: dict[str, Any] = {"site": task.site, "task": task.task, "observation": self.observation,
                                  "screenshot": self.screenshot,
                                  "seed": int(self.np_random.integers(0, 2**31 - 1))}
        if task.goal:
            params["goal"] = task.goal
        return params

    def evaluate_payload(self, task: WebTask, answer: str) -> dict[str, Any]:
        return {}

    async def _ensure_client(self) -> ToolClient:
        client = await super()._ensure_client()
        shown = WEBSHOP_TOOLS if self.action_format == "webshop" else BROWSER_TOOLS
        self._tools = [t for t in self._tools if t.function.name in shown]
        return client

    # ---- episode ----------------------------------------------------------------------
    async def areset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
                     ) -> tuple[list[Message], dict[str, Any]]:
        messages, info = await super().areset(seed=seed, options=options)
        assert self._client is not None and self._session is not None
        first = await self._client.call(self._session, ToolCall("observe", {}))
        self.last_data, self._history = dict(first.data), []
        goal = str(first.data.get("goal", ""))
        opening = user(f"# Goal\n{goal}\n\n{render_page(self.last_data, self.observation, self.max_obs_tokens)}")
        messages.append(opening)
        self.transcript.append(dict(opening))  # type: ignore[arg-type]  # a copy of the TypedDict
        info["goal"], info["url"] = goal, first.data.get("url", "")
        return messages, info

    def format_tool_result(self, result: ToolResult) -> Message:
        """The action's one-line result; the page is appended to the turn's last message."""
        line = result.content.split("\n\n", 1)[0]
        if result.data.get("error_kind") == "no_such_element" and self.missing_element_reward:
            turn = self.turns[-1]
            turn.reward_parts["step/missing_element"] = (turn.reward_parts.get("step/missing_element", 0.0)
                                                         + self.missing_element_reward)
            turn.step_reward += self.missing_element_reward
        if self.action_format == "hermes":
            return tool_message(ToolResult(result.name, line, result.is_error, result.call_id))
        return user(f"Action result: {line}")

    async def _run_tools(self, turn: Turn, calls: list[ToolCall]) -> StepResult:
        observation, reward, terminated, truncated, info = await super()._run_tools(turn, calls)
        for call, result in zip(turn.tool_calls, turn.tool_results, strict=False):
            if "observation" in result.data:
                self.last_data = dict(result.data)
                self._history.append((call.name, dict(call.arguments)))
        if observation and self.last_data:
            page = render_page(self.last_data, self.observation, self.max_obs_tokens)
            observation[-1]["content"] = f"{observation[-1]['content']}\n\n{page}"
            turn.observation = [dict(m) for m in observation]  # type: ignore[misc]
        info["url"] = self.last_data.get("url", "")
        if any(result.data.get("done") for result in turn.tool_results):
            return await self._finish(turn, "")
        return observation, reward, terminated, truncated, info

    # ---- scripted agents --------------------------------------------------------------
    def _view(self) -> PageView:
        return PageView(str(self.last_data.get("goal", "")), list(self.last_data.get("elements", [])),
                        str(self.last_data.get("url", "")), list(self._history))

    def scripted_next_action(self, kind: str = "reference") -> str:
        """The scripted agent's next action, computed from the latest observation (web
        pages change after each action, so a script cannot be written in advance)."""
        task = self.task
        if task is None:
            raise EnvConfigError("scripted actions need a task: call reset() first")
        if kind not in ("reference", "wrong"):
            raise EnvConfigError(f"unknown scripted action kind {kind!r}; use 'reference' or 'wrong'")
        view = self._view()
        if task.site == "minishop":
            mode = "webshop" if self.action_format == "webshop" else "axtree"
            action = shop_action(task.goal, view, str(self.last_data.get("observation", "")), mode,
                                 wrong=kind == "wrong")
        elif self.action_format == "webshop":
            raise EnvConfigError("MiniWoB++ tasks have no scripted WebShop-format actions")
        else:
            action = SOLVERS[task.task](view) if kind == "reference" else wrong_action(task.task, view)
        return render_action(action or ("observe", {}), self.action_format)

    def scripted_actions(self, kind: str = "reference") -> list[str]:
        """The next scripted action (see `scripted_next_action`), as a one-step script."""
        return [self.scripted_next_action(kind)]
