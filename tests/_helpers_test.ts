// Copyright the Theater authors. MIT license.
// runCli signals a run on an event it printed, never after a fixed time.
import assert from "node:assert/strict";
import { join } from "node:path";
import { jsonLines, runCli, withTempDir, writeJson } from "./_helpers.ts";

const COUNTER = new URL("../examples/counter/counter.wasm", import.meta.url)
  .pathname;

async function counter(dir: string): Promise<string> {
  await Deno.copyFile(COUNTER, join(dir, "counter.wasm"));
  await writeJson(dir, "m.json", {
    name: "c",
    component: "./counter.wasm",
    chain: { fsync: "none" },
  });
  return join(dir, "m.json");
}

Deno.test("runCli: signalWhen sends the signal after the Nth matching line, and a writer may wait for lines", async () => {
  await withTempDir(async (dir) => {
    const m = await counter(dir);
    const r = await runCli(["run", m, "--quiet"], {
      stdin: async (write, run) => {
        // One line at a time, each after the reply to the one before.
        for (let i = 1; i <= 50; i++) {
          await write('"inc"\n');
          await run.stdout.count((l) => l.startsWith("{"), i, `reply ${i}`)
            .catch(() => {});
        }
      },
      holdStdin: true,
      signal: "SIGKILL",
      signalWhen: { stdout: /"count":5\b/ },
      timeoutMs: 60_000,
    });
    assert.ok(r.signalled, r.signalError ?? r.stderr);
    assert.equal(r.killed, false);
    const counts = jsonLines(r.stdout).map((l) =>
      (l.reply as { count: number }).count
    );
    // Killed after the fifth reply: the writer waited for each reply, so
    // at most the sixth line was in flight.
    assert.ok(counts.length >= 5 && counts.length <= 6, `${counts}`);
    assert.deepEqual(counts.slice(0, 5), [1, 2, 3, 4, 5]);
  });
});

Deno.test("runCli: a run that ends before signalWhen's line is not signalled, and says why", async () => {
  await withTempDir(async (dir) => {
    const m = await counter(dir);
    const r = await runCli(["run", m, "--quiet"], {
      stdin: '"inc"\n',
      signal: "SIGTERM",
      signalWhen: { stdout: /"count":2\b/ },
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.signalled, false);
    assert.match(String(r.signalError), /stream ended before line 1 matching/);
  });
});

Deno.test("runCli: a signalWhen function that fails kills the run and reports it", async () => {
  await withTempDir(async (dir) => {
    const m = await counter(dir);
    const r = await runCli(["run", m, "--quiet"], {
      stdin: '"inc"\n',
      holdStdin: true,
      signal: "SIGTERM",
      signalWhen: async ({ stdout }) => {
        await stdout.until((l) => l.includes('"count":1'), "the first reply");
        throw new Error("the test saw something wrong");
      },
      timeoutMs: 60_000,
    });
    assert.equal(r.signalled, false);
    assert.equal(r.killed, false);
    assert.notEqual(r.code, 0);
    assert.equal(r.signalError, "the test saw something wrong");
  });
});
