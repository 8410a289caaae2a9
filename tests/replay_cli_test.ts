// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import { readEvents, sha256Hex } from "../chain/mod.ts";
import { buildWatComponent } from "../runtime/mod.ts";
import { runCli, withTempDir } from "./_helpers.ts";

const COUNTER = new URL("../examples/counter/", import.meta.url).pathname;

async function record(dir: string): Promise<string> {
  const r = await runCli([
    "run",
    join(COUNTER, "manifest.json"),
    "--chain-dir",
    dir,
    "--quiet",
  ], { stdin: '"inc"\n"roll"\n{"op":"add","n":3}\n"get"\n"inc"\n' });
  assert.equal(r.code, 0, r.stderr);
  return join(dir, "counter.jsonl");
}

/** The counter built with `from` replaced by `to` in its WAT source. */
async function changedCounter(
  dir: string,
  from: string,
  to: string,
): Promise<string> {
  const wat = await Deno.readTextFile(join(COUNTER, "counter.wat"));
  assert.ok(wat.includes(from), from);
  const path = join(dir, "changed.wasm");
  await Deno.writeFile(
    path,
    await buildWatComponent(path, { source: wat.replace(from, to) }),
  );
  return path;
}

Deno.test("replay: a recorded run replays to the same head (exit 0)", async () => {
  await withTempDir(async (dir) => {
    const chain = await record(dir);
    const v = await runCli(["verify", chain]);
    const head = v.stdout.match(/head ([0-9a-f]{64})/)![1];
    const r = await runCli(["replay", chain, "--search", COUNTER]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`same head ${head}`));
    const dirRun = await runCli(["replay", dir, "--search", COUNTER, "--json"]);
    assert.equal(dirRun.code, 0, dirRun.stderr);
    assert.equal(JSON.parse(dirRun.stdout)[0].ok, true);
  });
});

Deno.test("replay: a changed component diverges (exit 1), tampering is refused", async () => {
  await withTempDir(async (dir) => {
    const chain = await record(dir);
    // "inc" adds 2: the first inc logs another count.
    const path = await changedCounter(
      dir,
      "(local.set $count (i64.add (local.get $count) (i64.const 1)))",
      "(local.set $count (i64.add (local.get $count) (i64.const 2)))",
    );
    const r = await runCli(["replay", chain, "--component", path]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /counter\.jsonl:4: replay diverges at seq 3: the guest diverged: host call 1: expected log\("count is now 1"\), got log\("count is now 2"\)/,
    );
    const text = await Deno.readTextFile(chain);
    await Deno.writeTextFile(chain, text.replace('"n":3', '"n":4'));
    const t = await runCli(["replay", chain, "--search", COUNTER]);
    assert.equal(t.code, 1);
    assert.match(
      t.stderr,
      /refusing to replay a chain that does not verify: hash mismatch/,
    );
    const none = await runCli(["replay", join(dir, "nope.jsonl")]);
    assert.equal(none.code, 2);
  });
});

Deno.test("state --at matches the counter's history at every event", async () => {
  await withTempDir(async (dir) => {
    const chain = await record(dir);
    let count: number | null = null;
    let n = 0;
    const expectations: [number, number | null][] = [];
    for await (const e of readEvents(chain)) {
      if (e.type === "message.in") {
        const msg = e.data.msg;
        if (msg === "inc") n += 1;
        if (typeof msg === "object" && msg && "n" in msg) n += Number(msg.n);
      }
      if (e.type === "actor.init") count = 0;
      if (e.type === "handle.ok") count = n;
      expectations.push([e.seq, count]);
    }
    for (const [seq, expected] of expectations) {
      const r = await runCli(["state", chain, "--at", String(seq)]);
      assert.equal(r.code, 0, r.stderr);
      const state = JSON.parse(r.stdout);
      assert.equal(state === null ? null : state.count, expected, `seq ${seq}`);
    }
    const diff = await runCli(["state", chain, "--diff", "1", "12"]);
    assert.match(diff.stdout, /~ \$\.count: 0 -> 4/);
  });
});

Deno.test("replay: the TypeScript kv example replays to the same head", async () => {
  await withTempDir(async (dir) => {
    const kv = new URL("../examples/kv/", import.meta.url).pathname;
    const r = await runCli([
      "run",
      join(kv, "manifest.json"),
      "--chain-dir",
      dir,
      "--quiet",
      "--send",
      '{"op":"put","key":"a","value":[1,2]}',
      "--send",
      '{"op":"get","key":"a"}',
      "--send",
      '{"op":"keys"}',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const replay = await runCli(["replay", dir, "--search", kv]);
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(replay.stdout, /kv\.jsonl: replayed \d+ events, same head/);
  });
});

Deno.test("replay: a run keeps its components by hash, so replay survives a rebuild", async () => {
  await withTempDir(async (dir) => {
    // The project: a copy of the counter, rebuilt (changed) after the run.
    const project = join(dir, "project");
    await Deno.mkdir(project);
    for (const f of ["manifest.json", "counter.wasm"]) {
      await Deno.copyFile(join(COUNTER, f), join(project, f));
    }
    const chains = join(project, "chains");
    const r = await runCli([
      "run",
      join(project, "manifest.json"),
      "--send",
      '"inc"',
      "--quiet",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const ran = sha256Hex(await Deno.readFile(join(project, "counter.wasm")));
    const kept = join(chains, "components", `${ran}.wasm`);
    assert.equal(sha256Hex(await Deno.readFile(kept)), ran);
    const rebuilt = await buildWatComponent(join(COUNTER, "counter.wat"), {
      // Same length, other bytes: another build of the "same" actor.
      source: (await Deno.readTextFile(join(COUNTER, "counter.wat")))
        .replace('"count is now "', '"count is at: "'),
    });
    await Deno.writeFile(join(project, "counter.wasm"), rebuilt);
    // From elsewhere, with no --search: the kept copy is found.
    const replay = await runCli(["replay", chains], { cwd: dir });
    assert.equal(replay.code, 0, replay.stderr + replay.stdout);
    assert.match(replay.stdout, /same head/);
    // The run directory with its components folder still verifies.
    assert.equal((await runCli(["verify", chains])).code, 0);
    // A second run keeps the rebuilt component beside the first.
    await runCli(["run", join(project, "manifest.json"), "--quiet"]);
    const names = (await Array.fromAsync(
      Deno.readDir(join(chains, "components")),
    )).map((e) => e.name).sort();
    assert.deepEqual(
      names,
      [`${ran}.wasm`, `${sha256Hex(rebuilt)}.wasm`].sort(),
    );
  });
});

Deno.test("replay: a divergence names the input and diffs state and reply path by path", async () => {
  await withTempDir(async (dir) => {
    const chain = await record(dir);
    // Same host calls, another state: "at" is the time plus one.
    const path = await changedCounter(
      dir,
      "(call $json (local.get $count) (call $now) (i32.const 1))",
      "(call $json (local.get $count) (i64.add (call $now) (i64.const 1)) (i32.const 1))",
    );
    const r = await runCli(["replay", chain, "--component", path]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /replay diverges at seq 4: handle\.ok/);
    assert.match(
      r.stderr,
      /in the step of seq 2, message\.in: from external: "inc"/,
    );
    const at = r.stderr.match(/~ \$\.at: (\d+) -> (\d+)/);
    assert.ok(at, r.stderr);
    assert.equal(Number(at[2]), Number(at[1]) + 1);
    const json = await runCli(["replay", chain, "--component", path, "--json"]);
    const d = JSON.parse(json.stdout).divergence;
    assert.equal(d.input.seq, 2);
    assert.deepEqual(d.state, [at[0]]);
    assert.deepEqual(d.reply, []);
  });
});
