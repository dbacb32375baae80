"""The OpenAI-compatible model server behind `agent-rl serve model` (FastAPI).

Routes (no authentication: keep it on loopback or behind something that authenticates):

| route | body → answer |
|---|---|
| `GET /health` | `{status, weight_version, running, detail}`; 503 when the engine is down |
| `GET /v1/models` | the one served model: `{object: "list", data: [{id, object: "model", max_model_len, …}]}` |
| `POST /v1/completions` | `prompt` as text or token ids; `logprobs: k`, `return_token_ids`, `return_tokens_as_token_ids` and vLLM's sampling fields (`schemas.CompletionRequest`) → `choices[0].{text, token_ids, prompt_token_ids, logprobs{tokens, token_logprobs, top_logprobs, text_offset}, finish_reason, stop_reason}` |
| `POST /v1/chat/completions` | `messages` (image parts become the text `<image>`: text models), `tools`, `logprobs`/`top_logprobs`, `return_token_ids`, `return_tokens_as_token_ids` → `choices[0].{message{content, tool_calls}, logprobs{content}, finish_reason, token_ids}`, `prompt_token_ids` |
| `POST /update_weights` | `{path, version, abort_running=true}` → `{version}`: reload from a `save_pretrained` directory (prime-rl's shape) |
| `POST /abort_requests` | `{request_ids: [...]}` (empty or absent: all) → `{aborted}`; aborted requests answer with `finish_reason: "abort"` and their tokens so far (vLLM's shape) |

Every answer also carries `weight_version`, the weights that produced it. Errors are
OpenAI-shaped, `{"error": {message, type, param, code}}`: 400 for a bad request
(including validation), 404 for an unknown model, 503 when the engine is unavailable.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.requests import Request

from agent_rl.engines.base import (
    Engine,
    FinishReason,
    GenerationResult,
    SamplingParams,
    WeightUpdate,
)
from agent_rl.engines.errors import EngineRequestError, EngineUnavailableError
from agent_rl.serving import _chat, _responses
from agent_rl.serving.schemas import (
    AbortRequest,
    ChatCompletionRequest,
    CompletionRequest,
    UpdateWeightsRequest,
    _Sampling,
)


class ModelNotFoundError(EngineRequestError):
    """The request names a model this server does not serve."""


def _error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": status}}, status)


def _validation_message(exc: RequestValidationError) -> str:
    problems = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"] if p != "body") or "(body)"
        problems.append(f"{where}: {err['msg']}")
    return "invalid request: " + "; ".join(problems)


def _sampling(body: _Sampling, max_new_tokens: int, top_logprobs: int) -> SamplingParams:
    try:
        return SamplingParams(max_new_tokens=max_new_tokens, temperature=body.temperature, top_p=body.top_p,
                              top_k=max(0, body.top_k), stop_token_ids=tuple(body.stop_token_ids or ()),
                              stop=body.stop_strings(), seed=body.seed, ignore_eos=body.ignore_eos,
                              top_logprobs=top_logprobs)
    except ValueError as exc:
        raise EngineRequestError(str(exc)) from None


class ModelServer:
    """The routes' state: one engine, its tokenizer and the served model's name."""

    def __init__(self, engine: Engine, tokenizer: Any, model_id: str, max_model_len: int) -> None:
        self.engine, self.tokenizer, self.model_id, self.max_model_len = engine, tokenizer, model_id, max_model_len
        self.created = int(time.time())

    def check_model(self, model: str | None) -> None:
        if model is not None and model != self.model_id:
            raise ModelNotFoundError(f"model {model!r} is not served here; this server serves {self.model_id!r}")

    async def generate(self, prompt: list[int], sampling: SamplingParams, request_id: str) -> GenerationResult:
        return await self.engine.generate(prompt, sampling, request_id=request_id)

    def _text(self, result: GenerationResult, body: _Sampling) -> tuple[str, str | None]:
        text = self.tokenizer.decode(result.token_ids, skip_special_tokens=body.skip_special_tokens)
        return _responses.cut_at_stop(text, body.stop_strings(), body.include_stop_str_in_output)

    async def completion(self, body: CompletionRequest) -> dict[str, Any]:
        self.check_model(body.model)
        if isinstance(body.prompt, str):
            prompt = list(await asyncio.to_thread(self.tokenizer.encode, body.prompt))
        else:
            prompt = list(body.prompt)  # type: ignore[arg-type]  # one prompt after validation
        request_id = body.request_id or uuid.uuid4().hex
        result = await self.generate(prompt, _sampling(body, body.max_tokens, body.logprobs or 0), request_id)
        text, matched = await asyncio.to_thread(self._text, result, body)
        choice: dict[str, Any] = {
            "index": 0, "text": text, "finish_reason": result.finish_reason.value,
            "stop_reason": _responses.stop_reason(result, body.stop_token_ids or (), matched),
            "logprobs": None if body.logprobs is None else await asyncio.to_thread(
                _responses.completion_logprobs, self.tokenizer, result, body.return_tokens_as_token_ids)}
        if body.return_token_ids:
            choice.update(token_ids=result.token_ids, prompt_token_ids=prompt)
        return {"id": f"cmpl-{request_id}", "object": "text_completion", "created": int(time.time()),
                "model": self.model_id, "choices": [choice], "usage": _responses.usage(result),
                "weight_version": result.weight_version}

    async def chat(self, body: ChatCompletionRequest) -> dict[str, Any]:
        self.check_model(body.model)
        try:
            prompt = await asyncio.to_thread(_chat.render_prompt, self.tokenizer, body)
        except ValueError as exc:  # content parts we cannot render
            raise EngineRequestError(str(exc)) from None
        request_id = body.request_id or uuid.uuid4().hex
        budget = body.budget(max(1, self.max_model_len - len(prompt)))
        top = (body.top_logprobs or 0) if body.logprobs else 0
        result = await self.generate(prompt, _sampling(body, budget, top), request_id)
        text, matched = await asyncio.to_thread(self._text, result, body)
        content, tool_calls = (text, []) if not body.tools or body.tool_choice == "none" else _chat.parse_tool_calls(text)
        finish = "tool_calls" if tool_calls and result.finish_reason == FinishReason.STOP else result.finish_reason.value
        choice: dict[str, Any] = {
            "index": 0, "message": {"role": "assistant", "content": content, "tool_calls": tool_calls},
            "logprobs": await asyncio.to_thread(_responses.chat_logprobs, self.tokenizer, result, top,
                                           body.return_tokens_as_token_ids)
            if body.logprobs else None,
            "finish_reason": finish, "stop_reason": _responses.stop_reason(result, body.stop_token_ids or (), matched)}
        answer: dict[str, Any] = {"id": f"chatcmpl-{request_id}", "object": "chat.completion",
                                  "created": int(time.time()), "model": self.model_id, "choices": [choice],
                                  "usage": _responses.usage(result), "weight_version": result.weight_version}
        if body.return_token_ids:
            choice["token_ids"] = result.token_ids
            answer["prompt_token_ids"] = prompt
        return answer


def create_app(engine: Engine, tokenizer: Any, model_id: str, *, max_model_len: int = 4096,
               close_engine: bool = True) -> FastAPI:
    """The server app for `engine`; with `close_engine`, app shutdown closes the engine."""
    server = ModelServer(engine, tokenizer, model_id, max_model_len)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if close_engine:
            await engine.aclose()

    app = FastAPI(title="agent-rl model server", lifespan=lifespan)
    app.state.server = server
    _add_error_handlers(app)
    _add_routes(app, server)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(400, "invalid_request_error", _validation_message(exc))

    @app.exception_handler(ModelNotFoundError)
    async def _no_model(_: Request, exc: ModelNotFoundError) -> JSONResponse:
        return _error(404, "not_found_error", str(exc))

    @app.exception_handler(EngineRequestError)
    async def _refused(_: Request, exc: EngineRequestError) -> JSONResponse:
        return _error(400, "invalid_request_error", str(exc))

    @app.exception_handler(EngineUnavailableError)
    async def _down(_: Request, exc: EngineUnavailableError) -> JSONResponse:
        return _error(503, "server_error", str(exc))


def _add_routes(app: FastAPI, server: ModelServer) -> None:
    @app.get("/health")
    async def health() -> JSONResponse:
        state = await server.engine.health()
        body = {"status": "ok" if state.ok else "unavailable", "weight_version": state.weight_version,
                "running": state.running, "detail": dict(state.detail)}
        return JSONResponse(body, 200 if state.ok else 503)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": server.model_id, "object": "model", "created": server.created,
                                            "owned_by": "agent-rl", "max_model_len": server.max_model_len}]}

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest) -> dict[str, Any]:
        return await server.completion(body)

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatCompletionRequest) -> dict[str, Any]:
        return await server.chat(body)

    @app.post("/update_weights")
    async def update_weights(body: UpdateWeightsRequest) -> dict[str, Any]:
        version = await server.engine.update_weights(WeightUpdate(version=body.version, path=body.path),
                                                     abort_running=body.abort_running)
        return {"version": version}

    @app.post("/abort_requests")
    async def abort_requests(body: AbortRequest) -> dict[str, Any]:
        if not body.request_ids:
            await server.engine.abort(None)
            return {"aborted": "all"}
        for request_id in body.request_ids:
            await server.engine.abort(request_id)
        return {"aborted": body.request_ids}
