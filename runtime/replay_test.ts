// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type ChainEvent,
  eventLine,
  hostCallsOf,
  readEvents,
  sealEvent,
  verifyChain,
} from "../chain/mod.ts";
import { loadManifest } from "../supervisor/manifest.ts";
import { ActorSystem } from "../supervisor/system.ts";
import { buildWatComponent } from "./build_wat.ts";
import { assertReplays, replayChain, ReplayError } from "./replay.ts";
import { WorkerPool } from "./executor.ts";
import { withTempDir } from "../tests/_helpers.ts";

const COUNTER = new URL("../examples/counter/", import.meta.url).pathname;

/** Records a counter run that uses log, now and random into `dir`. */
async function recordCounter(dir: string): Promise<string> {
  const system = new ActorSystem({ chainDir: dir, fsync: "none" });
  await system.start(await loadManifest(join(COUNTER, "manifest.json")));
  for (
    const msg of ["inc", { op: "add", n: 4 }, "roll", "get", "bogus", "roll"]
  ) {
    await system.send("counter", msg);
  }
  await system.shutdown("test over");
  return join(dir, "counter.jsonl");
}

Deno.test("replay reproduces a recorded run byte for byte", async () => {
  await withTempDir(async (dir) => {
    const chain = await recordCounter(dir);
    const types = new Set<string>();
    const forms = new Set<string>();
    for await (const e of readEvents(chain)) {
      for (const call of hostCallsOf(e)) types.add(call.function);
      if (e.type.startsWith("host.")) forms.add(e.type);
    }
    assert.deepEqual([...types].sort(), ["log", "now", "random"]);
    // A step's calls to one interface are one event (format version 4).
    assert.deepEqual([...forms].sort(), ["host.call", "host.calls"]);
    const report = await replayChain(chain, { search: [COUNTER] });
    assert.equal(report.ok, true, report.divergence?.detail);
    const verified = await verifyChain(chain);
    assert.equal(report.head, verified.head);
    assert.equal(report.events, verified.events);
    await assertReplays(chain, { search: [COUNTER] });
  });
});

Deno.test("replay with a changed constant names the first divergent event", async () => {
  await withTempDir(async (dir) => {
    const chain = await recordCounter(dir);
    const wat = await Deno.readTextFile(join(COUNTER, "counter.wat"));
    const changed = wat.replace('"count is now "', '"count is at: "');
    assert.notEqual(changed, wat);
    const path = join(dir, "changed.wasm");
    await Deno.writeFile(
      path,
      await buildWatComponent(path, { source: changed }),
    );
    const report = await replayChain(chain, { component: path });
    assert.equal(report.ok, false);
    const d = report.divergence!;
    // actor.start, actor.init, message.in match; the first log differs.
    assert.equal(d.seq, 3);
    assert.equal(d.expected?.type, "host.calls");
    assert.equal(d.actual?.type, "handle.error");
    assert.match(
      d.detail,
      /host call 1: expected log\("count is now 1"\), got log\("count is at: 1"\)/,
    );
    await assert.rejects(
      assertReplays(chain, { component: path }),
      /replay diverges at seq 3/,
    );
  });
});

Deno.test("replay refuses a tampered chain with the verify error", async () => {
  await withTempDir(async (dir) => {
    const chain = await recordCounter(dir);
    const text = await Deno.readTextFile(chain);
    await Deno.writeTextFile(chain, text.replace('"op":"add"', '"op":"sub"'));
    await assert.rejects(
      replayChain(chain, { search: [COUNTER] }),
      (e) =>
        e instanceof ReplayError && e.reason === "not-intact" &&
        /counter\.jsonl:\d+: refusing to replay .*hash mismatch/.test(
          e.message,
        ),
    );
  });
});

Deno.test("replay without the component says where it looked", async () => {
  await withTempDir(async (dir) => {
    // Two levels down, so that the chain's parent holds nothing else.
    const runDir = join(dir, "run", "chains");
    const chain = await recordCounter(runDir);
    // The run kept a copy by hash; without it, and far from any copy of
    // the counter (the working directory is searched too), nothing is found.
    await Deno.remove(join(runDir, "components"), { recursive: true });
    const cwd = Deno.cwd();
    Deno.chdir(dir);
    try {
      await assert.rejects(
        replayChain(chain, { search: [dir] }),
        (e) =>
          e instanceof ReplayError && e.reason === "component" &&
          /component [0-9a-f]{64} not found/.test(e.message),
      );
    } finally {
      Deno.chdir(cwd);
    }
  });
});

Deno.test("replay runs calls ahead in batches across a resume, to the same head", async () => {
  await withTempDir(async (dir) => {
    // Two runs on one chain: the second resumes it.
    await recordCounter(dir);
    const chain = await recordCounter(dir);
    const batches: number[] = [];
    const pool = new WorkerPool({ size: 1 });
    const callMany = pool.callMany.bind(pool);
    pool.callMany = (actor, calls) => {
      batches.push(calls.length);
      return callMany(actor, calls);
    };
    try {
      const report = await replayChain(chain, {
        search: [COUNTER],
        executor: pool,
      });
      assert.equal(report.ok, true, report.divergence?.detail);
      // One init and 12 messages in one round trip.
      assert.deepEqual(batches, [13]);
    } finally {
      pool.close();
    }
  });
});

Deno.test("replay proves each line by writing it again: an altered record is refused as such", async () => {
  await withTempDir(async (dir) => {
    const chain = await recordCounter(dir);
    const lines = (await Deno.readTextFile(chain)).trimEnd().split("\n");
    const events = lines.map((l) => JSON.parse(l) as ChainEvent);
    /** Events sealed again from `from` on, each to the one before. */
    const reseal = (list: ChainEvent[], from: number): string[] => {
      const out = list.slice(0, from).map((e) => eventLine(e));
      let parent = from > 0 ? list[from - 1].hash : null;
      for (const { hash: _, ...e } of list.slice(from)) {
        const sealed = sealEvent({ ...e, parent });
        out.push(eventLine(sealed));
        parent = sealed.hash;
      }
      return out;
    };
    const at = events.findIndex((e) => e.type === "message.in");
    const altered = structuredClone(events);
    altered[at].data.msg = "get";
    const refused: [string, string[], RegExp][] = [
      ["hash recomputed, next link not", [
        ...lines.slice(0, at),
        eventLine(sealEvent({ ...altered[at], hash: undefined } as never)),
        ...lines.slice(at + 1),
      ], /broken|parent/],
      ["a line not in canonical form", [
        ...lines.slice(0, at),
        lines[at].replace('"data":', '"data": '),
        ...lines.slice(at + 1),
      ], /canonical/],
      ["the first line removed", lines.slice(1), /seq|start|parent/],
      ["a line removed", [...lines.slice(0, at), ...lines.slice(at + 1)], /.+/],
    ];
    for (const [what, text, why] of refused) {
      await Deno.writeTextFile(chain, text.join("\n") + "\n");
      await assert.rejects(
        replayChain(chain, { search: [COUNTER] }),
        (e) =>
          e instanceof ReplayError && e.reason === "not-intact" &&
          why.test(e.message),
        what,
      );
    }
    // A torn last line, and a record altered whose component is gone too:
    // still refused as not intact, first.
    await Deno.writeTextFile(chain, lines.join("\n"));
    await assert.rejects(
      replayChain(chain, { search: [COUNTER] }),
      (e) => e instanceof ReplayError && /truncated/.test(e.message),
    );
    await Deno.writeTextFile(chain, lines.slice(1).join("\n") + "\n");
    await assert.rejects(
      replayChain(chain, { component: join(dir, "no-such.wasm") }),
      (e) => e instanceof ReplayError && e.reason === "not-intact",
    );
    // Sealed again from the altered event on, the record verifies: what
    // replay then finds is a divergence, at that event's step.
    await Deno.writeTextFile(chain, reseal(altered, at).join("\n") + "\n");
    assert.equal((await verifyChain(chain)).ok, true);
    const report = await replayChain(chain, { search: [COUNTER] });
    assert.equal(report.ok, false);
    assert.ok(report.divergence!.seq > at, JSON.stringify(report.divergence));
  });
});
