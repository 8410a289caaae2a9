// Copyright the Theater authors. MIT license.
// The error cases of issue "everyday use", point 5, each as a user meets it.
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli, THEATER_FLAGS, withTempDir } from "./_helpers.ts";

const COUNTER = new URL("../examples/counter/", import.meta.url).pathname;

/** A counter run directory with one handled message (seq 0..6). */
async function counterRun(dir: string): Promise<string> {
  const chains = join(dir, "chains");
  const r = await runCli([
    "run",
    join(COUNTER, "manifest.json"),
    "--chain-dir",
    chains,
    "--send",
    '"inc"',
    "--quiet",
  ]);
  assert.equal(r.code, 0, r.stderr);
  return chains;
}

Deno.test("errors: state and events past the end of a chain exit 1 and say how far it goes", async () => {
  await withTempDir(async (dir) => {
    const chains = await counterRun(dir);
    const chain = join(chains, "counter.jsonl");
    let r = await runCli(["state", chain, "--at", "999"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no event 999: the chain has events 0 to 5/);
    assert.equal(r.stdout, "");
    r = await runCli(["state", chains, "--at", "1"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /chains: cannot read: is not a regular file/);
    assert.doesNotMatch(r.stderr, /os error/);
  });
});

Deno.test("errors: verify of a component is 'not a chain', exit 2, no raw bytes", async () => {
  const r = await runCli(["verify", join(COUNTER, "counter.wasm")]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /counter\.wasm: not a chain: a WebAssembly file/);
  assert.doesNotMatch(r.stdout + r.stderr, /\0/);
});

Deno.test("errors: option mistakes are explained in our words (exit 2)", async () => {
  await withTempDir(async (dir) => {
    const chains = await counterRun(dir);
    const chain = join(chains, "counter.jsonl");
    let r = await runCli(["events", chain, "--bogus"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option --bogus/);
    assert.doesNotMatch(r.stderr, /as in '--/);
    r = await runCli(["state", chain, "--at", "-1"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--at needs a value \(.*--at=VALUE\)/);
    assert.doesNotMatch(r.stderr, /ambiguous/);
    r = await runCli([
      "verify",
      chain,
      "--checkpoint",
      "a.cp",
      "--checkpoint",
      "b.cp",
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--checkpoint given twice/);
    r = await runCli([
      "run",
      join(COUNTER, "manifest.json"),
      "--chain-dir",
      chains,
      "--send",
      "inc",
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /a JSON string needs its quotes: --send '"inc"'/);
  });
});

Deno.test("errors: a message to no such actor is a JSON line on stdout too", async () => {
  await withTempDir(async (dir) => {
    const r = await runCli([
      "run",
      join(COUNTER, "manifest.json"),
      "--chain-dir",
      join(dir, "chains"),
      "--quiet",
    ], { stdin: '{"to":"nobody","msg":1}\n"inc"\n' });
    assert.equal(r.code, 1);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines[0], {
      input: "stdin:1",
      actor: "nobody",
      error: 'no actor "nobody" is running',
    });
    assert.deepEqual(lines[1], { actor: "counter", reply: { count: 1 } });
  });
});

Deno.test("errors: keygen never overwrites a key and says so; OS errors are wrapped", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "alice");
    assert.equal((await runCli(["keygen", "--out", out])).code, 0);
    let r = await runCli(["keygen", "--out", out]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /alice\.key already exists; a key is never overwritten/,
    );
    r = await runCli(["keygen", "--out", join(dir, "no", "such", "k")]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot write .*k\.key: no such file or directory/);
    assert.doesNotMatch(r.stderr, /os error/);
  });
});

Deno.test("errors: build names a missing directory, manifest or permission (exit 2)", async () => {
  await withTempDir(async (dir) => {
    let r = await runCli(["build", join(dir, "nonexistent")]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /nonexistent: no such directory/);
    r = await runCli(["build", dir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no manifest\.json here/);
    await Deno.writeTextFile(join(dir, "manifest.json"), "{}");
    r = await runCli(["build", dir], { flags: THEATER_FLAGS });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /build needs --allow-run and --allow-ffi/);
  });
});

Deno.test("errors: OS errors say what was being done to which path, without the OS's tail", async () => {
  await withTempDir(async (dir) => {
    const chains = await counterRun(dir);
    const chain = join(chains, "counter.jsonl");
    let r = await runCli(["checkpoint", chain, "--key", join(dir, "nope.key")]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /cannot read .*nope\.key: no such file or directory/,
    );
    r = await runCli([
      "prove",
      chain,
      "--event",
      "1",
      "--out",
      join(dir, "no", "p.json"),
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot write .*p\.json: no such file or directory/);
    for (const text of [r.stderr]) assert.doesNotMatch(text, /os error/);
  });
});
