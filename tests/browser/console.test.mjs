// The memory console in real headless Chromium (playwright-core), against `mem0-dify console` on
// loopback: open the page, list scopes, search, edit a memory, read its history timeline, erase a
// scope after confirming; then the API says the scope is empty and another scope is intact.
// Run by scripts/browser/run.sh (which installs chromium and playwright-core). Screenshots go to
// $MEM0_TEST_ARTIFACTS_DIR.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import assert from "node:assert/strict";

const require = createRequire(join(process.env.PLAYWRIGHT_HOME, "package.json"));
const { chromium } = require("playwright-core");
const KEY = "browser-test-key-7d3e91c2a0";
const DIMS = 16;
const artifacts = process.env.MEM0_TEST_ARTIFACTS_DIR || "test-artifacts/browser";

// A tiny OpenAI-compatible embeddings server: hashed bag of words.
function embed(text) {
  const v = new Array(DIMS).fill(0);
  for (const w of text.toLowerCase().split(/\W+/).filter(Boolean)) v[createHash("md5").update(w).digest()[0] % DIMS] += 1;
  return v.some(x => x) ? v : [1, ...new Array(DIMS - 1).fill(0)];
}
const model = createServer((req, res) => {
  let body = "";
  req.on("data", c => (body += c));
  req.on("end", () => {
    const input = JSON.parse(body || "{}").input;
    const texts = typeof input === "string" ? [input] : input || [];
    const data = texts.map((t, index) => ({ object: "embedding", index, embedding: embed(t) }));
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ object: "list", model: "fake", data, usage: { prompt_tokens: 1, total_tokens: 1 } }));
  });
});
await new Promise(r => model.listen(0, "127.0.0.1", r));
const modelUrl = `http://127.0.0.1:${model.address().port}/v1`;

const work = mkdtempSync(join(tmpdir(), "mem0-console-browser-"));
const block = config => JSON.stringify({ provider: "openai", config: { api_key: "sk-x", openai_base_url: modelUrl, max_retries: 0, ...config } });
writeFileSync(join(work, "credentials.json"), JSON.stringify({
  local_llm_json: block({ model: "gpt-4o-mini" }),
  local_embedder_json: block({ embedding_dims: DIMS }),
  local_vector_db_json: JSON.stringify({ provider: "embedded", config: { path: join(work, "memories.db"), embedding_model_dims: DIMS } }),
}));
const consoleProcess = spawn(process.env.MEM0_DIFY_BIN, ["console", "--credentials", join(work, "credentials.json"), "--listen", "127.0.0.1:0"], {
  env: { ...process.env, MEM0_DIFY_CONSOLE_KEY: KEY, MEM0_DIFY_DATA_DIR: work },
  stdio: ["ignore", "pipe", "inherit"],
});
const base = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("mem0-dify console did not start")), 60000);
  createInterface({ input: consoleProcess.stdout }).on("line", line => {
    const m = line.match(/console listening on (http:\/\/\S+)/);
    if (m) { clearTimeout(timer); resolve(m[1]); }
  });
  consoleProcess.on("exit", code => reject(new Error(`mem0-dify console exited with ${code}`)));
});

async function api(method, path, body) {
  const r = await fetch(base + "api/" + path, { method, headers: { "X-Console-Key": KEY }, body });
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${await r.clone().text()}`);
  return r;
}
const at = m => `2026-03-01T12:${String(m).padStart(2, "0")}:00.000000+00:00`;
const line = (n, user, text) => {
  const id = `6f1c2a9e-1b2c-4d3e-8f40-00000000000${n}`;
  const added = { id: `7a2d3b0f-2c3d-4e4f-9a51-00000000000${n}`, memory_id: id, old_memory: null, new_memory: text, event: "ADD",
    created_at: at(n), updated_at: at(n), is_deleted: false };
  return JSON.stringify({ id, memory: text, metadata: { topic: "test" }, user_id: user, created_at: at(n), updated_at: at(n),
    history: [added] });
};
await api("POST", "import", [line(1, "alice", "Likes green tea"), line(2, "alice", "Lives in Paris"),
  line(3, "alice", "Plays the cello"), line(4, "bob", "Likes black coffee")].join("\n") + "\n");

const userDataDir = mkdtempSync(join(tmpdir(), "mem0-console-chromium-"));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  locale: "en-US",
  viewport: { width: 412, height: 915 }, // a phone
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
let failed = null;
try {
  const page = context.pages()[0] || (await context.newPage());
  page.on("dialog", dialog => dialog.type() === "prompt" ? dialog.accept("ERASE") : dialog.accept());
  await page.goto(base);
  await page.getByLabel("Access key").fill(KEY);
  await page.getByRole("button", { name: "Who is remembered" }).click();
  await page.getByRole("button", { name: /user_id=alice \(3\)/ }).click();
  const items = page.locator("#memories > li");
  await assert.doesNotReject(items.nth(2).waitFor());
  assert.deepEqual(await items.locator(".text").allTextContents(), ["Plays the cello", "Lives in Paris", "Likes green tea"]);
  await page.screenshot({ path: join(artifacts, "1-memories.png"), fullPage: true });

  await page.getByRole("searchbox").fill("green tea");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await page.locator("#memories > li .meta", { hasText: "score" }).first().waitFor();
  assert.equal(await items.first().locator(".text").textContent(), "Likes green tea");
  await page.screenshot({ path: join(artifacts, "2-search.png"), fullPage: true });

  await page.getByRole("button", { name: "Show memories" }).click();
  const paris = items.filter({ hasText: "Lives in Paris" });
  await paris.getByRole("button", { name: "Edit" }).click();
  await paris.locator("textarea").fill("Lives in Berlin");
  await paris.getByRole("button", { name: "Save" }).click();
  const berlin = items.filter({ hasText: "Lives in Berlin" });
  await berlin.waitFor();
  await berlin.getByRole("button", { name: "History" }).click();
  const timeline = berlin.locator("ol.timeline li");
  await timeline.nth(1).waitFor();
  const rows = await timeline.allTextContents();
  assert.equal(rows.length, 2, rows.join(" | "));
  assert.match(rows[1], /UPDATE: Lives in Paris → Lives in Berlin/);
  await page.screenshot({ path: join(artifacts, "3-history.png"), fullPage: true });

  await page.getByRole("button", { name: "Erase this scope…" }).click();
  await page.getByText("Erased 3 memories.").waitFor();
  await page.screenshot({ path: join(artifacts, "4-erased.png"), fullPage: true });

  const alice = await (await api("GET", "memories?user_id=alice")).json();
  assert.deepEqual(alice.memories, []);
  const bob = await (await api("GET", "memories?user_id=bob")).json();
  assert.deepEqual(bob.memories.map(m => m.memory), ["Likes black coffee"]);

  // Chinese, as Dify's language would pick it
  await page.goto(base + "?lang=zh-Hans");
  assert.equal(await page.locator("h1").textContent(), "记忆控制台");
  await page.screenshot({ path: join(artifacts, "5-zh.png"), fullPage: true });
} catch (e) {
  failed = e;
} finally {
  await context.close();
  consoleProcess.kill("SIGTERM");
  model.close();
  rmSync(userDataDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}
if (failed) {
  console.error("FAILED: browser test —", failed);
  process.exit(1);
}
console.log(`PASSED: browser test (screenshots in ${artifacts})`);
