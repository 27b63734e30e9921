"""Cancellation on client disconnect, graceful shutdown, and start-up errors."""
import os
import signal
import socket
import subprocess
import threading
import time

import httpx

from conftest import AUTH
from procs import GANTRY_BIN, Gantry, mock_config

CHAT = {"model": "mock-chat", "messages": [{"role": "user", "content": "hello"}]}


def raw_post(port, body, stream):
    import json
    payload = json.dumps(dict(body, stream=stream)).encode()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
              b"Content-Type: application/json\r\nContent-Length: " + str(len(payload)).encode() +
              b"\r\n\r\n" + payload)
    return s


def wait_for(pred, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_disconnect_mid_stream_cancels_upstream(gantry, clean_mock):
    clean_mock.config(tokens=100, tokens_per_second=5)
    s = raw_post(gantry.port, CHAT, stream=True)
    s.settimeout(5)
    assert b"200" in s.recv(4096)
    assert wait_for(lambda: clean_mock.stats()["streams_started"] == 1)
    s.close()
    # gantry closes its upstream connection: the mock sees the abort long before the 20 s stream ends
    assert wait_for(lambda: clean_mock.stats()["aborted"] == 1, timeout=3)
    assert clean_mock.stats()["streams_completed"] == 0


def test_disconnect_while_waiting_cancels_upstream(gantry, clean_mock):
    clean_mock.config(latency_ms=1900)
    s = raw_post(gantry.port, CHAT, stream=False)
    assert wait_for(lambda: clean_mock.stats()["active"] == 1)
    s.close()
    assert wait_for(lambda: clean_mock.stats()["aborted"] == 1, timeout=1.5)


def test_sigterm_drains_in_flight_requests(mock):
    g = Gantry(mock_config(mock.url))
    try:
        mock.reset()
        mock.config(tokens=10, tokens_per_second=10)  # a ~1 s stream
        result = {}

        def run():
            r = httpx.post(f"{g.url}/v1/chat/completions", headers=AUTH, json=dict(CHAT, stream=True),
                           timeout=10)
            result["status"] = r.status_code
            result["text"] = r.text

        t = threading.Thread(target=run)
        t.start()
        assert wait_for(lambda: mock.stats()["streams_started"] == 1)
        g.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        # no new connections once draining
        refused = False
        try:
            httpx.get(f"{g.url}/healthz", timeout=1)
        except httpx.HTTPError:
            refused = True
        assert refused
        t.join(10)
        assert result["status"] == 200
        assert result["text"].rstrip().endswith("data: [DONE]")
        assert g.proc.wait(10) == 0, g.read_log()
    finally:
        g.stop()
        mock.reset()


def test_drain_timeout_cancels_what_is_left(mock):
    g = Gantry(mock_config(mock.url, server="  drain_timeout_ms: 300"))
    try:
        mock.reset()
        mock.config(tokens=100, tokens_per_second=5)
        s = raw_post(g.port, CHAT, stream=True)
        assert wait_for(lambda: mock.stats()["streams_started"] == 1)
        t0 = time.monotonic()
        g.proc.send_signal(signal.SIGTERM)
        assert g.proc.wait(5) == 0
        assert time.monotonic() - t0 < 3
        assert wait_for(lambda: mock.stats()["aborted"] == 1)
        s.close()
    finally:
        g.stop()
        mock.reset()


def run_gantry(*args, env=None):
    return subprocess.run([GANTRY_BIN, *args], capture_output=True, text=True, timeout=20,
                          env={**os.environ, **(env or {})})


def test_config_errors_name_file_line_and_key(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("server:\n  port: 8080\n  io_threads: many\n")
    r = run_gantry("serve", "--config", str(cfg), "--port", "0", "--data", str(tmp_path / "d"))
    assert r.returncode != 0
    assert f"{cfg}:3: server.io_threads: expected an integer" in r.stderr


def test_config_unknown_key_and_missing_env(tmp_path):
    cfg = tmp_path / "typo.yaml"
    cfg.write_text("server:\n  prot: 1\n")
    r = run_gantry("serve", "--config", str(cfg), "--data", str(tmp_path / "d"))
    assert "server.prot: unknown key" in r.stderr
    cfg.write_text("providers:\n  - name: x\n    base_url: http://127.0.0.1:1/v1\n    api_key: ${NOPE_UNSET_VAR}\n")
    r = run_gantry("serve", "--config", str(cfg), "--data", str(tmp_path / "d"),
                   env={"NOPE_UNSET_VAR": ""})
    assert "providers[0].api_key" in r.stderr and "NOPE_UNSET_VAR is not set" in r.stderr


def test_missing_config_file(tmp_path):
    r = run_gantry("serve", "--config", str(tmp_path / "none.yaml"), "--data", str(tmp_path / "d"))
    assert r.returncode != 0 and "cannot read config file" in r.stderr


def test_port_in_use(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = run_gantry("serve", "--port", str(port), "--data", str(tmp_path / "d"))
        assert r.returncode != 0 and "cannot listen" in r.stderr


def test_embedded_defaults_start(tmp_path):
    from procs import free_port, wait_port
    port = free_port()
    p = subprocess.Popen([GANTRY_BIN, "serve", "--port", str(port), "--data", str(tmp_path / "d")],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # Loading both models takes ~0.4 s in the release build and ~10 s under
        # ASan: a startup-time limit is not what this test checks.
        wait_port(port, timeout=90)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        assert os.path.isdir(tmp_path / "d")
    finally:
        p.terminate()
        assert p.wait(10) == 0
