// Copyright the Theater authors. MIT license.
// The commands that read chains, given what a hostile user would give
// them: a FIFO or a link where a chain should be, an empty run directory,
// a chain with one line far over the limit.
import assert from "node:assert/strict";
import { join } from "node:path";
import { ChainWriter, MAX_LINE_BYTES } from "../chain/mod.ts";
import { runCli, THEATER_FLAGS, withTempDir } from "./_helpers.ts";

/** Bounds a command that would block on a FIFO: a hang, not a time. */
const HANG = { timeoutMs: 120_000 };
const MiB = 1024 * 1024;
/** Old space for a run that must not hold a line of 48 MiB, in MiB. */
const SMALL_HEAP_MB = 32;

/** A valid chain of two events at `path`. */
async function chain(path: string): Promise<void> {
  const w = await ChainWriter.open(path, { actor: "a", fsync: "none" });
  await w.append("actor.start", {
    component: "00".repeat(32),
    manifest: { name: "a" },
    params: null,
    link: null,
  }, { ts: 1 });
  await w.append("actor.init", { state: { n: 0 } }, { ts: 2 });
  await w.close();
}

async function mkfifo(path: string): Promise<boolean> {
  return (await new Deno.Command("mkfifo", { args: [path] }).output()).success;
}

Deno.test({
  name:
    "read commands: a FIFO, or a link, where a chain should be is refused naming it (exit 2), in a run directory too",
  ignore: Deno.build.os === "windows",
  async fn() {
    await withTempDir(async (dir) => {
      const fifo = join(dir, "fifo.jsonl");
      assert.ok(await mkfifo(fifo), "mkfifo");
      for (
        const args of [
          ["events", fifo],
          ["events", "--json", fifo],
          ["state", fifo, "--at", "0"],
          ["state", fifo, "--diff", "0", "1"],
          ["inspect", fifo],
          ["verify", fifo],
          ["replay", fifo],
        ]
      ) {
        const r = await runCli(args, HANG);
        assert.equal(r.killed, false, `${args.join(" ")} blocked on the FIFO`);
        assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
        assert.ok(r.stderr.includes(fifo), `${args.join(" ")}: ${r.stderr}`);
        assert.match(r.stderr, /not a regular file/);
      }
      // A run directory: a good chain beside a FIFO, or beside a link.
      for (const kind of ["fifo", "link"]) {
        const run = join(dir, kind);
        await Deno.mkdir(run);
        await chain(join(run, "a.jsonl"));
        const odd = join(run, "b.jsonl");
        if (kind === "fifo") assert.ok(await mkfifo(odd));
        else await Deno.symlink(join(run, "a.jsonl"), odd);
        for (const command of ["events", "verify", "replay"]) {
          const r = await runCli([command, run], HANG);
          assert.equal(r.killed, false, `${command} ${kind}`);
          assert.equal(r.code, 2, `${command} ${kind}: ${r.stderr}`);
          assert.ok(
            r.stderr.includes(`${odd}: not a regular file`),
            `${command} ${kind}: ${r.stderr}`,
          );
          assert.equal(r.stdout, "", `${command} ${kind}: shown anyway`);
        }
      }
      // An empty run directory is not a timeline of nothing.
      const empty = join(dir, "empty");
      await Deno.mkdir(empty);
      const r = await runCli(["events", empty]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /empty: no chains \(\*\.jsonl\) in directory/);
    });
  },
});

Deno.test("state --at: a line far over the limit is refused by file and line, within a heap smaller than the line", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "big.jsonl");
    await chain(path);
    // A JSON document of three times the limit: parsed, its one string
    // alone would not fit the heap the command runs in here.
    const head = new TextEncoder().encode('{"seq":2,"x":"');
    const tail = new TextEncoder().encode('"}\n');
    const body = 3 * MAX_LINE_BYTES;
    const length = head.length + body + tail.length - 1;
    {
      using f = await Deno.open(path, { append: true });
      await f.write(head);
      const block = new Uint8Array(MiB).fill(0x61);
      for (let n = 0; n < body / MiB; n++) await f.write(block);
      await f.write(tail);
    }
    const flags = [`--v8-flags=--max-old-space-size=${SMALL_HEAP_MB}`];
    for (const at of ["1", "2", "9"]) {
      const r = await runCli(["state", path, "--at", at], {
        flags: [...flags, ...THEATER_FLAGS],
      });
      if (at === "1") {
        // Event 1 is found without reading the line after it.
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(JSON.parse(r.stdout), { n: 0 });
        continue;
      }
      assert.equal(
        r.stderr.trim(),
        `${path}:3: line is ${length} bytes, over the limit of ${MAX_LINE_BYTES}`,
        `state --at ${at}`,
      );
      assert.equal(r.code, 1);
    }
  });
});
