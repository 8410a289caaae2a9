// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
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
