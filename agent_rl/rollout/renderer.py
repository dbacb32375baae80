"""Chat-template rendering for token-in/token-out rollouts.

The first prompt is rendered once with the model's chat template (tools included).
After that, only the *new* messages are turned into tokens — the "template delta" —
and appended after the tokens the model actually sampled. History is never
re-rendered, so the learner trains on exactly what the model saw.

The delta is computed against a fixed base conversation (the trick SkyRL uses):
render `base` and `base + new messages`, and keep what the second adds. Templates put
tokens after an assistant message that the model does not sample (ChatML's newline
after `<|im_end|>`); those "glue" tokens are found once from the base rendering and
appended (loss-masked) after each assistant turn.

Observations with images (GUI envs: OpenAI content parts with `image_url`) are rendered
one of two ways (`images=`): "placeholder" (default) flattens each message to text with
`<image>` where an image was, for text-only templates; "template" hands the parts to a
vision-language template as Hugging Face `{"type": "image"}` parts, so it emits its own
image tokens. Either way the image bytes travel beside the tokens (`Trajectory.images`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from agent_rl.errors import AgentRLError
from agent_rl.images import IMAGE_PLACEHOLDER, flatten_images

_BASE: list[dict[str, Any]] = [
    {"role": "system", "content": "S"},
    {"role": "user", "content": "U"},
    {"role": "assistant", "content": "A"},
]


class TemplateError(AgentRLError):
    """The chat template cannot be used incrementally (e.g. it rewrites earlier turns)."""


@dataclass(frozen=True, slots=True)
class Delta:
    """Tokens appended after an assistant turn: `closing` (end-of-turn tokens the model did
    not sample, e.g. EOS after a stop string, and the template's glue) then the new
    messages and the next generation prompt. All are loss-masked."""

    closing: list[int]
    observation: list[int]

    @property
    def ids(self) -> list[int]:
        return self.closing + self.observation


class ChatRenderer:
    """Renders prompts and observation deltas with a Hugging Face tokenizer's template.

    Args:
        tokenizer: a `transformers` tokenizer with a chat template.
        images: "placeholder" or "template" (see the module docstring).
        image_placeholder: the text an image becomes in "placeholder" mode.
        template_kwargs: extra keyword arguments for `apply_chat_template` (e.g.
            `enable_thinking=False`).
    """

    def __init__(self, tokenizer: Any, *, images: Literal["placeholder", "template"] = "placeholder",
                 image_placeholder: str = IMAGE_PLACEHOLDER, **template_kwargs: Any) -> None:
        if not getattr(tokenizer, "chat_template", None):
            raise TemplateError("the tokenizer has no chat template; pass a model directory with one")
        if images not in ("placeholder", "template"):
            raise ValueError(f"images must be 'placeholder' or 'template', got {images!r}")
        self.tokenizer = tokenizer
        self.images, self.image_placeholder = images, image_placeholder
        self.template_kwargs = template_kwargs
        eos = tokenizer.eos_token_id
        self.eos_ids: frozenset[int] = frozenset(eos if isinstance(eos, list) else [eos]) - {None}
        if not self.eos_ids:
            raise TemplateError("the tokenizer defines no eos_token_id; the engine would never stop")
        self.end_of_turn = self._end_of_turn_id()
        self.glue = self._glue()
        self._base_ids = self._encode(_BASE, add_generation_prompt=False)

    # ---- rendering -----------------------------------------------------------------
    def _encode(self, messages: Sequence[dict[str, Any]], *, add_generation_prompt: bool,
                tools: Sequence[dict[str, Any]] | None = None) -> list[int]:
        text = self.tokenizer.apply_chat_template(
            self._template_messages(messages), tools=list(tools) if tools else None, tokenize=False,
            add_generation_prompt=add_generation_prompt, **self.template_kwargs)
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def _template_messages(self, messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.images == "placeholder":
            return flatten_images(messages, self.image_placeholder)
        return [{**m, "content": [{"type": "image"} if isinstance(p, dict) and p.get("type") == "image_url" else p
                                  for p in m["content"]]} if isinstance(m.get("content"), list) else dict(m)
                for m in messages]

    def render_prompt(self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] | None = None
                      ) -> list[int]:
        """The first prompt, ending with the assistant generation prompt."""
        return self._encode(messages, add_generation_prompt=True, tools=tools)

    def render_full(self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] | None = None
                    ) -> list[int]:
        """A full re-render of a conversation (what a chat API would feed the model)."""
        return self._encode(messages, add_generation_prompt=True, tools=tools)

    def delta(self, generated: Sequence[int], new_messages: Sequence[dict[str, Any]]) -> Delta:
        """Tokens to append after a turn that sampled `generated`, for `new_messages`."""
        closing: list[int] = []
        if not generated or generated[-1] not in self.eos_ids | {self.end_of_turn}:
            closing.append(self.end_of_turn)  # a stop string ended the turn: close it
        closing.extend(self.glue)
        full = self._encode([*_BASE, *new_messages], add_generation_prompt=True)
        if full[: len(self._base_ids)] != self._base_ids:
            raise TemplateError("the chat template renders earlier turns differently once new messages "
                                "follow; incremental rendering is impossible (fork rows instead)")
        return Delta(closing=closing, observation=full[len(self._base_ids):])

    def ends_turn(self, ids: Sequence[int]) -> bool:
        """Whether a generation ended its turn itself (EOS / end-of-turn token)."""
        return bool(ids) and (ids[-1] in self.eos_ids or ids[-1] == self.end_of_turn)

    def decode(self, ids: Sequence[int]) -> str:
        """The text the env sees for a turn: special tokens (EOS) dropped."""
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=True))

    # ---- template introspection --------------------------------------------------------
    def _end_of_turn_id(self) -> int:
        """The token that ends an assistant message in the template (e.g. `<|im_end|>`)."""
        ids = self._encode(_BASE, add_generation_prompt=False)
        content = self.tokenizer.encode("A", add_special_tokens=False)
        for i in range(len(ids) - len(content), -1, -1):
            if ids[i:i + len(content)] == content:
                after = ids[i + len(content):]
                if after:
                    return after[0]
        return min(self.eos_ids)

    def _glue(self) -> list[int]:
        """Tokens the template puts after the end-of-turn token of an assistant message."""
        ids = self._encode(_BASE, add_generation_prompt=False)
        for i in range(len(ids) - 1, -1, -1):
            if ids[i] == self.end_of_turn:
                return ids[i + 1:]
        return []
