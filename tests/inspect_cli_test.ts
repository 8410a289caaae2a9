// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli, withTempDir } from "./_helpers.ts";

const COUNTER = new URL("../examples/counter/", import.meta.url).pathname;

Deno.test("inspect: a component's hash, imports and exports", async () => {
  const r = await runCli(["inspect", "--json", join(COUNTER, "counter.wasm")]);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.match(s.sha256, /^[0-9a-f]{64}$/);
  assert.deepEqual(s.imports, ["theater:actor/runtime"]);
  assert.deepEqual(s.exports, ["theater:actor/actor@0.1.0"]);
});

Deno.test("inspect: a chain's summary; a tampered chain exits 1", async () => {
  await withTempDir(async (dir) => {
    const chain = join(dir, "counter.jsonl");
    await Deno.copyFile(join(COUNTER, "recorded", "counter.jsonl"), chain);
    const r = await runCli(["inspect", "--json", chain]);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.actor, "counter");
    assert.equal(s.intact, true);
    assert.equal(s.types["message.in"], 4);
    const text = await Deno.readTextFile(chain);
    await Deno.writeTextFile(chain, text.replace('"n":41', '"n":42'));
    const bad = await runCli(["inspect", chain]);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /intact +false/);
  });
});
