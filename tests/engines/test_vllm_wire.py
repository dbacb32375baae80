"""The `openai` engine against vLLM's documented wire format (REFERENCE §10).

vLLM cannot run here, so its answers are replayed with `httpx.MockTransport`; only the
vLLM-specific parts are tested this way (the generic path runs against the project's
own server in test_openai_http.py). With `AGENT_RL_VLLM_URL` set, the last test runs
against a real vLLM server.
"""

from __future__ import annotations

import asyncio
import json
import os

import httpx
import pytest

from agent_rl.engines.base import FinishReason, SamplingParams, WeightUpdate
from agent_rl.engines.errors import EngineProtocolError, EngineUnavailableError
from agent_rl.engines.openai_compat import OpenAIEngine, completion_request

SAMPLING = SamplingParams(max_new_tokens=3, temperature=0.5, top_k=20, stop=("</answer>",), stop_token_ids=(7,),
                          seed=11)


def _vllm_completion(ids: list[int] | None, tokens: list[str], finish: str = "stop") -> dict:
    """A vLLM 0.1x `/v1/completions` answer (choices[].token_ids only with return_token_ids)."""
    choice = {"index": 0, "text": "a b c", "finish_reason": finish, "stop_reason": None,
              "logprobs": {"tokens": tokens, "token_logprobs": [-0.1, -0.2, -0.3],
                           "top_logprobs": [{t: -0.1} for t in tokens], "text_offset": [0, 1, 2]}}
    if ids is not None:
        choice.update(token_ids=ids, prompt_token_ids=[1, 2, 3])
    return {"id": "cmpl-x", "object": "text_completion", "created": 0, "model": "m", "choices": [choice],
            "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}}


def test_the_request_body_is_the_documented_one() -> None:
    body = completion_request("m", [1, 2, 3], SAMPLING, "rid-1")
    assert body == {"model": "m", "prompt": [1, 2, 3], "max_tokens": 3, "temperature": 0.5, "top_p": 1.0,
                    "top_k": 20, "stop": ["</answer>"], "stop_token_ids": [7], "seed": 11,
                    "include_stop_str_in_output": True, "skip_special_tokens": False, "ignore_eos": False,
                    "logprobs": 1, "return_token_ids": True, "return_tokens_as_token_ids": True,
                    "request_id": "rid-1", "n": 1, "stream": False}


async def test_token_ids_from_return_token_ids_or_from_token_id_strings() -> None:
    answers = iter([_vllm_completion([5, 6, 7], ["a", "b", "c"]),
                    _vllm_completion(None, ["token_id:5", "token_id:6", "token_id:7"], "length")])
    seen: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json=next(answers))

    engine = OpenAIEngine("http://vllm", model="m", transport=httpx.MockTransport(handler))
    first = await engine.generate([1, 2, 3], SAMPLING, request_id="a")
    second = await engine.generate([1, 2, 3], SAMPLING, request_id="b")
    assert first.token_ids == second.token_ids == [5, 6, 7] and first.logprobs == [-0.1, -0.2, -0.3]
    assert first.finish_reason == FinishReason.STOP and second.finish_reason == FinishReason.LENGTH
    assert seen[0]["request_id"] == "a" and seen[0]["prompt"] == [1, 2, 3]
    await engine.aclose()


@pytest.mark.parametrize("answer, needle", [
    ({"choices": []}, "lacks"),
    (_vllm_completion(None, ["a", "b", "c"]), "token_id:123"),
    ({**_vllm_completion([5, 6], ["a", "b", "c"])}, "2 token ids but 3 logprobs"),
    ({"choices": [{**_vllm_completion([5, 6, 7], ["a", "b", "c"])["choices"][0], "finish_reason": "weird"}]}, "lacks"),
])
async def test_malformed_answers_are_protocol_errors(answer: dict, needle: str) -> None:
    engine = OpenAIEngine("http://vllm", model="m", transport=httpx.MockTransport(
        lambda request: httpx.Response(200, json=answer)))
    with pytest.raises(EngineProtocolError, match=needle):
        await engine.generate([1], SAMPLING)
    not_json = OpenAIEngine("http://vllm", model="m", transport=httpx.MockTransport(
        lambda request: httpx.Response(200, text="<html>")))
    with pytest.raises(EngineProtocolError, match="non-JSON"):
        await not_json.generate([1], SAMPLING)


async def test_5xx_and_stalls_are_unavailable() -> None:
    failing = OpenAIEngine("http://vllm", model="m", transport=httpx.MockTransport(
        lambda request: httpx.Response(503, json={"error": {"message": "overloaded"}})))
    with pytest.raises(EngineUnavailableError, match="503: overloaded"):
        await failing.generate([1], SAMPLING)

    async def stall(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        raise AssertionError("not reached")

    slow = OpenAIEngine("http://vllm", model="m", timeout_s=0.2, transport=httpx.MockTransport(stall))
    with pytest.raises(EngineUnavailableError, match="no answer within 0.2 s"):
        await slow.generate([1], SAMPLING)


async def test_vllm_weight_reload_uses_the_documented_dev_routes() -> None:
    calls: list[tuple[str, str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        calls.append((request.url.path, request.url.query.decode(), body))
        if request.url.path == "/collective_rpc" and "step-4" in str(body):
            return httpx.Response(500, json={"error": {"message": "reload failed"}})
        return httpx.Response(200, json={})

    engine = OpenAIEngine("http://vllm", model="m", weight_sync="vllm", transport=httpx.MockTransport(handler))
    assert await engine.update_weights(WeightUpdate(version=3, path="/ckpt/step-3")) == 3
    assert calls == [("/pause", "mode=abort", None),
                     ("/collective_rpc", "", {"method": "reload_weights", "kwargs": {"weights_path": "/ckpt/step-3"}}),
                     ("/reset_prefix_cache", "", None), ("/resume", "", None)]
    calls.clear()
    with pytest.raises(EngineUnavailableError, match="reload failed"):
        await engine.update_weights(WeightUpdate(version=4, path="/ckpt/step-4"), abort_running=False)
    assert [c[0] for c in calls][-1] == "/resume" and calls[0][1] == "mode=wait"  # resumed even on failure
    assert engine.weight_version == 3


async def test_abort_falls_back_to_closing_the_connection_without_the_route() -> None:
    started = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/abort_requests":
            return httpx.Response(404, json={"detail": "Not Found"})
        started.set()
        await asyncio.sleep(30)
        raise AssertionError("not reached")

    engine = OpenAIEngine("http://old-vllm", model="m", transport=httpx.MockTransport(handler))
    task = asyncio.create_task(engine.generate([1, 2], SAMPLING, request_id="x"))
    await asyncio.wait_for(started.wait(), 5)
    await engine.abort()
    result = await asyncio.wait_for(task, 5)
    assert result.finish_reason == FinishReason.ABORT and result.token_ids == []


@pytest.mark.skipif(not os.environ.get("AGENT_RL_VLLM_URL"),
                    reason="set AGENT_RL_VLLM_URL=http://host:port to test against a running vLLM server")
async def test_a_real_vllm_server() -> None:
    engine = OpenAIEngine(os.environ["AGENT_RL_VLLM_URL"])
    try:
        result = await engine.generate([1, 2, 3, 4], SamplingParams(max_new_tokens=8, temperature=0))
        assert 0 < len(result.token_ids) == len(result.logprobs) <= 8
        assert (await engine.health()).ok
    finally:
        await engine.aclose()


def _vllm_chat(ids: list[int] | None, tokens: list[str], prompt: list[int] | None = (1, 2, 3)) -> dict:
    """A vLLM `/v1/chat/completions` answer (with return_token_ids: prompt_token_ids + token_ids)."""
    choice = {"index": 0, "message": {"role": "assistant", "content": "a b c"}, "finish_reason": "length",
              "logprobs": {"content": [{"token": t, "logprob": -0.5 * (i + 1), "bytes": [], "top_logprobs": []}
                                       for i, t in enumerate(tokens)]}}
    if ids is not None:
        choice["token_ids"] = ids
    answer = {"id": "chatcmpl-x", "object": "chat.completion", "created": 0, "model": "m", "choices": [choice]}
    if prompt is not None:
        answer["prompt_token_ids"] = list(prompt)
    return answer


async def test_chat_sends_images_in_the_openai_image_message_format() -> None:
    seen: list[dict] = []
    answers = iter([_vllm_chat([5, 6, 7], ["a", "b", "c"]),
                    _vllm_chat(None, ["token_id:5", "token_id:6", "token_id:7"], prompt=[9, 9])])

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/chat/completions"
        seen.append(json.loads(request.content))
        return httpx.Response(200, json=next(answers))

    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    messages = [{"role": "user", "content": [{"type": "text", "text": "Click OK"}, image]}]
    engine = OpenAIEngine("http://vllm", model="m", transport=httpx.MockTransport(handler))
    prompt_ids, result = await engine.chat(messages, SAMPLING, request_id="c1")
    assert prompt_ids == [1, 2, 3] and result.token_ids == [5, 6, 7] and result.logprobs == [-0.5, -1.0, -1.5]
    assert result.finish_reason == FinishReason.LENGTH and result.prompt_tokens == 3
    prompt_ids, result = await engine.chat(messages, SAMPLING, continue_final_message=True)
    assert prompt_ids == [9, 9] and result.token_ids == [5, 6, 7]  # ids from "token_id:N" strings
    body = seen[0]
    assert body["messages"][0]["content"][1] == image  # the part goes out as is: OpenAI's format
    assert {k: body[k] for k in ("model", "logprobs", "return_token_ids", "return_tokens_as_token_ids",
                                 "add_generation_prompt", "continue_final_message", "request_id", "max_tokens")} == \
        {"model": "m", "logprobs": True, "return_token_ids": True, "return_tokens_as_token_ids": True,
         "add_generation_prompt": True, "continue_final_message": False, "request_id": "c1", "max_tokens": 3}
    assert "prompt" not in body and seen[1]["add_generation_prompt"] is False
    await engine.aclose()


async def test_chat_without_prompt_token_ids_is_refused() -> None:
    engine = OpenAIEngine("http://vllm", model="m", transport=httpx.MockTransport(
        lambda request: httpx.Response(200, json=_vllm_chat([5, 6, 7], ["a", "b", "c"], prompt=None))))
    with pytest.raises(EngineProtocolError, match="prompt_token_ids"):
        await engine.chat([{"role": "user", "content": "hi"}], SAMPLING)
    await engine.aclose()


async def test_chat_with_tools_lets_the_env_parse_and_reads_tool_calls_as_stop() -> None:
    seen: list[dict] = []
    answer = _vllm_chat([5, 6, 7], ["a", "b", "c"])
    answer["choices"][0]["finish_reason"] = "tool_calls"

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json=answer)

    engine = OpenAIEngine("http://vllm", model="m", transport=httpx.MockTransport(handler))
    tools = [{"type": "function", "function": {"name": "python", "parameters": {"type": "object"}}}]
    _, result = await engine.chat([{"role": "user", "content": "hi"}], SAMPLING, tools=tools)
    assert result.finish_reason == FinishReason.STOP
    assert seen[0]["tools"] == tools and seen[0]["tool_choice"] == "none"
    await engine.aclose()
