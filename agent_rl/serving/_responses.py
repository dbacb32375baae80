"""Turning a `GenerationResult` into OpenAI-shaped JSON (text, logprobs, stop reasons).

Token ids are the truth: `token_ids` always holds every sampled token, stop token and
the token that completed a stop string included. Text is a view: decoded with
`skip_special_tokens` as asked, and cut at a matched stop string unless
`include_stop_str_in_output` (vLLM's rules). `stop_reason` is the matched stop string
or stop token id, None for EOS — as vLLM reports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent_rl.engines.base import FinishReason, GenerationResult


def cut_at_stop(text: str, stops: Sequence[str], include: bool) -> tuple[str, str | None]:
    """The text up to the first stop string (kept when `include`), and the string matched."""
    found = [(text.find(s), s) for s in stops if s and s in text]
    if not found:
        return text, None
    at, stop = min(found)
    return text[: at + len(stop)] if include else text[:at], stop


def stop_reason(result: GenerationResult, stop_token_ids: Sequence[int], matched: str | None) -> str | int | None:
    if result.finish_reason != FinishReason.STOP:
        return None
    if matched is not None:
        return matched
    last = result.token_ids[-1] if result.token_ids else None
    return last if last is not None and last in stop_token_ids else None


def token_text(tokenizer: Any, token: int) -> str:
    return tokenizer.decode([token], skip_special_tokens=False)


def completion_logprobs(tokenizer: Any, result: GenerationResult, as_ids: bool) -> dict[str, Any]:
    """vLLM's `choices[].logprobs` for completions: tokens, token_logprobs, top_logprobs, text_offset."""
    def name(token: int) -> str:
        return f"token_id:{token}" if as_ids else token_text(tokenizer, token)

    tokens = [name(t) for t in result.token_ids]
    offsets, at = [], 0
    for token in result.token_ids:
        offsets.append(at)
        at += len(token_text(tokenizer, token))
    tops: list[dict[str, float]] = []
    for position, (token, logprob) in enumerate(zip(result.token_ids, result.logprobs, strict=True)):
        top = {name(t): lp for t, lp in (result.top_logprobs[position].items() if result.top_logprobs else ())}
        top[name(token)] = logprob  # the sampled token is always listed, as vLLM does
        tops.append(top)
    return {"tokens": tokens, "token_logprobs": list(result.logprobs), "top_logprobs": tops, "text_offset": offsets}


def chat_logprobs(tokenizer: Any, result: GenerationResult, top_n: int, as_ids: bool = False) -> dict[str, Any]:
    """OpenAI's chat `choices[].logprobs`: {"content": [{token, logprob, bytes, top_logprobs}]};
    `as_ids` writes tokens as "token_id:N" (vLLM's `return_tokens_as_token_ids`)."""
    def entry(token: int, logprob: float) -> dict[str, Any]:
        text = token_text(tokenizer, token)
        return {"token": f"token_id:{token}" if as_ids else text, "logprob": logprob, "bytes": list(text.encode())}

    content = []
    for position, (token, logprob) in enumerate(zip(result.token_ids, result.logprobs, strict=True)):
        alternatives = result.top_logprobs[position] if result.top_logprobs and top_n else {}
        top = [entry(t, lp) for t, lp in sorted(alternatives.items(), key=lambda kv: -kv[1])[:top_n]]
        content.append({**entry(token, logprob), "top_logprobs": top})
    return {"content": content}


def usage(result: GenerationResult) -> dict[str, int]:
    return {"prompt_tokens": result.prompt_tokens, "completion_tokens": len(result.token_ids),
            "total_tokens": result.prompt_tokens + len(result.token_ids)}
