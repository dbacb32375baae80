"""Images through the agent loop: stored once by hash, referenced per turn, never inlined in
JSONL lines; text templates see a placeholder; the "chat" context sends them to an
OpenAI-compatible server in the OpenAI image message format and builds rows from the
server's own token ids."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from agent_rl.engines import SamplingParams, make_engine
from agent_rl.engines.openai_compat import OpenAIEngine
from agent_rl.images import ImageStore, image_store_for
from agent_rl.rollout import AgentLoop, LoopBudget
from agent_rl.trajectory import ImageRef, Trajectory
from agent_rl.trajectory_io import TrajectoryWriter, export_parquet, read_trajectories
from envs import TextEnv
from tool_servers.local import LocalServer


def png(shade: int) -> str:
    """A real 64x48 PNG, base64; `shade` makes each screen different."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (shade, 255 - shade, 90)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def screen(text: str, shade: int) -> dict:
    return {"role": "user", "content": [{"type": "text", "text": text},
                                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png(shade)}"}}]}


class ScreenEnv(TextEnv):
    """Shows a new screenshot after every action; ends after `turns` actions (reward 1)."""

    def __init__(self, turns: int = 3, **kwargs) -> None:
        super().__init__(**kwargs)
        self.turns, self.step_count = turns, 0

    async def areset(self, *, seed=None, options=None):
        self.step_count = 0
        return [{"role": "system", "content": "Click things."}, screen("The screen:", 0)], {"task_id": "screen-0"}

    async def astep(self, action):
        self.step_count += 1
        info = {"counters": {"turns": self.step_count}}
        if self.step_count >= self.turns:
            return [], 1.0, True, False, {**info, "outcome_reward": 1.0, "success": True}
        return [screen(f"After action {self.step_count}:", 40 * self.step_count)], 0.0, False, False, info


@pytest.fixture(scope="module")
def hf_engine(tiny_model_dir):
    engine = make_engine("hf", model=str(tiny_model_dir))
    yield engine
    asyncio.run(engine.aclose())


SAMPLING = SamplingParams(max_new_tokens=6, temperature=1.0, seed=5)
BUDGET = LoopBudget(max_turns=4, max_tokens_per_turn=6, length_ends_turn=True)


async def test_incremental_rows_reference_each_screen_by_hash(hf_engine, renderer, tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    loop = AgentLoop(hf_engine, renderer, SAMPLING, BUDGET, image_store=store)
    (row,) = await loop.run(ScreenEnv(turns=3), seed=0)
    # the prompt's screen, then one after each of the first two turns (the last step ends it)
    assert [ref.turn for ref in row.images] == [-1, 0, 1]
    assert len({ref.sha256 for ref in row.images}) == 3
    for ref, shade in zip(row.images, (0, 40, 80), strict=True):
        data, mime = store.get(ref.sha256)
        assert mime == "image/png" and Image.open(io.BytesIO(data)).getpixel((0, 0)) == (shade, 255 - shade, 90)
    # a text template saw one placeholder per image, where the image was
    placeholder = renderer.tokenizer.encode("<image>", add_special_tokens=False)
    tokens = row.prompt_ids + row.response_ids
    hits = [i for i in range(len(tokens)) if tokens[i:i + len(placeholder)] == placeholder]
    assert len(hits) == 3
    assert hits[0] < len(row.prompt_ids) and hits[1] >= row.turns[0].start and hits[2] >= row.turns[1].start
    assert all(m == 0 for i in hits for m in row.loss_mask[i - len(row.prompt_ids):][:len(placeholder)]
               if i >= len(row.prompt_ids))


async def test_trajectory_files_hold_hashes_not_pixels(hf_engine, renderer, tmp_path: Path) -> None:
    path = tmp_path / "trajectories.jsonl"
    loop = AgentLoop(hf_engine, renderer, SAMPLING, BUDGET, image_store=image_store_for(path))
    rows = await loop.run(ScreenEnv(turns=2), seed=1)
    with TrajectoryWriter(path) as writer:
        writer.append_many(rows)
    line = path.read_text().splitlines()[0]
    assert "base64" not in line and len(line) < 10_000
    assert json.loads(line)["images"][0]["turn"] == -1 and json.loads(line)["schema_version"] == 2
    (back,) = read_trajectories(path)
    assert back == rows[0] and back.images == rows[0].images
    assert image_store_for(path).get(back.images[1].sha256)[1] == "image/png"
    pyarrow = pytest.importorskip("pyarrow.parquet")
    assert export_parquet(path, tmp_path / "t.parquet") == 1
    table = pyarrow.read_table(tmp_path / "t.parquet").to_pylist()
    assert [i["sha256"] for i in table[0]["images"]] == [ref.sha256 for ref in back.images]


class LinkEnv(ScreenEnv):
    """Shows an image by http URL after the first action: not something the store can keep."""

    async def astep(self, action):
        _, reward, terminated, truncated, info = await super().astep(action)
        link = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.org/s.png"}}]}
        return [link], reward, terminated, truncated, info


async def test_an_observation_image_the_store_cannot_keep_is_an_env_error(hf_engine, renderer) -> None:
    env = LinkEnv(turns=3)
    (row,) = await AgentLoop(hf_engine, renderer, SAMPLING, BUDGET).run(env, seed=3)
    assert row.status.value == "env_error" and row.outcome_reward is None
    assert "observation image" in row.metadata["error"] and "data URL" in row.metadata["error"]
    assert [ref.turn for ref in row.images] == [-1]


def test_image_refs_are_validated() -> None:
    base = {"trajectory_id": "t", "group_id": "g", "task_id": "x", "env_id": "e", "prompt_ids": [1],
            "response_ids": [], "loss_mask": [], "behavior_logprobs": [], "policy_version": [],
            "status": "completed", "outcome_reward": 0.0}
    with pytest.raises(ValueError, match="64 lowercase hex"):
        ImageRef("abc")
    with pytest.raises(ValueError, match="past the last turn"):
        Trajectory(**base, images=[ImageRef("a" * 64, turn=3)])
    with pytest.raises(ValueError, match="past the last turn"):  # no turns: only prompt images
        Trajectory(**base, images=[ImageRef("a" * 64, turn=0)])
    assert Trajectory(**base, images=[ImageRef("a" * 64)]).images[0].turn == -1
    text_only = Trajectory(**base)
    stored = json.loads(text_only.to_json_line())
    assert "images" not in stored and stored["schema_version"] == 1  # text rows: the line is unchanged


async def test_chat_context_sends_images_and_keeps_the_servers_tokens(model_server: LocalServer, renderer,
                                                                     tmp_path: Path) -> None:
    """Real HTTP to `agent-rl serve model`: the loop sends OpenAI image parts, the (text) server
    renders them as placeholders, and the row is exactly the server's prompt ids + samples."""
    engine = OpenAIEngine(model_server.url, model="tiny")
    calls: list[tuple[list[dict], list[int], list[int]]] = []
    chat = engine.chat

    async def recording_chat(messages, sampling, **kwargs):
        prompt_ids, result = await chat(messages, sampling, **kwargs)
        calls.append((messages, prompt_ids, result.token_ids))
        return prompt_ids, result

    engine.chat = recording_chat  # type: ignore[method-assign]  # instrumentation of the real call
    try:
        loop = AgentLoop(engine, renderer, SAMPLING, BUDGET, context="chat", image_store=ImageStore(tmp_path))
        rows = await loop.run(ScreenEnv(turns=3), seed=2)
    finally:
        await engine.aclose()
    assert len(calls) == 3
    sent = [p for message in calls[2][0] if isinstance(message["content"], list) for p in message["content"]]
    assert [p["image_url"]["url"][:22] for p in sent if p["type"] == "image_url"] == ["data:image/png;base64,"] * 3
    # every call's context is the start of a row (the current one, or a new one when the server's
    # rendering of the history differs from the sampled tokens: a fork), its samples follow
    row_tokens = [r.prompt_ids + r.response_ids for r in rows]
    for _, prompt_ids, sampled in calls:
        assert any(t[: len(prompt_ids) + len(sampled)] == prompt_ids + sampled for t in row_tokens)
    assert rows[0].prompt_ids == calls[0][1]
    masked = [t for r in rows for t, m in zip(r.response_ids, r.loss_mask, strict=True) if m]
    assert masked == [t for *_, s in calls for t in s]
    assert rows[0].images[0].turn == -1 and len({ref.sha256 for r in rows for ref in r.images}) == 3
    if len(rows) == 1:
        assert [ref.turn for ref in rows[0].images] == [-1, 0, 1]
    else:  # a forked row's prompt re-lists every screen so far
        assert all(ref.turn == -1 for ref in rows[1].images[:-1]) and len(rows[1].images) >= 2
    # the server's rendering of an image part is the text placeholder
    assert renderer.tokenizer.decode(rows[0].prompt_ids).count("<image>") == 1


def test_chat_context_needs_an_engine_that_chats(hf_engine, renderer) -> None:
    with pytest.raises(ValueError, match="chat"):
        AgentLoop(hf_engine, renderer, context="chat")
