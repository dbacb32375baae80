"""Request bodies of the OpenAI-compatible model server (pydantic, validated at the boundary).

Field names and defaults follow OpenAI's API and vLLM's extensions (REFERENCE §10), so
the official `openai` client and clients written for vLLM work unchanged:
`return_token_ids`, `return_tokens_as_token_ids`, `top_k`, `stop_token_ids`,
`include_stop_str_in_output`, `skip_special_tokens`, `ignore_eos`, `request_id`,
`chat_template_kwargs`. Fields OpenAI defines but this server does not implement are
accepted only at their neutral value (`n=1`, `stream=false`, penalties 0, …) and
refused otherwise with a message saying so — never silently ignored.

Responses are plain dicts built in `_responses.py`: their shape is OpenAI's, documented
there, and the hot path does not pay for validating its own output.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent_rl.images import flatten_images

TokenIds = list[Annotated[int, Field(ge=0)]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Sampling(_Strict):
    """Sampling fields shared by completions and chat completions."""

    model: str | None = None
    temperature: float = Field(1.0, ge=0, le=10)
    top_p: float = Field(1.0, gt=0, le=1)
    top_k: int = Field(0, ge=-1, description="0 or -1: off")
    seed: int | None = None
    stop: str | list[str] | None = None
    stop_token_ids: TokenIds | None = None
    ignore_eos: bool = False
    include_stop_str_in_output: bool = False
    skip_special_tokens: bool = True
    return_token_ids: bool = False
    request_id: str | None = Field(None, min_length=1, max_length=256)
    n: Literal[1] = 1
    stream: Literal[False] = False
    user: str | None = None
    presence_penalty: Literal[0] = 0
    frequency_penalty: Literal[0] = 0
    logit_bias: None = None
    min_tokens: Literal[0] = 0

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, value: str | list[str] | None) -> list[str] | None:
        return [value] if isinstance(value, str) else value

    def stop_strings(self) -> tuple[str, ...]:
        return tuple(s for s in (self.stop or []) if s)  # type: ignore[union-attr]  # normalised above


class CompletionRequest(_Sampling):
    """`POST /v1/completions`: a prompt as text or as token ids (vLLM's form)."""

    prompt: str | TokenIds | list[str] | list[TokenIds]
    max_tokens: int = Field(16, ge=1)
    logprobs: int | None = Field(None, ge=0, le=20)
    return_tokens_as_token_ids: bool = False
    echo: Literal[False] = False
    best_of: Literal[1] | None = None
    suffix: None = None

    @field_validator("prompt")
    @classmethod
    def _one_prompt(cls, value: Any) -> str | list[int]:
        if isinstance(value, list) and value and isinstance(value[0], (str, list)):
            if len(value) != 1:
                raise ValueError("this server takes one prompt per request; send the prompts one by one")
            value = value[0]
        if isinstance(value, list) and not value:
            raise ValueError("the prompt is empty")
        return value


class ToolCallFunction(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    arguments: str | dict[str, Any] = "{}"


class ToolCallIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str | None = None
    type: Literal["function"] = "function"
    function: ToolCallFunction


class ChatMessage(BaseModel):
    """One message; `content` may be text or OpenAI content parts. This server runs text
    models: an image part (`image_url`, `image`) is rendered as the text `<image>`, so a
    multimodal conversation still gets an answer (and its exact token ids)."""

    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None
    name: str | None = None

    def text(self) -> str | None:
        if isinstance(self.content, list):
            kinds = {part.get("type") for part in self.content}
            if kinds - {"text", "image_url", "image"}:
                raise ValueError(f"only text and image content parts are supported, got {sorted(map(str, kinds))}")
            return flatten_images([{"content": self.content}])[0]["content"]
        return self.content


class ChatCompletionRequest(_Sampling):
    """`POST /v1/chat/completions`: messages rendered with the model's chat template."""

    messages: list[ChatMessage] = Field(min_length=1)
    tools: list[dict[str, Any]] | None = None
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=20)
    return_tokens_as_token_ids: bool = False
    add_generation_prompt: bool = True
    continue_final_message: bool = False
    chat_template_kwargs: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ChatCompletionRequest:
        if self.top_logprobs and not self.logprobs:
            raise ValueError("top_logprobs needs logprobs=true")
        if self.add_generation_prompt and self.continue_final_message:
            raise ValueError("continue_final_message needs add_generation_prompt=false")
        return self

    def budget(self, default: int) -> int:
        return self.max_completion_tokens or self.max_tokens or default


class UpdateWeightsRequest(_Strict):
    """`POST /update_weights`: reload weights from a `save_pretrained` directory."""

    path: str = Field(min_length=1)
    version: int = Field(ge=0)
    abort_running: bool = True


class AbortRequest(_Strict):
    """`POST /abort_requests`: abort these request ids (none or empty: all)."""

    request_ids: list[str] | None = None
