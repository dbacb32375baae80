"""`openai`: any OpenAI-compatible server that takes token-id prompts (vLLM, `agent-rl serve model`).

The exact request (one per `generate`)::

    POST {base_url}/v1/completions
    {"model": MODEL, "prompt": [151644, 872, ...],       # token ids, never text
     "max_tokens": N, "temperature": T, "top_p": P, "top_k": K (only when > 0),
     "stop": [...], "stop_token_ids": [...],           # only when given
     "include_stop_str_in_output": true,               # the stop text stays (token-in/token-out)
     "skip_special_tokens": false, "ignore_eos": false, "seed": S (only when given),
     "logprobs": 1,                                     # the sampled token's logprob
     "return_token_ids": true,                          # vLLM ≥ 0.10.2: choices[0].token_ids
     "return_tokens_as_token_ids": true,                # fallback: logprobs.tokens = "token_id:123"
     "request_id": RID, "n": 1, "stream": false}

and the answer read from it: `choices[0].token_ids` (else the ids parsed from
`choices[0].logprobs.tokens`), `choices[0].logprobs.token_logprobs`,
`choices[0].finish_reason` ("stop" | "length" | "abort"), `usage.prompt_tokens`, and
`weight_version` when the server reports one (the project's own server does).

Images (vision-language models) go through the chat route, `chat()`, since
`/v1/completions` takes no images: the conversation is sent in the OpenAI image message
format and the server renders it (its own template and image tokens)::

    POST {base_url}/v1/chat/completions
    {"model": MODEL, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "..."},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}]}, ...],
     "tools": [...], "tool_choice": "none" (when given: the env parses the text),
     sampling fields as above,
     "logprobs": true, "top_logprobs": K (only when > 0),
     "return_token_ids": true,                  # vLLM ≥ 0.10.2: prompt_token_ids + choices[0].token_ids
     "return_tokens_as_token_ids": true,        # fallback: logprobs.content[].token = "token_id:123"
     "add_generation_prompt": true, "continue_final_message": false,   # (true/false to resume a turn)
     "request_id": RID, "n": 1, "stream": false}

read back as `prompt_token_ids` (top level, or in the choice), the sampled ids, and
`choices[0].logprobs.content[].logprob`. Without `prompt_token_ids` the answer is refused
(EngineProtocolError): a row built from a guessed rendering would not be exact.

Which distribution the logprobs describe is the server's choice: the project's server
reports the sampling distribution (after temperature/top-k/top-p); vLLM reports the raw
model distribution unless started with `--logprobs-mode processed_logprobs`.

Weight updates (`weight_sync=`):

- `"agent-rl"` (default; the project's `agent-rl serve model`, prime-rl's shape):
  `POST /update_weights {"path": DIR, "version": N, "abort_running": bool}`.
- `"vllm"`: vLLM's dev-mode routes (start it with `VLLM_SERVER_DEV_MODE=1`):
  `POST /pause?mode=abort|wait` → `POST /collective_rpc {"method": "reload_weights",
  "kwargs": {"weights_path": DIR}}` → `POST /reset_prefix_cache` → `POST /resume`.

Abort: `POST /abort_requests {"request_ids": [...]}` (vLLM's route, and ours); the
aborted requests answer with `finish_reason: "abort"` and their tokens so far. A server
without that route (404/405) gets its HTTP requests cancelled instead, and `generate`
returns ABORT with no tokens.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import httpx

from agent_rl.engines._http import HTTPEngine, ServerRefusedError
from agent_rl.engines.base import FinishReason, GenerationResult, SamplingParams, WeightUpdate
from agent_rl.engines.errors import EngineProtocolError, EngineRequestError

WeightSync = Literal["agent-rl", "vllm"]
_FINISH = {"stop": FinishReason.STOP, "length": FinishReason.LENGTH, "abort": FinishReason.ABORT,
           "tool_calls": FinishReason.STOP}  # a chat answer the server parsed as tool calls


def completion_request(model: str, prompt: Sequence[int], sampling: SamplingParams, request_id: str) -> dict[str, Any]:
    """The JSON body of `POST /v1/completions` for one generation (see the module docstring)."""
    body: dict[str, Any] = {
        "model": model, "prompt": [int(t) for t in prompt], "max_tokens": sampling.max_new_tokens,
        "temperature": sampling.temperature, "top_p": sampling.top_p,
        "include_stop_str_in_output": True, "skip_special_tokens": False, "ignore_eos": sampling.ignore_eos,
        "logprobs": max(1, sampling.top_logprobs), "return_token_ids": True, "return_tokens_as_token_ids": True,
        "request_id": request_id, "n": 1, "stream": False,
    }
    if sampling.top_k > 0:
        body["top_k"] = sampling.top_k
    if sampling.stop:
        body["stop"] = list(sampling.stop)
    if sampling.stop_token_ids:
        body["stop_token_ids"] = list(sampling.stop_token_ids)
    if sampling.seed is not None:
        body["seed"] = sampling.seed
    return body


def chat_request(model: str, messages: Sequence[dict[str, Any]], sampling: SamplingParams, request_id: str, *,
                 tools: Sequence[dict[str, Any]] | None = None, continue_final_message: bool = False
                 ) -> dict[str, Any]:
    """The JSON body of `POST /v1/chat/completions` (see the module docstring)."""
    body = completion_request(model, [], sampling, request_id)
    del body["prompt"]
    body.update(messages=list(messages), logprobs=True, add_generation_prompt=not continue_final_message,
                continue_final_message=continue_final_message)
    if sampling.top_logprobs:
        body["top_logprobs"] = sampling.top_logprobs
    if tools:  # rendered into the prompt; the env parses the text, not the server
        body.update(tools=list(tools), tool_choice="none")
    return body


def parse_chat(payload: Any, version: int, top_logprobs: int = 0) -> tuple[list[int], GenerationResult]:
    """(prompt token ids, GenerationResult) from a `/v1/chat/completions` answer."""
    try:
        choice = payload["choices"][0]
        entries = (choice.get("logprobs") or {})["content"]
        ids = choice.get("token_ids")
        tokens = [int(t) for t in ids] if ids is not None else [_token_id(e["token"]) for e in entries]
        values = [float(e["logprob"]) for e in entries]
        finish = _FINISH[choice["finish_reason"]]
        prompt = payload.get("prompt_token_ids") or choice.get("prompt_token_ids")
        prompt_ids = [int(t) for t in prompt] if prompt else None
        tops = [{_token_id(t["token"]): float(t["logprob"]) for t in e.get("top_logprobs") or ()} for e in entries]
    except EngineProtocolError:
        raise
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise EngineProtocolError(f"/v1/chat/completions answer lacks token ids, logprobs or a known finish_reason "
                                  f"({type(exc).__name__}: {exc}): {str(payload)[:300]}") from None
    if prompt_ids is None:
        raise EngineProtocolError("/v1/chat/completions answered no prompt_token_ids; the row's tokens would be a "
                                  "guess. Use a server that honours return_token_ids (vLLM ≥ 0.10.2, agent-rl)")
    if len(tokens) != len(values):
        raise EngineProtocolError(f"/v1/chat/completions answered {len(tokens)} token ids but {len(values)} logprobs")
    reported = payload.get("weight_version")
    return prompt_ids, GenerationResult(tokens, values, finish, reported if isinstance(reported, int) else version,
                                        len(prompt_ids), tops if top_logprobs else None)


def _token_id(token: object) -> int:
    if isinstance(token, str) and token.startswith("token_id:"):
        try:
            return int(token.removeprefix("token_id:"))
        except ValueError:
            pass
    raise EngineProtocolError(f"expected logprobs tokens like 'token_id:123', got {token!r}; use a server that "
                              "returns choices[].token_ids (vLLM ≥ 0.10.2) or honours return_tokens_as_token_ids")


def _alternatives(top: object, wanted: int) -> list[dict[int, float]] | None:
    if not wanted or not isinstance(top, list):
        return None
    return [{_token_id(t): float(lp) for t, lp in (entry or {}).items()} for entry in top]


def parse_completion(payload: Any, prompt_tokens: int, version: int, top_logprobs: int = 0) -> GenerationResult:
    """A `GenerationResult` from a `/v1/completions` answer; EngineProtocolError if malformed."""
    try:
        choice = payload["choices"][0]
        logprobs = choice.get("logprobs") or {}
        ids = choice.get("token_ids")
        tokens = [int(t) for t in ids] if ids is not None else [_token_id(t) for t in logprobs["tokens"]]
        values = [float(v) for v in logprobs["token_logprobs"]]
        finish = _FINISH[choice["finish_reason"]]
    except EngineProtocolError:
        raise
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise EngineProtocolError(f"/v1/completions answer lacks token ids, logprobs or a known finish_reason "
                                  f"({type(exc).__name__}: {exc}): {str(payload)[:300]}") from None
    if len(tokens) != len(values):
        raise EngineProtocolError(f"/v1/completions answered {len(tokens)} token ids but {len(values)} logprobs")
    reported = payload.get("weight_version")
    usage = payload.get("usage") or {}
    return GenerationResult(tokens, values, finish, reported if isinstance(reported, int) else version,
                            int(usage.get("prompt_tokens") or prompt_tokens),
                            _alternatives(logprobs.get("top_logprobs"), top_logprobs))


class OpenAIEngine(HTTPEngine):
    """Token-in/token-out generation through an OpenAI-compatible `/v1/completions`, and
    server-rendered generation with images through `/v1/chat/completions` (`chat`).

    Args:
        base_url: the server's root ("http://127.0.0.1:8000"), without `/v1`.
        model: the served model's name (default: the first of `GET /v1/models`).
        weight_sync: how `update_weights` reaches the server: "agent-rl" or "vllm".
        api_key, timeout_s, connect_timeout_s, transport, weight_version: see `HTTPEngine`.
    """

    name: ClassVar[str] = "openai"

    def __init__(self, base_url: str, *, model: str | None = None, weight_sync: WeightSync = "agent-rl",
                 api_key: str | None = None, timeout_s: float = 600.0, connect_timeout_s: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None, weight_version: int = 0) -> None:
        if weight_sync not in ("agent-rl", "vllm"):
            raise ValueError(f"weight_sync must be 'agent-rl' or 'vllm', got {weight_sync!r}")
        super().__init__(base_url, api_key=api_key, timeout_s=timeout_s, connect_timeout_s=connect_timeout_s,
                         transport=transport, weight_version=weight_version)
        self.model = model
        self.weight_sync = weight_sync
        self._inflight: dict[str, asyncio.Task[Any]] = {}
        self._cancelled: set[str] = set()

    async def model_name(self) -> str:
        if self.model is None:
            listing = await self._json("GET", "/v1/models")
            try:
                self.model = str(listing["data"][0]["id"])
            except (KeyError, IndexError, TypeError):
                raise EngineProtocolError(f"GET /v1/models answered no model: {str(listing)[:200]}") from None
        return self.model

    async def generate(self, prompt_ids: Sequence[int], sampling: SamplingParams,
                       *, request_id: str | None = None) -> GenerationResult:
        request_id = request_id or uuid.uuid4().hex
        if request_id in self._inflight:
            raise EngineRequestError(f"request id {request_id!r} is already running; ids must be unique")
        body = completion_request(await self.model_name(), prompt_ids, sampling, request_id)
        version = self._version
        payload = await self._post("/v1/completions", body, request_id)
        if payload is None:  # `abort()` cut the connection
            return GenerationResult([], [], FinishReason.ABORT, version, len(prompt_ids))
        return parse_completion(payload, len(prompt_ids), version, sampling.top_logprobs)

    async def chat(self, messages: Sequence[dict[str, Any]], sampling: SamplingParams, *,
                   tools: Sequence[dict[str, Any]] | None = None, request_id: str | None = None,
                   continue_final_message: bool = False) -> tuple[list[int], GenerationResult]:
        """Generate from a conversation the server renders (images inline as OpenAI image
        parts); returns the prompt ids the server rendered and the generation (no prompt ids
        when an abort closed the connection first). Used by the agent loop's "chat" context
        for vision-language models."""
        request_id = request_id or uuid.uuid4().hex
        if request_id in self._inflight:
            raise EngineRequestError(f"request id {request_id!r} is already running; ids must be unique")
        body = chat_request(await self.model_name(), messages, sampling, request_id, tools=tools,
                            continue_final_message=continue_final_message)
        version = self._version
        payload = await self._post("/v1/chat/completions", body, request_id)
        if payload is None:  # aborted with no tokens and no rendering: the caller retries the turn
            return [], GenerationResult([], [], FinishReason.ABORT, version, 0)
        return parse_chat(payload, version, sampling.top_logprobs)

    async def _post(self, route: str, body: dict[str, Any], request_id: str) -> Any:
        """POST one generation, abortable by id; None when `abort()` closed the connection."""
        call = asyncio.ensure_future(self._json("POST", route, body=body))
        self._inflight[request_id] = call
        try:
            return await call
        except asyncio.CancelledError:
            if request_id in self._cancelled and call.cancelled():
                return None
            call.cancel()
            raise
        finally:
            self._inflight.pop(request_id, None)
            self._cancelled.discard(request_id)

    async def abort(self, request_id: str | None = None) -> None:
        # Only this client's requests: the server may serve other clients too.
        ids = [request_id] if request_id is not None else list(self._inflight)
        ids = [rid for rid in ids if rid in self._inflight]
        if not ids:
            return
        try:
            await self._call("POST", "/abort_requests", body={"request_ids": ids})
        except ServerRefusedError as exc:  # no such route here: close the connections instead
            if exc.status_code not in (404, 405):
                raise
            for rid in ids:
                if (call := self._inflight.get(rid)) is not None:
                    self._cancelled.add(rid)
                    call.cancel()

    async def update_weights(self, update: WeightUpdate, *, abort_running: bool = True) -> int:
        path = self._disk_path(update, "the openai engine")
        async with self._update_lock:
            if self.weight_sync == "agent-rl":
                body = {"path": path, "version": update.version, "abort_running": abort_running}
                answer = await self._json("POST", "/update_weights", body=body)
                if not isinstance(answer, dict) or answer.get("version") != update.version:
                    raise EngineProtocolError(f"/update_weights answered {str(answer)[:200]}, "
                                              f"not version {update.version}")
            else:
                await self._vllm_reload(path, abort_running)
            self._version = update.version
        return self._version

    async def _vllm_reload(self, path: str, abort_running: bool) -> None:
        await self._call("POST", "/pause", params={"mode": "abort" if abort_running else "wait"})
        try:
            await self._call("POST", "/collective_rpc",
                             body={"method": "reload_weights", "kwargs": {"weights_path": path}})
            await self._call("POST", "/reset_prefix_cache")
        finally:
            await self._call("POST", "/resume")
