// gantry driven by the official openai Node SDK (node --test).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import OpenAI from "openai";

const root = resolve(import.meta.dirname, "..", "..", "..");
const gantryBin = process.env.GANTRY_BIN ?? join(root, "build", "gantry");
const mockBin = process.env.MOCK_UPSTREAM_BIN ?? join(root, "build", "gantry-mock-upstream");
let mock, gantry, mockUrl, client;

function freePort() {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

async function waitHttp(url) {
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`not up: ${url}`);
}

async function mockConfig(knobs) {
  await fetch(`${mockUrl}/_mock/reset`, { method: "POST" });
  if (knobs) await fetch(`${mockUrl}/_mock/config`, { method: "POST", body: JSON.stringify(knobs) });
}

before(async () => {
  mock = spawn(mockBin, ["--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
  mockUrl = await new Promise((res, rej) => {
    mock.stdout.once("data", (d) => {
      const m = /listening on (\S+)/.exec(d.toString());
      m ? res(`http://${m[1]}`) : rej(new Error(d.toString()));
    });
  });
  const dir = mkdtempSync(join(tmpdir(), "gantry-node-"));
  writeFileSync(join(dir, "gantry.yaml"), `
providers:
  - name: mock
    type: openai
    base_url: ${mockUrl}/v1
    timeout_ms: 2000
models:
  - {name: mock-chat, provider: mock}
  - {name: mock-embed, provider: mock, kind: embedding}
`);
  const port = await freePort();
  gantry = spawn(gantryBin, ["serve", "--port", String(port), "--data", join(dir, "data"),
    "--config", join(dir, "gantry.yaml"), "--log-level", "warn"], { stdio: ["ignore", "ignore", "inherit"] });
  await waitHttp(`http://127.0.0.1:${port}/healthz`);
  client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "sk-dev", maxRetries: 0 });
});

after(async () => {
  // gantry must exit cleanly on SIGTERM (under the sanitizer build: with no reports).
  const exited = new Promise((resolve) => gantry.once("exit", (code, signal) => resolve({ code, signal })));
  gantry.kill("SIGTERM");
  const { code, signal } = await exited;
  mock?.kill("SIGTERM");
  assert.equal(signal, null);
  assert.equal(code, 0);
});

const messages = [{ role: "user", content: "hello from node" }];

test("models", async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids.sort(), ["mock-chat", "mock-embed"]);
});

test("chat", async () => {
  await mockConfig();
  const r = await client.chat.completions.create({ model: "mock-chat", messages, max_tokens: 3 });
  assert.equal(r.choices[0].message.content, "tok0 tok1 tok2");
  assert.equal(r.usage.completion_tokens, 3);
});

test("chat stream with usage", async () => {
  await mockConfig();
  const stream = await client.chat.completions.create({
    model: "mock-chat", messages, stream: true, stream_options: { include_usage: true },
  });
  let text = "";
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) text += c.delta.content ?? "";
  }
  assert.equal(text, Array.from({ length: 16 }, (_, i) => `tok${i}`).join(" "));
  assert.equal(usage.completion_tokens, 16);
});

test("embeddings (SDK default base64)", async () => {
  await mockConfig();
  const r = await client.embeddings.create({ model: "mock-embed", input: ["a", "b", "c"] });
  assert.equal(r.data.length, 3);
  assert.equal(r.data[0].embedding.length, 8);
  const norm = r.data[0].embedding.reduce((s, x) => s + x * x, 0);
  assert.ok(Math.abs(norm - 1) < 1e-4);
});

test("errors map to SDK error classes", async () => {
  await mockConfig();
  await assert.rejects(client.chat.completions.create({ model: "ghost", messages }), OpenAI.NotFoundError);
  await assert.rejects(
    client.chat.completions.create({ model: "mock-chat", messages, temperature: 7 }), OpenAI.BadRequestError);
  await mockConfig({ error_status: 429, retry_after: 2 });
  await assert.rejects(client.chat.completions.create({ model: "mock-chat", messages }), OpenAI.RateLimitError);
  await mockConfig({ reset_after_tokens: 2 });
  await assert.rejects(async () => {
    const s = await client.chat.completions.create({ model: "mock-chat", messages, stream: true });
    for await (const _ of s) { /* drain */ }
  }, OpenAI.APIError);
  await mockConfig();
});
