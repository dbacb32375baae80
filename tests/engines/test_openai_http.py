"""`agent-rl serve model` over real HTTP on 127.0.0.1: the `openai` engine and the official client."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import openai
import pytest

from agent_rl.engines.base import FinishReason, SamplingParams, WeightUpdate
from agent_rl.engines.errors import EngineRequestError, EngineUnavailableError
from agent_rl.engines.hf import HFEngine
from agent_rl.engines.openai_compat import OpenAIEngine
from tests.engines.conftest import PROMPTS, other_weights
from tool_servers.local import LocalServer, free_port

GREEDY = SamplingParams(max_new_tokens=16, temperature=0, ignore_eos=True)


async def test_same_greedy_tokens_as_the_in_process_engine(model_server: LocalServer, hf_engine: HFEngine) -> None:
    remote = OpenAIEngine(model_server.url)
    try:
        over_http = await asyncio.gather(*[remote.generate(p, GREEDY) for p in PROMPTS])
        for prompt, result in zip(PROMPTS, over_http, strict=True):
            local = await hf_engine.generate(prompt, GREEDY)
            assert result.token_ids == local.token_ids
            assert result.logprobs == pytest.approx(local.logprobs, abs=1e-4)
            assert result.finish_reason == FinishReason.LENGTH and result.prompt_tokens == len(prompt)
            assert result.weight_version == 0
        stopped = await remote.generate(PROMPTS[2], SamplingParams(max_new_tokens=16, temperature=0,
                                                                   stop_token_ids=(over_http[2].token_ids[4],)))
        assert stopped.finish_reason == FinishReason.STOP and stopped.token_ids[-1] == over_http[2].token_ids[4]
        assert (await remote.health()).ok and await remote.model_name() == "tiny"
    finally:
        await remote.aclose()


async def test_abort_over_http_returns_partial_tokens(model_server: LocalServer) -> None:
    remote = OpenAIEngine(model_server.url, model="tiny")
    try:
        task = asyncio.create_task(remote.generate(PROMPTS[0], SamplingParams(max_new_tokens=3000, temperature=0,
                                                                              ignore_eos=True), request_id="r-1"))
        await asyncio.sleep(0.5)
        await remote.abort("r-1")
        result = await asyncio.wait_for(task, 30)
        assert result.finish_reason == FinishReason.ABORT and 0 < len(result.token_ids) < 3000
    finally:
        await remote.aclose()


async def test_weight_update_through_the_server(model_server: LocalServer, tiny_model_dir: Path,
                                                tmp_path: Path) -> None:
    other = other_weights(tiny_model_dir, 99)
    other.save_pretrained(tmp_path / "step-1")
    remote = OpenAIEngine(model_server.url, model="tiny")
    local = HFEngine(tmp_path / "step-1", tokenizer=tiny_model_dir)
    try:
        before = await remote.generate(PROMPTS[1], GREEDY)
        assert await remote.update_weights(WeightUpdate(version=1, path=str(tmp_path / "step-1"))) == 1
        after = await remote.generate(PROMPTS[1], GREEDY)
        assert after.weight_version == 1 and after.token_ids == (await local.generate(PROMPTS[1], GREEDY)).token_ids
        assert after.token_ids != before.token_ids
        with pytest.raises(EngineRequestError, match="from disk"):
            await remote.update_weights(WeightUpdate(version=2, state_dict=other.state_dict()))
    finally:  # put the original weights back for the other tests of this module
        await remote.update_weights(WeightUpdate(version=0, path=str(tiny_model_dir)))
        await remote.aclose()
        await local.aclose()


async def test_http_failures_map_to_engine_errors(model_server: LocalServer) -> None:
    nowhere = OpenAIEngine(f"http://127.0.0.1:{free_port()}", model="tiny", connect_timeout_s=2)
    with pytest.raises(EngineUnavailableError, match="cannot reach"):
        await nowhere.generate([1, 2, 3], GREEDY)
    assert not (await nowhere.health()).ok
    await nowhere.aclose()
    remote = OpenAIEngine(model_server.url, model="tiny")
    with pytest.raises(EngineRequestError, match="vocabulary"):
        await remote.generate([1, 10**7], GREEDY)
    with pytest.raises(EngineRequestError, match="not served"):
        await OpenAIEngine(model_server.url, model="other").generate([1, 2], GREEDY)
    await remote.aclose()


def test_the_official_openai_client_works(model_server: LocalServer, tiny_model_dir: Path) -> None:
    client = openai.OpenAI(base_url=f"{model_server.url}/v1", api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list().data] == ["tiny"]
    completion = client.completions.create(model="tiny", prompt=PROMPTS[2], max_tokens=8, temperature=0, logprobs=1,
                                           extra_body={"return_token_ids": True, "ignore_eos": True})
    choice = completion.choices[0]
    assert len(choice.model_extra["token_ids"]) == 8 and len(choice.logprobs.token_logprobs) == 8
    assert completion.usage.completion_tokens == 8
    text = client.completions.create(model="tiny", prompt="Hello", max_tokens=4, temperature=0)
    assert isinstance(text.choices[0].text, str)
    tools = [{"type": "function", "function": {"name": "python", "description": "Run Python code.",
                                               "parameters": {"type": "object",
                                                              "properties": {"code": {"type": "string"}}}}}]
    chat = client.chat.completions.create(
        model="tiny", max_tokens=6, temperature=0, logprobs=True, top_logprobs=2, tools=tools,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Compute 2+2."},
                  {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {
                      "name": "python", "arguments": json.dumps({"code": "print(2+2)"})}}]},
                  {"role": "tool", "tool_call_id": "c1", "content": "4"}])
    message = chat.choices[0].message
    assert message.role == "assistant" and chat.choices[0].finish_reason in ("stop", "length", "tool_calls")
    assert len(chat.choices[0].logprobs.content) == chat.usage.completion_tokens
    assert all(len(entry.top_logprobs) == 2 for entry in chat.choices[0].logprobs.content)
    with pytest.raises(openai.BadRequestError):
        client.completions.create(model="tiny", prompt=[1, 2], max_tokens=2, n=3)
