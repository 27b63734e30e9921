// The official openai Node SDK against gantry's local models (node --test).
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
const modelsDir = process.env.GANTRY_MODELS ?? join(root, "models");
let gantry, client;

function freePort() {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), "gantry-node-local-"));
  writeFileSync(join(dir, "gantry.yaml"), `
providers:
  - name: local
    type: local
    models_dir: ${modelsDir}
    threads: 2
    context_length: 1024
    kv_cache_mb: 64
models:
  - {name: gemma-3-270m, provider: local}
  - {name: all-MiniLM-L6-v2, provider: local, kind: embedding}
`);
  const port = await freePort();
  gantry = spawn(gantryBin, ["serve", "--port", String(port), "--data", join(dir, "data"),
    "--config", join(dir, "gantry.yaml"), "--log-level", "warn"], { stdio: ["ignore", "ignore", "inherit"] });
  for (let i = 0; i < 400; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "sk-dev", maxRetries: 0 });
});

after(async () => {
  const exited = new Promise((resolve) => gantry.once("exit", (code, signal) => resolve({ code, signal })));
  gantry.kill("SIGTERM");
  const { code, signal } = await exited;
  assert.equal(signal, null);
  assert.equal(code, 0);
});

test("local model: chat, stream and embeddings", async () => {
  const msgs = [{ role: "user", content: "Write the numbers from one to ten." }];
  const r = await client.chat.completions.create({
    model: "gemma-3-270m", messages: msgs, temperature: 0, max_tokens: 8,
  });
  assert.equal(r.usage.prompt_tokens, 17);
  assert.ok(r.usage.completion_tokens >= 1 && r.usage.completion_tokens <= 8);
  const stream = await client.chat.completions.create({
    model: "gemma-3-270m", messages: msgs, temperature: 0, max_tokens: 8, stream: true,
    stream_options: { include_usage: true },
  });
  let text = "";
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) text += c.delta.content ?? "";
  }
  assert.equal(text, r.choices[0].message.content);
  assert.deepEqual(usage, r.usage);
  const e = await client.embeddings.create({ model: "all-MiniLM-L6-v2", input: ["a cat", "a kitten"] });
  assert.equal(e.data[0].embedding.length, 384);
  const cos = e.data[0].embedding.reduce((s, x, i) => s + x * e.data[1].embedding[i], 0);
  assert.ok(cos > 0.5 && cos < 1, `cosine ${cos}`);
});
