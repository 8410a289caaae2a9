// Copyright the Theater authors. MIT license.
// Resume: a run on a run directory with chains continues them, and a crash
// at any point loses nothing that was acknowledged.
import assert from "node:assert/strict";
import { join } from "node:path";
import { ChainWriter, verifyPath } from "../chain/mod.ts";
import { buildTestComponent } from "../runtime/testdata/components.ts";
import { buildHostile } from "./testdata/hostile.ts";
import {
  addressed,
  chainEvents,
  jsonLines,
  runCli,
  withTempDir,
  writeJson,
} from "./_helpers.ts";

const COUNTER = new URL("../examples/counter/counter.wasm", import.meta.url)
  .pathname;

const eventsOf = chainEvents;

const replies = jsonLines;

const to = addressed;

Deno.test("resume: a supervision tree with a spawned child comes back with the same tree and states", async () => {
  await withTempDir(async (dir) => {
    await buildTestComponent("supervisor", dir);
    await Deno.copyFile(COUNTER, join(dir, "counter.wasm"));
    const write = (name: string, body: unknown) => writeJson(dir, name, body);
    // The supervisor spawns ./echo.json on "s…": here, a counter.
    await write("echo.json", {
      name: "echo",
      component: "./counter.wasm",
      params: { start: 10 },
    });
    await write("a.json", { name: "a", component: "./counter.wasm" });
    await write("root.json", {
      name: "root",
      component: "./supervisor.wasm",
      chain: { fsync: "none" },
      children: [{ manifest: "./a.json" }],
    });
    const root = join(dir, "root.json");
    const first = await runCli(["run", root, "--quiet"], {
      stdin: '"spawn"\n' + to("root.echo-1", "inc") +
        to("root.echo-1", "inc") + to("root.a", "inc"),
    });
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(replies(first.stdout), [
      { actor: "root", reply: "root.echo-1" },
      { actor: "root.echo-1", reply: { count: 11 } },
      { actor: "root.echo-1", reply: { count: 12 } },
      { actor: "root.a", reply: { count: 1 } },
    ]);
    const second = await runCli(["run", root, "--quiet"], {
      stdin: to("root.echo-1", "get") + to("root.a", "get") + '"spawn"\n' +
        to("root.echo-2", "get"),
    });
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(replies(second.stdout), [
      { actor: "root.echo-1", reply: { count: 12 } },
      { actor: "root.a", reply: { count: 1 } },
      // The next spawn is named after those already made.
      { actor: "root", reply: "root.echo-2" },
      { actor: "root.echo-2", reply: { count: 10 } },
    ]);
    const chains = join(dir, "chains");
    const report = await verifyPath(chains);
    assert.equal(report.ok, true, report.error?.message);
    for (const actor of ["root", "root.a", "root.echo-1"]) {
      const types = (await eventsOf(join(chains, `${actor}.jsonl`))).map((e) =>
        e.type
      );
      assert.equal(types.filter((t) => t === "actor.resume").length, 1, actor);
      assert.equal(types.filter((t) => t === "actor.init").length, 1, actor);
    }
    const replay = await runCli(["replay", chains, "--search", dir]);
    assert.equal(replay.code, 0, replay.stdout + replay.stderr);
    assert.equal(replay.stdout.match(/same head/g)?.length, 4, replay.stdout);
  });
});

Deno.test("resume: a torn last line is cut and recorded; a tampered chain is refused", async () => {
  await withTempDir(async (dir) => {
    await Deno.copyFile(COUNTER, join(dir, "counter.wasm"));
    await Deno.writeTextFile(
      join(dir, "m.json"),
      JSON.stringify({ name: "c", component: "./counter.wasm" }),
    );
    const m = join(dir, "m.json");
    const chain = join(dir, "chains", "c.jsonl");
    assert.equal((await runCli(["run", m, "--send", '"inc"'])).code, 0);
    const torn = '{"actor":"c","data":{"from":"ext';
    await Deno.writeTextFile(chain, torn, { append: true });
    const r = await runCli(["run", m, "--send", '"get"', "--quiet"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(replies(r.stdout), [{ actor: "c", reply: { count: 1 } }]);
    const resume = (await eventsOf(chain)).find((e) =>
      e.type === "actor.resume"
    );
    assert.equal((resume?.data.cut as { bytes: number }).bytes, torn.length);
    assert.equal((await verifyPath(chain)).ok, true);
    // Altered history is not resumed: the verifier's reason, exit 2.
    const text = await Deno.readTextFile(chain);
    await Deno.writeTextFile(chain, text.replace('"count":1', '"count":9'));
    const bad = await runCli(["run", m, "--send", '"get"']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /c\.jsonl:\d+: cannot resume this chain: /);
    assert.equal(bad.stdout, "");
  });
});

/**
 * Runs the counter `rounds` times, killing it (SIGKILL) after a random
 * number of acknowledged replies while lines stream in, and checks after
 * each that every printed reply is in the chain, the chain verifies, and
 * the next run resumes from exactly the last committed state.
 */
async function killRounds(
  options: { fsync: string; window: number; rounds: number; burst: number },
): Promise<void> {
  await withTempDir(async (dir) => {
    await Deno.copyFile(COUNTER, join(dir, "counter.wasm"));
    await Deno.writeTextFile(
      join(dir, "m.json"),
      JSON.stringify({
        name: "c",
        component: "./counter.wasm",
        chain: { fsync: options.fsync },
      }),
    );
    const m = join(dir, "m.json");
    const chain = join(dir, "chains", "c.jsonl");
    let acknowledged = 0;
    const lines = 400 * options.burst;
    for (let round = 0; round < options.rounds; round++) {
      // Early in the stream: lines are still coming.
      const killAt = 1 + Math.floor(Math.random() * (lines / 8));
      const r = await runCli(
        ["run", m, "--quiet", "--window", String(options.window)],
        {
          stdin: async (write, run) => {
            // Bursts, each once the run has answered all but `ahead`
            // bursts before it: lines keep arriving, more than the window
            // ahead of the replies.
            const ahead = Math.ceil(2 * options.window / options.burst) + 1;
            for (let i = 0; i < 400; i++) {
              if (i > ahead) {
                await run.stdout.count(
                  (l) => l.startsWith("{"),
                  (i - ahead) * options.burst,
                  `the replies to ${i - ahead} bursts`,
                ).catch(() => {});
              }
              await write('"inc"\n'.repeat(options.burst));
            }
          },
          holdStdin: true,
          signal: "SIGKILL",
          signalWhen: { stdout: /^\{/, count: killAt },
          timeoutMs: 120_000,
        },
      );
      assert.ok(
        r.signalled,
        `round ${round}: not killed after reply ${killAt}: ${r.stderr}`,
      );
      const counts = replies(r.stdout).map((l) =>
        (l.reply as { count: number }).count
      );
      if (counts.length > 0) acknowledged = counts.at(-1)!;
      // Every reply that was printed is in the chain.
      const next = await runCli(["run", m, "--send", '"get"', "--quiet"]);
      assert.equal(next.code, 0, `round ${round}: ${next.stderr}`);
      const [got] = replies(next.stdout);
      const count = (got.reply as { count: number }).count;
      assert.ok(
        count >= acknowledged,
        `round ${round}: resumed at ${count}, ${acknowledged} was acknowledged`,
      );
      acknowledged = count;
      const report = await verifyPath(chain);
      assert.equal(report.ok, true, report.error?.message);
      // And it resumed exactly the last committed state.
      const events = await eventsOf(chain);
      const resumed = events.findLastIndex((e) => e.type === "actor.resume");
      const committed = events.slice(0, resumed).findLast((e) =>
        e.type === "handle.ok" || e.type === "actor.init"
      );
      assert.equal(
        (committed?.data.state as { count: number }).count,
        count,
        `round ${round}`,
      );
    }
    assert.ok(acknowledged > 0);
  });
}

Deno.test("resume: kill -9 at 20 random points loses no acknowledged reply, and the next run resumes", async () => {
  await killRounds({ fsync: "every-event", window: 1, rounds: 20, burst: 1 });
});

Deno.test("resume: the same with group commit and lines running ahead (batch, --window 32)", async () => {
  await killRounds({ fsync: "batch", window: 32, rounds: 10, burst: 8 });
});

Deno.test("lifecycle: send(b, msg) then stop(b) in one handler: b gets the message first, and it replays", async () => {
  await withTempDir(async (dir) => {
    await buildHostile("send-then-stop", dir);
    await buildHostile("echo", dir);
    const write = (name: string, body: unknown) => writeJson(dir, name, body);
    await write("b.json", { name: "b", component: "./echo.wasm" });
    await write("root.json", {
      name: "root",
      component: "./send-then-stop.wasm",
      children: [{ manifest: "./b.json" }],
    });
    const r = await runCli(["run", join(dir, "root.json"), "--quiet"], {
      stdin: '"root.b"\n',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(replies(r.stdout), [{ actor: "root", reply: "sent" }]);
    const chains = join(dir, "chains");
    const b = (await eventsOf(join(chains, "root.b.jsonl"))).map((e) =>
      `${e.type}${
        e.type === "message.in" ? ` ${JSON.stringify(e.data.msg)}` : ""
      }`
    );
    assert.deepEqual(b.slice(-3), [
      'message.in "ping"',
      "handle.ok",
      "actor.stop",
    ]);
    const report = await verifyPath(chains);
    assert.equal(report.ok, true, report.error?.message);
    const replay = await runCli(["replay", chains, "--search", dir]);
    assert.equal(replay.code, 0, replay.stdout + replay.stderr);
  });
});

Deno.test("resume: a chain whose patches do not lead to their state_hash is refused", async () => {
  await withTempDir(async (dir) => {
    await Deno.copyFile(COUNTER, join(dir, "counter.wasm"));
    await writeJson(dir, "m.json", { name: "c", component: "./counter.wasm" });
    await Deno.mkdir(join(dir, "chains"));
    // Well sealed (it verifies), but the patch's state_hash is wrong.
    const w = await ChainWriter.open(join(dir, "chains", "c.jsonl"), {
      actor: "c",
      fsync: "none",
    });
    await w.append("actor.init", { state: { count: 1 } });
    await w.append("handle.patch", {
      patch: [{ op: "replace", path: "/count", value: 2 }],
      reply: null,
      state_hash: "00".repeat(32),
    });
    await w.close();
    const r = await runCli(["run", join(dir, "m.json"), "--send", '"get"']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /cannot resume .*c\.jsonl: .*the patched state does not have the recorded state_hash/,
    );
    assert.equal(r.stdout, "");
  });
});
