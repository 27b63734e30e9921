"""RAG over HTTP and the CLI: collections, uploads (JSON and multipart), search with
lineage, re-ingest, delete, tenants and ACLs, grounded answers with checked citations
(whole and streamed), and crash safety (kill -9 during ingest).

Uses the scripted provider (deterministic chat reply, hash embeddings), so no model
download is needed; relevance with real embeddings is covered by test_rag_local.py.
"""
import base64
import json
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import threading

import httpx
import pytest

from procs import GANTRY_BIN, Gantry, free_port, wait_port

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "rag" / "fixtures"
KEY_A = "key-tenant-a-0123456789"
KEY_A_ENG = "key-tenant-a-eng-0123456789"
KEY_B = "key-tenant-b-0123456789"
A = {"Authorization": f"Bearer {KEY_A}"}
A_ENG = {"Authorization": f"Bearer {KEY_A_ENG}"}
B = {"Authorization": f"Bearer {KEY_B}"}
REPLY = "Saturn has rings [1]. Jupiter is large [1, 4]. See [9]."


def config(reply=REPLY):
    return f"""
server:
  io_threads: 2
auth:
  keys:
    - {{key: {KEY_A}, tenant: acme}}
    - {{key: {KEY_A_ENG}, tenant: acme, groups: [eng]}}
    - {{key: {KEY_B}, tenant: globex}}
providers:
  - name: script
    type: scripted
    reply: "{reply}"
    embedding_dimensions: 384
models:
  - name: chat
    provider: script
  - name: embed
    provider: script
    kind: embedding
rag:
  save_interval_s: 1
"""


@pytest.fixture(scope="module")
def gantry():
    g = Gantry(config())
    yield g
    rc = g.stop()
    assert rc == 0, g.read_log()


def post(g, path, headers, **kw):
    return httpx.post(g.url + path, headers=headers, timeout=60, **kw)


def upload(g, coll, headers, docs):
    return post(g, f"/v1/collections/{coll}/documents", headers, json={"documents": docs})


def search(g, coll, headers, query, mode="lexical", **extra):
    r = post(g, f"/v1/collections/{coll}/search", headers,
             json={"query": query, "k": 5, "mode": mode, **extra})
    return r


def test_upload_search_and_lineage(gantry):
    r = upload(gantry, "planets", A, [
        {"source": "planets/saturn.md",
         "text": "# Saturn\n\n## Rings\n\nSaturn has bright rings made of ice.\n",
         "metadata": {"kind": "planet", "year": 2020}},
        {"source": "planets/mars.txt", "text": "Mars is red because of iron oxide dust.",
         "metadata": {"kind": "planet", "year": 2010}},
    ])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["summary"]["added"] == 2 and body["summary"]["failed"] == 0
    assert [d["status"] for d in body["data"]] == ["added", "added"]

    for mode in ("lexical", "dense", "hybrid"):
        r = search(gantry, "planets", A, "saturn rings ice", mode=mode)
        assert r.status_code == 200, r.text
        assert r.json()["data"], mode
    hits = search(gantry, "planets", A, "saturn rings ice").json()["data"]
    top = hits[0]
    assert top["source"] == "planets/saturn.md"
    assert top["heading_path"] == ["Saturn", "Rings"]
    assert top["version"] == 1 and top["ingested_at"] > 0
    assert 0 <= top["span"]["byte_start"] < top["span"]["byte_end"]
    assert top["scores"]["lexical"] > 0
    # Metadata filters apply inside retrieval.
    hits = search(gantry, "planets", A, "saturn mars", filter={"year": {"$lt": 2015}}).json()["data"]
    assert {h["source"] for h in hits} == {"planets/mars.txt"}


def test_reingest_unchanged_changed_and_delete(gantry):
    doc = {"source": "notes/a.txt", "text": "The ferry leaves at nine from pier four."}
    assert upload(gantry, "notes", A, [doc]).json()["data"][0]["status"] == "added"
    assert upload(gantry, "notes", A, [doc]).json()["data"][0]["status"] == "unchanged"
    changed = dict(doc, text="The ferry now leaves at ten from pier seven.")
    d = upload(gantry, "notes", A, [changed]).json()["data"][0]
    assert d["status"] == "updated" and d["version"] == 2
    for mode in ("lexical", "hybrid"):
        assert search(gantry, "notes", A, "nine pier four", mode=mode).json()["data"] == [] or all(
            "nine" not in h["text"] for h in search(gantry, "notes", A, "nine", mode=mode).json()["data"])
    texts = [h["text"] for h in search(gantry, "notes", A, "ferry seven").json()["data"]]
    assert any("seven" in t for t in texts) and not any("nine" in t for t in texts)
    r = httpx.delete(gantry.url + "/v1/collections/notes/documents/notes%2Fa.txt", headers=A)
    assert r.status_code == 200, r.text
    for mode in ("lexical", "dense", "hybrid"):
        assert search(gantry, "notes", A, "ferry seven", mode=mode).json()["data"] == [], mode
    assert httpx.delete(gantry.url + "/v1/collections/notes/documents/notes%2Fa.txt",
                        headers=A).status_code == 404


def test_multipart_upload_and_bad_files(gantry):
    files = [
        ("file", ("guide.md", (FIXTURES / "guide.md").read_bytes(), "text/markdown")),
        ("file", ("page.html", (FIXTURES / "page.html").read_bytes(), "text/html")),
        ("file", ("sample.pdf", (FIXTURES / "sample.pdf").read_bytes(), "application/pdf")),
        ("file", ("truncated.pdf", (FIXTURES / "truncated.pdf").read_bytes(), "application/pdf")),
        ("file", ("binary.bin.txt", (FIXTURES / "binary.bin").read_bytes(), "text/plain")),
    ]
    r = post(gantry, "/v1/collections/files/documents", A, files=files,
             data={"metadata": json.dumps({"team": "docs"})})
    assert r.status_code == 200, r.text
    body = r.json()
    by_source = {d["source"]: d for d in body["data"]}
    assert by_source["guide.md"]["status"] == "added"
    assert by_source["page.html"]["status"] == "added"
    assert by_source["sample.pdf"]["status"] == "added"
    assert by_source["truncated.pdf"]["status"] == "error"
    assert "pdf" in by_source["truncated.pdf"]["error"]["message"].lower()
    assert by_source["binary.bin.txt"]["status"] == "error"
    assert "binary" in by_source["binary.bin.txt"]["error"]["message"]
    assert body["summary"]["failed"] == 2
    # PDF chunks carry their pages.
    pdf_hits = [h for h in search(gantry, "files", A, "chapter backups", filter={"source": "sample.pdf"}).json()["data"]]
    assert pdf_hits and all(h["span"]["page_start"] >= 1 for h in pdf_hits)
    assert all(h["metadata"] == {"team": "docs"} for h in pdf_hits)
    # One bad document alone answers with its error.
    r = upload(gantry, "files", A, [{"source": "x.pdf", "content_base64":
                                      base64.b64encode(b"%PDF-1.4 garbage").decode()}])
    assert r.status_code == 400 and "pdf" in r.json()["error"]["message"].lower()


def test_tenants_never_see_each_other(gantry):
    assert upload(gantry, "shared-name", A, [
        {"source": "a.txt", "text": "acme secret launch code is orchid"}]).status_code == 200
    assert upload(gantry, "shared-name", B, [
        {"source": "b.txt", "text": "globex public handbook about orchid gardens"}]).status_code == 200
    for mode in ("lexical", "dense", "hybrid"):
        texts = [h["text"] for h in search(gantry, "shared-name", B, "orchid launch code", mode=mode).json()["data"]]
        assert texts and all("acme" not in t for t in texts), mode
    # B cannot reach A's collections at all.
    assert search(gantry, "planets", B, "saturn").status_code == 404
    assert httpx.get(gantry.url + "/v1/collections/planets", headers=B).status_code == 404
    assert httpx.get(gantry.url + "/v1/collections/planets/documents", headers=B).status_code == 404
    assert httpx.delete(gantry.url + "/v1/collections/planets", headers=B).status_code == 404
    names_b = {c["name"] for c in httpx.get(gantry.url + "/v1/collections", headers=B).json()["data"]}
    assert names_b == {"shared-name"}
    # Nor through a grounded chat.
    r = post(gantry, "/v1/chat/completions", B, json={
        "model": "chat", "messages": [{"role": "user", "content": "launch code?"}],
        "rag": {"collections": ["shared-name"], "min_similarity": -1}})
    assert r.status_code == 200, r.text
    assert all("acme" not in s["snippet"] for s in r.json()["rag"]["sources"])
    r = post(gantry, "/v1/chat/completions", B, json={
        "model": "chat", "messages": [{"role": "user", "content": "saturn?"}],
        "rag": {"collections": ["planets"]}})
    assert r.status_code == 404


def test_document_acl_inside_retrieval(gantry):
    r = upload(gantry, "acl", A, [
        {"source": "eng.txt", "text": "the staging database password rotates weekly", "acl": ["eng"]},
        {"source": "all.txt", "text": "the staging database is in region west"}])
    assert r.status_code == 200, r.text
    for mode in ("lexical", "dense", "hybrid"):
        plain = {h["source"] for h in search(gantry, "acl", A, "staging database password", mode=mode).json()["data"]}
        eng = {h["source"] for h in search(gantry, "acl", A_ENG, "staging database password", mode=mode).json()["data"]}
        assert "eng.txt" not in plain, mode
        assert "eng.txt" in eng, mode


def test_grounded_answer_checks_citations(gantry):
    r = post(gantry, "/v1/chat/completions", A, json={
        "model": "chat", "messages": [{"role": "user", "content": "Tell me about saturn rings"}],
        "rag": {"collections": ["planets"], "k": 2, "min_similarity": -1}})
    assert r.status_code == 200, r.text
    body = r.json()
    content = body["choices"][0]["message"]["content"]
    n = len(body["rag"]["sources"])
    assert 1 <= n <= 2
    assert "[9]" not in content and "[1]" in content
    assert 9 in body["rag"]["invalid_citations"]
    assert body["rag"]["citations"][0] == 1 and body["rag"]["grounded"] is True
    src = body["rag"]["sources"][0]
    assert {"doc_id", "title", "source", "span", "snippet", "number"} <= set(src)


def test_grounded_answer_streams(gantry):
    with httpx.stream("POST", gantry.url + "/v1/chat/completions", headers=A, timeout=30, json={
            "model": "chat", "stream": True,
            "messages": [{"role": "user", "content": "saturn rings"}],
            "rag": {"collections": ["planets"], "k": 2, "min_similarity": -1}}) as r:
        assert r.status_code == 200
        events = [json.loads(line[6:]) for line in r.iter_lines()
                  if line.startswith("data: ") and line != "data: [DONE]"]
    text = "".join(c["delta"].get("content") or "" for e in events for c in e.get("choices", []))
    assert "[9]" not in text and "[1]" in text
    reports = [e["rag"] for e in events if "rag" in e]
    assert len(reports) == 1 and 9 in reports[0]["invalid_citations"]


def test_says_it_does_not_know(gantry):
    r = post(gantry, "/v1/chat/completions", A, json={
        "model": "chat", "messages": [{"role": "user", "content": "zebra quantum violin"}],
        "rag": {"collections": ["planets"], "mode": "lexical"}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rag"]["grounded"] is False and body["rag"]["sources"] == []
    assert "don't know" in body["choices"][0]["message"]["content"]


def test_bad_requests_are_clear(gantry):
    r = search(gantry, "planets", A, "x", mode="semantic")
    assert r.status_code == 400 and "mode" in r.json()["error"]["message"]
    r = search(gantry, "planets", A, "x", filter={"year": {"$gtt": 1}})
    assert r.status_code == 400 and "$gtt" in r.json()["error"]["message"]
    r = post(gantry, "/v1/collections", A, json={"name": "bad name!"})
    assert r.status_code == 400
    r = post(gantry, "/v1/chat/completions", A, json={
        "model": "chat", "messages": [{"role": "user", "content": "x"}], "rag": {"k": 3}})
    assert r.status_code == 400 and "collections" in r.json()["error"]["message"]
    r = post(gantry, "/v1/collections/planets/documents",
             {**A, "content-type": "multipart/form-data; boundary=x"}, content=b"--x\r\nnope")
    assert r.status_code == 400


def run_cli(*args, cwd=None):
    return subprocess.run([GANTRY_BIN, *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_cli_ingest_and_ask_through_server(gantry, tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "one.md").write_text("# Tides\n\nTides are caused by the moon.\n")
    (corpus / "sub" / "two.txt").write_text("Volcanoes form where plates meet.")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7 nope")
    (corpus / "image.png").write_bytes(b"\x89PNG")
    args = ["--server", gantry.url, "--api-key", KEY_A, "--collection", "cli"]
    r = run_cli("ingest", "corpus", *args, cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr  # one file failed
    assert "2 added, 0 updated, 0 unchanged, 1 failed" in r.stdout
    assert "broken.pdf" in r.stdout and "1 other files skipped" in r.stdout
    assert "[3/3]" in r.stderr  # progress, one line per file when not a terminal
    r = run_cli("ingest", "corpus", *args, cwd=tmp_path)
    assert "0 added, 0 updated, 2 unchanged" in r.stdout
    (corpus / "sub" / "two.txt").unlink()
    r = run_cli("ingest", "corpus", "--prune", *args, cwd=tmp_path)
    assert "1 removed" in r.stdout, r.stdout + r.stderr
    docs = httpx.get(gantry.url + "/v1/collections/cli/documents", headers=A).json()["data"]
    assert sorted(d["doc_id"] for d in docs) == ["corpus/one.md"]
    r = run_cli("ask", "what causes tides", "--server", gantry.url, "--api-key", KEY_A,
                "--collection", "cli", "--model", "chat", "--mode", "lexical")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Saturn has rings [1]" in r.stdout and "Sources:" in r.stdout
    assert "corpus/one.md" in r.stdout and "Removed citations" in r.stdout


def test_cli_ingest_on_data_dir(tmp_path):
    cfg = tmp_path / "g.yaml"
    cfg.write_text(config())
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("Bees make honey from nectar.")
    r = run_cli("ingest", str(tmp_path / "docs"), "--collection", "c", "--data",
                str(tmp_path / "data"), "--config", str(cfg))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 added" in r.stdout
    r = run_cli("ask", "honey bees", "--collection", "c", "--data", str(tmp_path / "data"),
                "--config", str(cfg), "--mode", "lexical", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["rag"]["sources"][0]["source"].endswith("docs/a.txt")


def test_kill_9_during_ingest_loses_nothing_acknowledged(tmp_path):
    g = Gantry(config())
    acked = []
    stop = threading.Event()

    def writer():
        i = 0
        with httpx.Client(timeout=30) as c:
            while not stop.is_set():
                text = " ".join(f"paragraph {i} word{j} about topic{i}." for j in range(150))
                try:
                    r = c.post(g.url + "/v1/collections/crash/documents", headers=A, json={
                        "documents": [{"source": f"doc{i}.txt", "text": text}]})
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    acked.append((f"doc{i}.txt", r.json()["data"][0]["chunks"]))
                i += 1

    t = threading.Thread(target=writer)
    t.start()
    while len(acked) < 8:
        t.join(0.05)
        assert t.is_alive() or len(acked) >= 8
    g.proc.send_signal(signal.SIGKILL)
    g.proc.wait()
    stop.set()
    t.join()
    data_dir = os.path.join(g.dir, "data")
    # Restart on the same data directory.
    port = free_port()
    g3 = subprocess.Popen([GANTRY_BIN, "serve", "--port", str(port), "--data", data_dir,
                           "--config", g.config_path], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        url = f"http://127.0.0.1:{port}"
        docs = {d["doc_id"]: d for d in httpx.get(
            url + "/v1/collections/crash/documents?limit=1000", headers=A).json()["data"]}
        for source, chunks in acked:
            assert source in docs, source
            assert docs[source]["chunks"] == chunks
        # No half document: every listed document has all its chunks searchable.
        for doc_id, d in docs.items():
            n = d["chunks"]
            hits = httpx.post(url + "/v1/collections/crash/search", headers=A, json={
                "query": doc_id.replace("doc", "topic").replace(".txt", ""), "k": 100,
                "mode": "lexical", "filter": {"doc_id": doc_id}}).json()["data"]
            assert len(hits) == n, (doc_id, n, len(hits))
            dense = httpx.post(url + "/v1/collections/crash/search", headers=A, json={
                "query": "paragraph", "k": 100, "mode": "dense",
                "filter": {"doc_id": doc_id}}).json()["data"]
            assert len(dense) == n, (doc_id, n, len(dense))
    finally:
        g3.terminate()
        assert g3.wait(15) == 0
        shutil.rmtree(g.dir, ignore_errors=True)
