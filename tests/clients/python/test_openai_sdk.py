"""gantry driven by the official openai Python SDK."""
import math

import openai
import pytest

from procs import Gantry, mock_config

MSGS = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}]


def test_models(client):
    ids = [m.id for m in client.models.list()]
    assert "mock-chat" in ids and "mock-embed" in ids
    assert client.models.retrieve("mock-chat").id == "mock-chat"


def test_chat(client):
    r = client.chat.completions.create(model="mock-chat", messages=MSGS, max_tokens=4)
    assert r.choices[0].message.content == "tok0 tok1 tok2 tok3"
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 4 and r.usage.prompt_tokens == 4


def test_chat_stream(client):
    stream = client.chat.completions.create(model="mock-chat", messages=MSGS, stream=True,
                                            stream_options={"include_usage": True})
    parts, usage, finish = [], None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for c in chunk.choices:
            parts.append(c.delta.content or "")
            finish = c.finish_reason or finish
    assert "".join(parts) == " ".join(f"tok{i}" for i in range(16))
    assert finish == "stop"
    assert usage.total_tokens == usage.prompt_tokens + 16


def test_chat_stream_helper(client):
    with client.beta.chat.completions.stream(model="mock-chat", messages=MSGS) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content.startswith("tok0 tok1")


def test_embeddings_default_base64(client):
    # the SDK asks for base64 by default and decodes it
    r = client.embeddings.create(model="mock-embed", input=["alpha", "beta"])
    assert len(r.data) == 2 and len(r.data[0].embedding) == 8
    assert math.isclose(sum(x * x for x in r.data[0].embedding), 1.0, rel_tol=1e-4)
    f = client.embeddings.create(model="mock-embed", input=["alpha", "beta"], encoding_format="float")
    assert f.data[0].embedding == pytest.approx(r.data[0].embedding, abs=1e-6)


def test_errors(client, mock):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="nope", messages=MSGS)
    assert e.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="mock-chat", messages=MSGS, temperature=5)
    assert "temperature" in e.value.message
    mock.config(error_status=429, retry_after=3)
    with pytest.raises(openai.RateLimitError) as e:
        client.chat.completions.create(model="mock-chat", messages=MSGS)
    assert e.value.response.headers["retry-after"] == "3"
    mock.config(error_status=500, retry_after=0)
    with pytest.raises(openai.InternalServerError) as e:
        client.chat.completions.create(model="mock-chat", messages=MSGS)
    assert e.value.status_code == 502
    mock.config(error_status=0, reset_after_tokens=3)
    with pytest.raises(openai.APIError):
        for _ in client.chat.completions.create(model="mock-chat", messages=MSGS, stream=True):
            pass


def test_authentication_error(mock):
    g = Gantry(mock_config(mock.url, extra="auth:\n  api_keys: [gk-sdk-key-42]"))
    try:
        bad = openai.OpenAI(base_url=f"{g.url}/v1", api_key="wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            bad.models.list()
        good = openai.OpenAI(base_url=f"{g.url}/v1", api_key="gk-sdk-key-42", max_retries=0)
        assert len(good.models.list().data) == 3
    finally:
        g.stop()


def test_async_client_concurrency(gantry, mock):
    import asyncio
    mock.reset()

    async def main():
        c = openai.AsyncOpenAI(base_url=f"{gantry.url}/v1", api_key="sk-dev", max_retries=0)
        rs = await asyncio.gather(*[c.chat.completions.create(model="mock-chat", messages=MSGS, max_tokens=2)
                                    for _ in range(20)])
        await c.close()
        return rs

    rs = asyncio.run(main())
    assert all(r.choices[0].message.content == "tok0 tok1" for r in rs)
    assert len({r.id for r in rs}) == 20
