"""BrowserGym and WebShop action parsing; rendered actions parse back; observation budget."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envs.errors import ParseError
from envs.parsing import make_parser
from envs.web import render_action
from envs.web.observation import truncate

BROWSERGYM = make_parser("browsergym")
WEBSHOP = make_parser("webshop")


@pytest.mark.parametrize(("text", "name", "arguments"), [
    ('click("12")', "click", {"bid": "12"}),
    ("click(12)", "click", {"bid": "12"}),
    ("<think>the ok button</think>\n```\nclick('a15')\n```", "click", {"bid": "a15"}),
    ('fill("7", "a) b, \\"c\\"")', "fill", {"bid": "7", "text": 'a) b, "c"'}),
    ('fill(bid="7", value="x")', "fill", {"bid": "7", "text": "x"}),
    ('select_option("3", ["red", "blue"])', "select", {"bid": "3", "option": ["red", "blue"]}),
    ('press("4", "Enter")', "press", {"bid": "4", "key": "Enter"}),
    ('keyboard_press("Tab")', "press", {"key": "Tab"}),
    ("scroll(-200, 0)", "scroll", {"direction": "left", "amount": 200}),
    ('scroll("up")', "scroll", {"direction": "up", "amount": 300}),
    ("go_back()", "go_back", {}),
    ('goto("http://shop.test/")', "goto", {"url": "http://shop.test/"}),
])
def test_browsergym_calls(text: str, name: str, arguments: dict) -> None:
    (call,) = BROWSERGYM.parse(text).tool_calls
    assert (call.name, dict(call.arguments)) == (name, arguments)


@pytest.mark.parametrize(("text", "message"), [
    ('click(__import__("os").system("ls"))', "literal"),
    ("click(x)", "literal"),
    ('fill("1")', "argument"),
    ("click(True)", "element id"),
    ('hover("1")', "no tool call"),
    ('click("1"', "not closed"),
    ('scroll("sideways")', "scroll takes"),
    ('click(bid="1", force=True)', "unknown keyword"),
])
def test_browsergym_rejects_with_a_message(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        BROWSERGYM.parse(text)


def test_webshop_actions() -> None:
    calls = WEBSHOP.parse("search[red flannel shirt]").tool_calls
    assert [(c.name, dict(c.arguments)) for c in calls] == [("search", {"query": "red flannel shirt"})]
    assert dict(WEBSHOP.parse("click[< Prev]").tool_calls[0].arguments) == {"text": "< Prev"}
    with pytest.raises(ParseError, match="empty"):
        WEBSHOP.parse("click[ ]")
    with pytest.raises(ParseError):
        WEBSHOP.parse("buy the shirt")


@pytest.mark.parametrize("action", [
    ("click", {"bid": "12"}), ("fill", {"bid": "7", "text": 'quote " and \\ and é'}),
    ("select", {"bid": "3", "option": "Bobine"}), ("press", {"key": "Enter"}),
    ("press", {"bid": "2", "key": "Control+a"}), ("scroll", {"direction": "down", "amount": 300}),
    ("go_back", {}), ("goto", {"url": "http://miniwob.test/"}),
])
@pytest.mark.parametrize("action_format", ["browsergym", "hermes"])
def test_rendered_actions_parse_back(action: tuple[str, dict], action_format: str) -> None:
    (call,) = make_parser(action_format).parse(render_action(action, action_format)).tool_calls
    assert (call.name, dict(call.arguments)) == action


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_parsers_raise_only_parse_errors(text: str) -> None:
    for parser in (BROWSERGYM, WEBSHOP):
        try:
            parser.parse(text)
        except ParseError:
            pass


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="abc[]' ", max_size=40), max_size=80), st.integers(50, 400))
def test_truncation_respects_the_budget_and_marks_the_cut(lines: list[str], budget: int) -> None:
    text = "\n".join(lines)
    cut = truncate(text, budget)
    if len(text) <= budget * 4:
        assert cut == text
    else:
        body, marker = cut.rsplit("\n", 1) if "\n" in cut else ("", cut)
        assert "truncated" in marker and len(body) <= budget * 4
