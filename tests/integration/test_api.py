"""gantry + the mock upstream on 127.0.0.1: every endpoint and error path."""
import base64
import json
import socket
import struct
import time

import httpx
import pytest

from conftest import AUTH
from procs import Gantry, mock_config

CHAT = {"model": "mock-chat", "messages": [{"role": "user", "content": "say something nice"}]}


def sse_events(text):
    return [line[len("data: "):] for line in text.split("\n\n") if line.startswith("data: ")]


def test_healthz_and_readyz_need_no_auth(gantry):
    assert httpx.get(f"{gantry.url}/healthz").json() == {"status": "ok"}
    r = httpx.get(f"{gantry.url}/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ready"


def test_models_list_and_retrieve(gantry):
    r = httpx.get(f"{gantry.url}/v1/models", headers=AUTH)
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "list"
    assert {m["id"] for m in body["data"]} == {"mock-chat", "alias-chat", "mock-embed"}
    assert all(m["object"] == "model" for m in body["data"])
    assert httpx.get(f"{gantry.url}/v1/models/mock-chat", headers=AUTH).json()["id"] == "mock-chat"
    r = httpx.get(f"{gantry.url}/v1/models/nope", headers=AUTH)
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"


def test_chat_non_streaming(gantry, clean_mock):
    r = httpx.post(f"{gantry.url}/v1/chat/completions", headers=AUTH, json=CHAT)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": " ".join(
        f"tok{i}" for i in range(16)), "refusal": None}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 16, "total_tokens": 19}
    assert r.headers["x-request-id"].startswith("req_")
    # what gantry forwarded upstream
    last = clean_mock.stats()["last_request"]
    assert last["path"] == "/v1/chat/completions"
    assert last["body"]["model"] == "mock-chat"
    assert last["body"]["messages"] == CHAT["messages"]


def test_alias_maps_to_upstream_model_and_passes_unknown_fields(gantry, clean_mock):
    body = dict(CHAT, model="alias-chat", max_tokens=3, temperature=0.5, seed=7, vendor_knob={"x": 1})
    r = httpx.post(f"{gantry.url}/v1/chat/completions", headers=AUTH, json=body)
    assert r.status_code == 200
    assert r.json()["choices"][0]["message"]["content"] == "tok0 tok1 tok2"
    assert r.json()["choices"][0]["finish_reason"] == "length"
    sent = clean_mock.stats()["last_request"]["body"]
    assert sent["model"] == "mock-chat"
    assert sent["max_tokens"] == 3 and sent["temperature"] == 0.5 and sent["seed"] == 7
    assert sent["vendor_knob"] == {"x": 1}


def test_request_id_is_propagated(gantry, clean_mock):
    r = httpx.post(f"{gantry.url}/v1/chat/completions", headers={**AUTH, "x-request-id": "my-id-1"},
                   json=CHAT)
    assert r.headers["x-request-id"] == "my-id-1"
    assert clean_mock.stats()["last_request"]["headers"]["x-request-id"] == "my-id-1"


def test_chat_streaming_exact_format(gantry, clean_mock):
    with httpx.stream("POST", f"{gantry.url}/v1/chat/completions", headers=AUTH,
                      json=dict(CHAT, stream=True)) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers.get("transfer-encoding") == "chunked"
        text = r.read().decode()
    events = sse_events(text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert content == " ".join(f"tok{i}" for i in range(16))
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    # no usage unless asked, but gantry asked upstream for it (for accounting)
    assert all("usage" not in c for c in chunks)
    assert clean_mock.stats()["last_request"]["body"]["stream_options"] == {"include_usage": True}


def test_chat_streaming_include_usage(gantry, clean_mock):
    body = dict(CHAT, stream=True, stream_options={"include_usage": True})
    r = httpx.post(f"{gantry.url}/v1/chat/completions", headers=AUTH, json=body)
    events = sse_events(r.text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 16, "total_tokens": 19}
    assert all(c["usage"] is None for c in chunks[:-1])


def test_streaming_is_incremental(gantry, clean_mock):
    clean_mock.config(tokens=5, tokens_per_second=10)
    arrivals = []
    with httpx.stream("POST", f"{gantry.url}/v1/chat/completions", headers=AUTH,
                      json=dict(CHAT, stream=True)) as r:
        for line in r.iter_lines():
            if line.startswith("data: "):
                arrivals.append(time.monotonic())
    # 5 tokens at 10/s: the events must arrive spread out, not all at the end
    assert arrivals[-1] - arrivals[0] >= 0.3


def test_embeddings_float_and_base64(gantry, clean_mock):
    r = httpx.post(f"{gantry.url}/v1/embeddings", headers=AUTH,
                   json={"model": "mock-embed", "input": ["hello world", "bye"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [d["index"] for d in body["data"]] == [0, 1]
    floats = body["data"][0]["embedding"]
    assert len(floats) == 8 and abs(sum(x * x for x in floats) - 1) < 1e-4
    r = httpx.post(f"{gantry.url}/v1/embeddings", headers=AUTH,
                   json={"model": "mock-embed", "input": ["hello world", "bye"], "encoding_format": "base64"})
    raw = base64.b64decode(r.json()["data"][0]["embedding"])
    decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert decoded == pytest.approx(floats, abs=1e-6)
    # gantry always asks upstream for floats and encodes itself
    assert clean_mock.stats()["last_request"]["body"]["encoding_format"] == "float"


@pytest.mark.parametrize("body,status,needle", [
    (b"{", 400, "could not parse the JSON"),
    (b'{"messages": []}', 400, "model"),
    (b'{"model": "mock-chat", "messages": []}', 400, "messages"),
    (b'{"model": "mock-chat", "messages": [{"role": "wizard", "content": "x"}]}', 400, "role"),
    (b'{"model": "mock-chat", "messages": [{"role": "user", "content": "x"}], "temperature": 9}', 400,
     "temperature"),
    (b'{"model": "ghost", "messages": [{"role": "user", "content": "x"}]}', 404, "ghost"),
    (b'{"model": "mock-embed", "messages": [{"role": "user", "content": "x"}]}', 400, "embedding model"),
])
def test_chat_bad_requests(gantry, body, status, needle):
    r = httpx.post(f"{gantry.url}/v1/chat/completions", headers={**AUTH, "content-type": "application/json"},
                   content=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert needle in err["message"]
    assert set(err) == {"message", "type", "param", "code"}


def test_embeddings_bad_request(gantry):
    r = httpx.post(f"{gantry.url}/v1/embeddings", headers=AUTH, json={"model": "mock-embed", "input": 5})
    assert r.status_code == 400 and "input" in r.json()["error"]["message"]


def test_missing_auth_is_401(gantry):
    r = httpx.post(f"{gantry.url}/v1/chat/completions", json=CHAT)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_api_key"
    r = httpx.get(f"{gantry.url}/v1/models", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401


def test_unknown_url_and_method(gantry):
    r = httpx.get(f"{gantry.url}/v1/nothing", headers=AUTH)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_url"
    r = httpx.get(f"{gantry.url}/v1/chat/completions", headers=AUTH)
    assert r.status_code == 405 and r.headers["allow"] == "POST"


def test_body_too_large_is_413(mock):
    g = Gantry(mock_config(mock.url, server="  max_body_bytes: 4096"))
    try:
        big = dict(CHAT, messages=[{"role": "user", "content": "x" * 10000}])
        r = httpx.post(f"{g.url}/v1/chat/completions", headers=AUTH, json=big)
        assert r.status_code == 413
        assert "4096" in r.json()["error"]["message"]
    finally:
        g.stop()


def test_headers_too_large_is_431(gantry):
    r = httpx.get(f"{gantry.url}/v1/models", headers={**AUTH, "x-big": "a" * 40000})
    assert r.status_code == 431


def test_malformed_http_is_400(gantry):
    with socket.create_connection(("127.0.0.1", gantry.port)) as s:
        s.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        s.settimeout(5)
        assert s.recv(100).startswith(b"HTTP/1.1 400")


def test_upstream_429_passes_retry_after(gantry, clean_mock):
    clean_mock.config(error_status=429, retry_after=7)
    r = httpx.post(f"{gantry.url}/v1/chat/completions", headers=AUTH, json=CHAT)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "7"
    assert r.json()["error"]["type"] == "rate_limit_error"


@pytest.mark.parametrize("knobs,status", [
    ({"error_status": 500}, 502),
    ({"error_status": 503}, 502),
    ({"malformed": "json"}, 502),
    ({"reset_after_tokens": 0}, 502),
    ({"error_status": 400}, 400),
    ({"error_status": 401}, 502),
    ({"latency_ms": 5000}, 504),
    ({"hang": True}, 504),
])
def test_upstream_faults_non_streaming(gantry, clean_mock, knobs, status):
    clean_mock.config(**knobs)
    t0 = time.monotonic()
    r = httpx.post(f"{gantry.url}/v1/chat/completions", headers=AUTH, json=CHAT, timeout=10)
    assert r.status_code == status, r.text
    assert r.json()["error"]["message"]
    assert time.monotonic() - t0 < 4  # the provider's 2 s per-attempt timeout bounds it


def test_upstream_401_does_not_leak_key(mock):
    secret = "sk-integration-secret-123456"
    g = Gantry(mock_config(mock.url, provider_extra="    api_key: ${UPSTREAM_KEY}"),
               env={"UPSTREAM_KEY": secret})
    try:
        mock.reset()
        r = httpx.post(f"{g.url}/v1/chat/completions", headers=AUTH, json=CHAT)
        assert r.status_code == 200
        assert mock.stats()["last_request"]["headers"]["authorization"] == f"Bearer {secret}"
        mock.config(error_status=401)
        r = httpx.post(f"{g.url}/v1/chat/completions", headers=AUTH, json=CHAT)
        assert r.status_code == 502 and secret not in r.text
        assert "api_key" in r.json()["error"]["message"]
    finally:
        g.stop()
        mock.reset()
    assert secret not in g.read_log()


def test_slow_headers_within_timeout_succeed(gantry, clean_mock):
    clean_mock.config(slow_headers_ms=100)
    r = httpx.post(f"{gantry.url}/v1/chat/completions", headers=AUTH, json=CHAT)
    assert r.status_code == 200


def test_streaming_upstream_error_before_first_token_is_http_error(gantry, clean_mock):
    clean_mock.config(error_status=503)
    r = httpx.post(f"{gantry.url}/v1/chat/completions", headers=AUTH, json=dict(CHAT, stream=True))
    assert r.status_code == 502


@pytest.mark.parametrize("knobs", [{"reset_after_tokens": 3}, {"malformed": "sse"}])
def test_streaming_fault_mid_stream_sends_error_event(gantry, clean_mock, knobs):
    clean_mock.config(**knobs)
    r = httpx.post(f"{gantry.url}/v1/chat/completions", headers=AUTH, json=dict(CHAT, stream=True))
    assert r.status_code == 200
    events = sse_events(r.text)
    assert "[DONE]" not in events
    last = json.loads(events[-1])
    assert last["error"]["type"] == "upstream_error"


def test_stream_stalls_past_timeout(gantry, clean_mock):
    # one token every 5 s: the 2 s per-attempt timeout between events ends it
    clean_mock.config(tokens=3, tokens_per_second=0.2)
    t0 = time.monotonic()
    r = httpx.post(f"{gantry.url}/v1/chat/completions", headers=AUTH, json=dict(CHAT, stream=True),
                   timeout=15)
    events = sse_events(r.text)
    assert json.loads(events[-1])["error"]["type"] == "timeout_error"
    assert time.monotonic() - t0 < 9


@pytest.mark.parametrize("stream", [False, True])
def test_connection_pool_reuses_upstream_connections(gantry, clean_mock, stream):
    # Sequential requests, streaming or not, ride one pooled upstream connection. The reset
    # zeroes the counter, so one opened before it may already sit in the pool (0 or 1), and
    # the stats request itself is one more connection.
    for _ in range(5):
        r = httpx.post(f"{gantry.url}/v1/chat/completions", headers=AUTH,
                       json=dict(CHAT, stream=stream), timeout=10)
        assert r.status_code == 200
        if stream:
            assert sse_events(r.text)[-1] == "[DONE]"
    stats = clean_mock.stats()
    assert stats["chat_requests"] == 5
    assert stats["connections"] - 1 <= 1, stats


def test_keep_alive_and_pipelined_requests(gantry):
    with socket.create_connection(("127.0.0.1", gantry.port)) as s:
        req = (b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") * 3
        s.sendall(req)
        s.settimeout(5)
        data = b""
        while data.count(b"HTTP/1.1 200") < 3:
            chunk = s.recv(4096)
            assert chunk, data
            data += chunk
    assert data.count(b'{"status":"ok"}') == 3


def test_idle_connection_is_closed(mock):
    g = Gantry(mock_config(mock.url, server="  idle_timeout_ms: 300"))
    try:
        with socket.create_connection(("127.0.0.1", g.port)) as s:
            s.settimeout(5)
            t0 = time.monotonic()
            assert s.recv(10) == b""  # closed by the server
            assert time.monotonic() - t0 < 3
    finally:
        g.stop()


def test_request_timeout_is_504(mock):
    g = Gantry(mock_config(mock.url, server="  request_timeout_ms: 500"))
    try:
        mock.reset()
        mock.config(latency_ms=1500)
        r = httpx.post(f"{g.url}/v1/chat/completions", headers=AUTH, json=CHAT)
        assert r.status_code == 504
        assert r.json()["error"]["type"] == "timeout_error"
    finally:
        g.stop()
        mock.reset()


def test_max_inflight_is_429(mock):
    import concurrent.futures
    g = Gantry(mock_config(mock.url, server="  max_inflight: 2"))
    try:
        mock.reset()
        mock.config(latency_ms=800)
        with concurrent.futures.ThreadPoolExecutor(5) as ex:
            codes = list(ex.map(lambda _: httpx.post(f"{g.url}/v1/chat/completions", headers=AUTH,
                                                      json=CHAT, timeout=10), range(5)))
        statuses = sorted(r.status_code for r in codes)
        assert statuses.count(200) >= 2 and 429 in statuses
        limited = next(r for r in codes if r.status_code == 429)
        assert limited.headers["retry-after"] == "1"
    finally:
        g.stop()
        mock.reset()


def test_configured_keys_rule(mock):
    g = Gantry(mock_config(mock.url, extra="auth:\n  api_keys:\n    - ${GANTRY_TEST_KEY}"),
               env={"GANTRY_TEST_KEY": "gk-right-key-0001"})
    try:
        ok = httpx.get(f"{g.url}/v1/models", headers={"Authorization": "Bearer gk-right-key-0001"})
        assert ok.status_code == 200
        bad = httpx.get(f"{g.url}/v1/models", headers={"Authorization": "Bearer anything"})
        assert bad.status_code == 401
        assert "dev mode" not in g.read_log()
    finally:
        g.stop()
    assert "gk-right-key-0001" not in g.read_log()


def test_dev_mode_is_logged(gantry):
    assert any("dev mode" in line.get("msg", "") for line in gantry.log_lines())


def test_one_log_line_per_request(gantry):
    httpx.get(f"{gantry.url}/v1/models", headers={**AUTH, "x-request-id": "log-check-1"})
    time.sleep(0.1)
    lines = [l for l in gantry.log_lines() if l.get("request_id") == "log-check-1"]
    assert len(lines) == 1
    assert lines[0]["status"] == 200 and lines[0]["path"] == "/v1/models" and "latency_ms" in lines[0]


def make_cert(tmp_path):
    import subprocess
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return key, cert


def test_tls_upstream_verified_with_ca_file(tmp_path):
    from procs import MockUpstream
    key, cert = make_cert(tmp_path)
    m = MockUpstream("--tls-cert", str(cert), "--tls-key", str(key))
    https = f"https://localhost:{m.port}"
    trusted = Gantry(mock_config(https, provider_extra=f"    ca_file: {cert}"))
    untrusted = Gantry(mock_config(https))
    try:
        r = httpx.post(f"{trusted.url}/v1/chat/completions", headers=AUTH, json=dict(CHAT, stream=True))
        assert r.status_code == 200 and sse_events(r.text)[-1] == "[DONE]"
        r = httpx.post(f"{trusted.url}/v1/embeddings", headers=AUTH, json={"model": "mock-embed", "input": "x"})
        assert r.status_code == 200
        # an unknown CA is refused: the certificate is verified
        r = httpx.post(f"{untrusted.url}/v1/chat/completions", headers=AUTH, json=CHAT)
        assert r.status_code == 502
        assert "certificate verify failed" in r.json()["error"]["message"]
    finally:
        trusted.stop()
        untrusted.stop()
        m.stop()
