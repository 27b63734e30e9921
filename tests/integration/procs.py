"""Start and stop real gantry and mock-upstream processes on 127.0.0.1 for tests.

Used by tests/integration and tests/clients/python. Binaries come from the
environment (GANTRY_BIN, MOCK_UPSTREAM_BIN, set by CTest) or build/.
"""
import json
import os
import pathlib
import signal
import socket
import subprocess
import tempfile
import time

import httpx

ROOT = pathlib.Path(__file__).resolve().parents[2]
GANTRY_BIN = os.environ.get("GANTRY_BIN", str(ROOT / "build" / "gantry"))
MOCK_BIN = os.environ.get("MOCK_UPSTREAM_BIN", str(ROOT / "build" / "gantry-mock-upstream"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


class MockUpstream:
    """The mock OpenAI upstream (tests/mock_upstream)."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [MOCK_BIN, "--port", "0", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.proc.kill()
            raise RuntimeError(f"mock upstream did not start: {line!r} {self.proc.stderr.read()}")
        self.port = int(line.strip().rsplit(":", 1)[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def config(self, **knobs):
        httpx.post(f"{self.url}/_mock/config", json=knobs).raise_for_status()

    def reset(self):
        httpx.post(f"{self.url}/_mock/reset").raise_for_status()

    def stats(self):
        return httpx.get(f"{self.url}/_mock/stats").json()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Gantry:
    """A gantry serve process with a generated config."""

    def __init__(self, config_text, env=None, extra_args=()):
        self.dir = tempfile.mkdtemp(prefix="gantry-test-")
        self.config_path = os.path.join(self.dir, "gantry.yaml")
        with open(self.config_path, "w") as f:
            f.write(config_text)
        self.log_path = os.path.join(self.dir, "gantry.log")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(self.log_path, "w")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [GANTRY_BIN, "serve", "--port", str(self.port), "--data", os.path.join(self.dir, "data"),
             "--config", self.config_path, *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT, env=full_env,
        )
        try:
            wait_port(self.port)
        except TimeoutError:
            self.stop()
            raise RuntimeError("gantry did not start:\n" + self.read_log())

    def read_log(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def log_lines(self):
        out = []
        for line in self.read_log().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def mock_config(mock_url, extra="", provider_extra="", server=""):
    """A config routing mock-chat / mock-embed to the mock upstream."""
    return f"""
server:
  io_threads: 2
{server}
providers:
  - name: mock
    type: openai
    base_url: {mock_url}/v1
    timeout_ms: 2000
{provider_extra}
models:
  - name: mock-chat
    provider: mock
  - name: alias-chat
    provider: mock
    upstream_model: mock-chat
  - name: mock-embed
    provider: mock
    kind: embedding
{extra}
"""
