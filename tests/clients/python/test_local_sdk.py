"""The official openai Python SDK against gantry's local models (Gemma 3 270M, MiniLM)."""
import os

import openai
import pytest

from procs import Gantry

MODELS = os.environ.get("GANTRY_MODELS", os.path.join(os.path.dirname(__file__), "..", "..", "..", "models"))
MSGS = [{"role": "user", "content": "Write the numbers from one to ten."}]


@pytest.fixture(scope="module")
def local():
    g = Gantry(f"""
providers:
  - name: local
    type: local
    models_dir: {MODELS}
    threads: 2
    context_length: 1024
    kv_cache_mb: 64
models:
  - {{name: gemma-3-270m, provider: local}}
  - {{name: all-MiniLM-L6-v2, provider: local, kind: embedding}}
""")
    yield openai.OpenAI(base_url=f"{g.url}/v1", api_key="sk-dev", max_retries=0)
    assert g.stop() == 0, g.read_log()


def test_chat_and_stream_agree(local):
    r = local.chat.completions.create(model="gemma-3-270m", messages=MSGS, temperature=0, max_tokens=8)
    assert r.usage.prompt_tokens == 17 and 1 <= r.usage.completion_tokens <= 8
    assert r.choices[0].finish_reason in ("stop", "length")
    parts, usage = [], None
    for chunk in local.chat.completions.create(model="gemma-3-270m", messages=MSGS, temperature=0, max_tokens=8,
                                               stream=True, stream_options={"include_usage": True}):
        if chunk.usage:
            usage = chunk.usage
        for c in chunk.choices:
            parts.append(c.delta.content or "")
    assert "".join(parts) == r.choices[0].message.content
    assert usage.total_tokens == r.usage.total_tokens


def test_logprobs_and_seed(local):
    r = local.chat.completions.create(model="gemma-3-270m", messages=MSGS, temperature=0, max_tokens=4,
                                      logprobs=True, top_logprobs=2)
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens
    assert all(len(t.top_logprobs) == 2 and t.logprob <= 0 for t in content)
    a = local.chat.completions.create(model="gemma-3-270m", messages=MSGS, temperature=1, seed=5, max_tokens=6)
    b = local.chat.completions.create(model="gemma-3-270m", messages=MSGS, temperature=1, seed=5, max_tokens=6)
    assert a.choices[0].message.content == b.choices[0].message.content


def test_embeddings(local):
    r = local.embeddings.create(model="all-MiniLM-L6-v2", input=["a cat", "a kitten", "tax law"])
    v = [d.embedding for d in r.data]
    assert len(v) == 3 and len(v[0]) == 384
    dot = lambda a, b: sum(x * y for x, y in zip(a, b))
    assert dot(v[0], v[1]) > dot(v[0], v[2])
    with pytest.raises(openai.BadRequestError):
        local.embeddings.create(model="all-MiniLM-L6-v2", input="x", dimensions=3)
