// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type ChainEvent, eventLine, sealEvent } from "../chain/mod.ts";
import { runCli, withTempDir } from "./_helpers.ts";

const SAMPLE = new URL("../examples/sample/", import.meta.url).pathname;

async function copySample(dir: string): Promise<void> {
  for (const name of ["counter.jsonl", "logger.jsonl"]) {
    await Deno.copyFile(join(SAMPLE, name), join(dir, name));
  }
}

Deno.test("verify: an intact chain exits 0 and names its head", async () => {
  const r = await runCli(["verify", join(SAMPLE, "counter.jsonl")]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /counter\.jsonl: ok, 15 events, head [0-9a-f]{64}/);
  assert.equal(r.stderr, "");
});

Deno.test("verify: a run directory checks chains and cross-links", async () => {
  const r = await runCli(["verify", SAMPLE]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /ok, 2 chains, 4 cross-chain links/);
});

Deno.test("verify: a tampered chain exits 1 naming file, line and reason", async () => {
  await withTempDir(async (dir) => {
    await copySample(dir);
    const path = join(dir, "counter.jsonl");
    const text = await Deno.readTextFile(path);
    await Deno.writeTextFile(path, text.replace('"count":2', '"count":9'));
    const r = await runCli(["verify", path]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`^${path}:9: hash mismatch \\(expected [0-9a-f]{64}, got`),
    );
    const dirRun = await runCli(["verify", dir]);
    assert.equal(dirRun.code, 1);
    assert.match(dirRun.stderr, /counter\.jsonl:9: hash mismatch/);
  });
});

Deno.test("verify --json reports file, events, head, ok and the error", async () => {
  await withTempDir(async (dir) => {
    await copySample(dir);
    const path = join(dir, "logger.jsonl");
    const lines = (await Deno.readTextFile(path)).split("\n");
    lines.splice(3, 1);
    await Deno.writeTextFile(path, lines.join("\n"));
    const r = await runCli(["verify", "--json", path]);
    assert.equal(r.code, 1);
    const report = JSON.parse(r.stdout);
    assert.equal(report.ok, false);
    assert.equal(report.file, path);
    assert.equal(report.events, 3);
    assert.match(report.head, /^[0-9a-f]{64}$/);
    assert.deepEqual(
      [report.error.line, report.error.reason],
      [4, "seq-gap"],
    );
    const ok = await runCli(["verify", "--json", SAMPLE]);
    assert.equal(ok.code, 0);
    assert.equal(JSON.parse(ok.stdout).ok, true);
  });
});

Deno.test("verify: a dangling cross-link in a directory exits 1", async () => {
  await withTempDir(async (dir) => {
    await copySample(dir);
    // Drop the counter's tail so the logger's links point past it.
    const path = join(dir, "counter.jsonl");
    const lines = (await Deno.readTextFile(path)).split("\n");
    await Deno.writeTextFile(path, lines.slice(0, 8).join("\n") + "\n");
    const r = await runCli(["verify", dir]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /logger\.jsonl:5: link to counter event [0-9a-f]{64} not found/,
    );
  });
});

Deno.test("verify: unreadable input exits 2 with one line, no stack trace", async () => {
  await withTempDir(async (dir) => {
    const cases: [string[], RegExp][] = [
      [
        [join(dir, "missing.jsonl")],
        /missing\.jsonl: cannot read: no such file/,
      ],
      [[dir], /no chains \(\*\.jsonl\) in directory/],
      [[], /exactly one chain file or directory/],
      [["--bogus", "x"], /unknown option --bogus/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(["verify", ...args]);
      assert.equal(r.code, 2, args.join(" "));
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    }
  });
});

Deno.test("verify: garbage and a 100 MB single line fail cleanly", async () => {
  await withTempDir(async (dir) => {
    const garbage = join(dir, "garbage.jsonl");
    const bytes = new Uint8Array(4096);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) % 256;
    await Deno.writeFile(garbage, bytes);
    const g = await runCli(["verify", garbage]);
    assert.equal(g.code, 2);
    assert.match(g.stderr, /garbage\.jsonl: not a chain: binary data/);
    // Text that is not a chain is a bad first line.
    await Deno.writeTextFile(garbage, "hello\n");
    const t = await runCli(["verify", garbage]);
    assert.equal(t.code, 1);
    assert.match(t.stderr, /garbage\.jsonl:1: bad JSON/);

    const big = join(dir, "big.jsonl");
    const file = await Deno.open(big, { write: true, create: true });
    const block = new TextEncoder().encode("x".repeat(1 << 20));
    for (let i = 0; i < 100; i++) await file.write(block);
    await file.write(new TextEncoder().encode("\n"));
    file.close();
    const b = await runCli(["verify", big]);
    assert.equal(b.code, 1);
    assert.match(
      b.stderr,
      /big\.jsonl:1: line is 104857600 bytes, over the limit of 16777216/,
    );
  });
});

/**
 * A kv run of `puts` puts in `dir` (its state grows, so the recorder
 * writes patches); returns the chain's path and events.
 */
async function kvRun(
  dir: string,
  puts: number,
): Promise<{ path: string; events: ChainEvent[] }> {
  const kv = new URL("../examples/kv/", import.meta.url).pathname;
  const stdin = Array.from(
    { length: puts },
    (_, i) =>
      JSON.stringify({ op: "put", key: `k${i}`, value: `v${i}` }) + "\n",
  ).join("");
  const r = await runCli([
    "run",
    join(kv, "manifest.json"),
    "--chain-dir",
    dir,
    "--fsync",
    "none",
    "--quiet",
  ], { stdin });
  assert.equal(r.code, 0, r.stderr);
  const path = join(dir, "kv.jsonl");
  const text = await Deno.readTextFile(path);
  return {
    path,
    events: text.slice(0, -1).split("\n").map((l) => JSON.parse(l)),
  };
}

/**
 * Writes `events` with event `at` changed by `change` and every event from
 * it on sealed again (a chain re-hashed after the change: each line's
 * hash and parent right).
 */
async function rehashed(
  path: string,
  events: ChainEvent[],
  at: number,
  change: (data: ChainEvent["data"]) => void,
): Promise<void> {
  const out = events.map((e) => structuredClone(e));
  change(out[at].data);
  for (let i = at; i < out.length; i++) {
    const { hash: _hash, ...body } = out[i];
    out[i] = sealEvent({ ...body, parent: i === 0 ? null : out[i - 1].hash });
  }
  await Deno.writeTextFile(path, out.map((e) => eventLine(e) + "\n").join(""));
}

Deno.test("verify: a re-hashed chain whose patch misses its state_hash exits 1 naming the line and bad-state; --no-state exits 0", async () => {
  await withTempDir(async (dir) => {
    const { path, events } = await kvRun(dir, 12);
    const ok = await runCli(["verify", dir]);
    assert.equal(ok.code, 0, ok.stderr);
    const patches = events.flatMap((e, i) =>
      e.type === "handle.patch" ? [i] : []
    );
    assert.ok(patches.length >= 5, `${patches.length} patches`);
    const at = patches[3];
    type Op = { op: string; value?: unknown };
    const mutations: [string, (data: ChainEvent["data"]) => void][] = [
      ["changed op value", (data) => {
        const op = (data.patch as Op[]).find((o) => "value" in o)!;
        op.value = "forged";
      }],
      ["dropped op", (data) => {
        (data.patch as Op[]).pop();
      }],
      ["changed state_hash", (data) => {
        data.state_hash = "0".repeat(64);
      }],
    ];
    for (const [what, change] of mutations) {
      await rehashed(path, events, at, change);
      const r = await runCli(["verify", path]);
      assert.equal(r.code, 1, `${what}: ${r.stdout}${r.stderr}`);
      assert.match(
        r.stderr,
        new RegExp(`^${path}:${at + 1}: seq ${at}: .*state_hash`),
        what,
      );
      const json = await runCli(["verify", "--json", dir]);
      assert.equal(json.code, 1, what);
      const report = JSON.parse(json.stdout);
      assert.deepEqual(
        [report.error.file, report.error.line, report.error.reason],
        [path, at + 1, "bad-state"],
        what,
      );
      const skip = await runCli(["verify", "--no-state", path]);
      assert.equal(skip.code, 0, `${what}: ${skip.stderr}`);
      const skipDir = await runCli(["verify", "--no-state", dir]);
      assert.equal(skipDir.code, 0, `${what}: ${skipDir.stderr}`);
    }
  });
});

Deno.test("verify <run dir>: a component altered under components/ exits 1 naming the file", async () => {
  await withTempDir(async (dir) => {
    await kvRun(dir, 1);
    const folder = join(dir, "components");
    const [name] = [...Deno.readDirSync(folder)].map((e) => e.name);
    assert.match(name, /^[0-9a-f]{64}\.wasm$/);
    const ok = await runCli(["verify", dir]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /1 component in components\//);
    const bytes = await Deno.readFile(join(folder, name));
    bytes[bytes.length - 1] ^= 1;
    await Deno.writeFile(join(folder, name), bytes);
    const r = await runCli(["verify", dir]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(
        `^${
          join(folder, name)
        }: component's bytes do not have the SHA-256 it is named by`,
      ),
    );
  });
});

Deno.test("every command answers --help and theater --help lists them", async () => {
  const top = await runCli(["--help"]);
  assert.equal(top.code, 0);
  for (
    const name of ["run", "verify", "replay", "events", "state", "inspect"]
  ) {
    assert.match(top.stdout, new RegExp(`^  ${name} `, "m"));
    const r = await runCli([name, "--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`^Usage: theater ${name}`));
  }
  const unknown = await runCli(["frobnicate"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command 'frobnicate'/);
});

Deno.test("events: shows a filtered timeline and JSON lines", async () => {
  const path = join(SAMPLE, "counter.jsonl");
  const r = await runCli(["events", path, "--type", "message", "--from", "3"]);
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout.trim().split("\n");
  assert.equal(rows.length, 5);
  assert.ok(rows.every((row) => / message\.(in|out) /.test(row)));
  const j = await runCli(["events", path, "--json", "--to", "1"]);
  const events = j.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(events.map((e) => e.type), ["actor.start", "actor.init"]);
  const bad = await runCli(["events", path, "--from", "x"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--from must be a non-negative integer/);
});
