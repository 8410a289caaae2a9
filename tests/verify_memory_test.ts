// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli, withTempDir, writeBigChain } from "./_helpers.ts";

// 200,000 events are about 60 MB of lines: a verifier that kept lines,
// events or hashes would not fit in a 24 MB V8 old space and would abort.
Deno.test("verify streams a 200,000-event chain in a 24 MB heap", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "big.jsonl");
    await writeBigChain(path, 200_000);
    const size = (await Deno.stat(path)).size;
    assert.ok(size > 50e6, `chain is ${size} bytes`);
    const r = await runCli(["verify", path], {
      flags: ["--allow-read", "--v8-flags=--max-old-space-size=24"],
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ok, 200000 events/);
  });
});

// Rebuilding the states holds one state per range, not the chain: a
// 200,000-event chain of patches is checked, state_hash by state_hash, in
// the same heap.
Deno.test("verify rebuilds the states of a 200,000-event chain of patches in a 24 MB heap", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "big.jsonl");
    await writeBigChain(path, 200_000, { patches: true });
    const size = (await Deno.stat(path)).size;
    assert.ok(size > 40e6, `chain is ${size} bytes`);
    const r = await runCli(["verify", "--json", path], {
      flags: ["--allow-read", "--v8-flags=--max-old-space-size=24"],
    });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.ok, true);
    assert.equal(report.events, 200_000);
  });
});
