"""Chat messages and turns: what an env shows the model and what it remembers.

`Message` is a TypedDict, i.e. a plain dict at run time, so observations go straight
into Hugging Face chat templates and OpenAI-style APIs without conversion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, TypedDict

from tool_servers.types import ToolCall, ToolResult

Role = Literal["system", "user", "assistant", "tool"]


class Message(TypedDict):
    """One chat message (OpenAI / HF chat-template shape).

    `content` is a string, or — for observations that carry images (GUI envs) — a list
    of OpenAI content parts: `{"type": "text", "text": ...}` and
    `{"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}`
    (`text_part`, `image_part`; `message_text` reads the text of either form).
    """

    role: Role
    content: str | list[dict[str, Any]]
    name: NotRequired[str]  # tool name, on `tool` messages
    tool_call_id: NotRequired[str]  # pairs a `tool` message with its call
    tool_calls: NotRequired[list[dict[str, Any]]]  # on `assistant` messages


def text_part(text: str) -> dict[str, Any]:
    """An OpenAI text content part."""
    return {"type": "text", "text": text}


def image_part(png_b64: str, mime: str = "image/png") -> dict[str, Any]:
    """An OpenAI image content part holding the image inline as a data URL."""
    return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{png_b64}"}}


def message_text(message: Message) -> str:
    """The text of a message, its image parts left out (for text-only consumers)."""
    content = message["content"]
    if isinstance(content, str):
        return content
    return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")


def system(content: str) -> Message:
    return {"role": "system", "content": content}


def user(content: str) -> Message:
    return {"role": "user", "content": content}


def assistant(content: str) -> Message:
    return {"role": "assistant", "content": content}


def tool_message(result: ToolResult) -> Message:
    message: Message = {"role": "tool", "content": result.content, "name": result.name}
    if result.call_id:
        message["tool_call_id"] = result.call_id
    return message


@dataclass(slots=True)
class Turn:
    """One model action and what the env answered.

    Attributes:
        index: 0-based turn number within the episode.
        action: the model's raw text.
        tool_calls / tool_results: what was executed (empty for a final answer).
        observation: the messages the env returned after this action.
        step_reward: the process reward for this turn (0.0 when step rewards are off).
        reward_parts: named components of `step_reward`.
        invalid: the action could not be parsed.
        final: the action was a final answer.
    """

    index: int
    action: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_results: list[ToolResult] = field(default_factory=list)
    observation: list[Message] = field(default_factory=list)
    step_reward: float = 0.0
    reward_parts: dict[str, float] = field(default_factory=dict)
    invalid: bool = False
    final: bool = False
